package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code demo --quick}, end to end on the bundled data: killed by SIGKILL in the middle of its dReLU training, run
 * again to the end without redoing the stages that were complete; the report's numbers against the files of the
 * stages; a third run that finds everything complete; a changed output that makes its stage and the later ones run
 * again.
 */
class DemoCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    private static String configs() {
        return CliRun.root().resolve("configs").toString();
    }

    @Test
    void quickDemoKilledMidwayCompletesWithoutRedoingFinishedStages() throws Exception {
        Path out = dir.resolve("demo");
        String[] args = {"demo", "--quick", "--out", out.toString(), "--configs", configs()};

        // 1. a child JVM runs the demo; SIGKILL once its dReLU training is past its first checkpoint (step 10)
        List<String> cmd = CliRun.childJvm();
        cmd.addAll(List.of(args));
        Path log = dir.resolve("child.log");
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(400);
        while (child.isAlive() && System.nanoTime() < deadline && steps(out.resolve("drelu")).size() < 12) {
            Thread.sleep(20);
        }
        assertTrue(child.isAlive(), "the demo ended before its dReLU training reached step 12:\n" + Files.readString(log));
        child.destroyForcibly();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
        Map<String, byte[]> markers = markers(out);
        assertEquals(List.of("prepare.json", "pretrain.json"), List.copyOf(markers.keySet()),
                "the stages complete when it was killed");
        List<JsonNode> before = steps(out.resolve("drelu"));

        // 2. run again: the complete stages are verified and skipped, training resumes, the rest runs
        CliRun second = CliRun.of(args);
        assertEquals(0, second.exit(), second.err());
        assertTrue(second.err().contains("[1/10] prepare the bundled web/code/math sample: complete and verified,"
                + " skipped"), second.err());
        assertTrue(second.err().contains("[2/10] pretrain a small SwiGLU Mistral from random weights: complete and"
                + " verified, skipped"), second.err());
        assertTrue(second.err().contains("[3/10] continue it with dReLU in place of SwiGLU: continuing what an"
                + " interrupted run left"), second.err());
        assertTrue(second.err().contains("resumed from"), second.err());
        Map<String, byte[]> after = markers(out);
        for (var m : markers.entrySet()) {
            assertArrayEquals(m.getValue(), after.get(m.getKey()), "stage marker " + m.getKey() + " was not rewritten");
        }
        assertEquals(10, after.size(), after.keySet().toString());
        List<JsonNode> steps = steps(out.resolve("drelu"));
        for (int i = 0; i < steps.size(); i++) {
            assertEquals(i, steps.get(i).get("step").asInt(), "each step once: " + steps);
        }
        assertEquals(21, steps.size());
        for (int i = 0; i <= 10; i++) {
            assertEquals(before.get(i), steps.get(i), "step " + i + " (before the checkpoint it resumed from) kept");
        }
        assertTrue(second.out().contains("demo (quick) finished in"), second.out());
        assertTrue(second.out().contains("(2 of 10 stages were complete)"), second.out());
        assertTrue(second.out().contains("report: " + out.toAbsolutePath().resolve("report.html")), second.out());

        // 3. the report's numbers are the stages' own
        JsonNode report = JSON.readTree(out.resolve("report.json").toFile());
        JsonNode swigluProfile = JSON.readTree(out.resolve("profile/swiglu.sparsity.json").toFile());
        JsonNode dreluProfile = JSON.readTree(out.resolve("profile/drelu.sparsity.json").toFile());
        assertEquals(dreluProfile.get("zero_fraction"), report.at("/zero_fraction/dReLU/all"));
        assertEquals(swigluProfile.get("zero_fraction"), report.at("/zero_fraction/SwiGLU base/all"));
        double zerosDrelu = mean(dreluProfile.get("zero_fraction"));
        double zerosBase = mean(swigluProfile.get("zero_fraction"));
        assertTrue(zerosBase < 0.01, "SwiGLU makes hardly any exact zeros: " + zerosBase);
        assertTrue(zerosDrelu > 0.6, "dReLU makes most of them zero: " + zerosDrelu);
        JsonNode checks = report.get("checks");
        assertEquals(List.of("sparsity", "loss", "exact_faster", "predicted_faster"),
                checks.findValuesAsText("id"));
        assertTrue(checks.get(0).get("met").asBoolean(), checks.toString());
        JsonNode evalDrelu = JSON.readTree(out.resolve("eval/drelu.results.json").toFile());
        JsonNode evalBase = JSON.readTree(out.resolve("eval/swiglu.results.json").toFile());
        double lossDrelu = DemoReport.meanLoss(evalDrelu);
        double lossBase = DemoReport.meanLoss(evalBase);
        assertEquals(lossDrelu - lossBase <= DemoReport.LOSS_MARGIN, checks.get(1).get("met").asBoolean());
        assertTrue(checks.get(1).get("measured").asText().startsWith(String.format(java.util.Locale.ROOT,
                "%.4f vs %.4f nats", lossDrelu, lossBase)), checks.get(1).toString());
        for (String domain : List.of("web", "code", "math")) {
            JsonNode row = row(report, "held-out loss, " + domain);
            assertEquals(evalDrelu.at("/perplexity/" + domain + "/loss").asDouble(), row.at("/values/dReLU").asDouble());
            assertEquals(evalBase.at("/perplexity/" + domain + "/loss").asDouble(),
                    row.at("/values/SwiGLU base").asDouble());
        }
        JsonNode bench = JSON.readTree(out.resolve("bench/drelu.json").toFile());
        JsonNode modes = report.at("/decoding/modes");
        assertEquals(4, modes.size());
        for (int i = 0; i < 3; i++) {
            JsonNode m = modes.get(i + 1);
            assertEquals(DemoReport.MODES.get(i), m.get("mode").asText());
            assertEquals(bench.at("/modes/" + i + "/tokens_per_s").asDouble(), m.get("tokens_per_s").asDouble());
        }
        for (int i = 1; i <= 2; i++) {
            double speedup = bench.at("/modes/" + i + "/speedup_over_dense").asDouble();
            assertEquals(speedup, modes.get(i + 1).get("speedup_over_dense").asDouble());
            assertEquals(speedup > 1, checks.get(i + 1).get("met").asBoolean(), checks.get(i + 1).toString());
        }
        // exact decoding computes dense's logits, so the same seed draws the same text
        assertEquals(report.at("/decoding/continuations/dense"), report.at("/decoding/continuations/exact"));
        assertTrue(report.at("/decoding/continuations/dense").asText().startsWith(DemoCommand.PROMPT));
        assertEquals("Song et al. (2024), Turbo Sparse: Achieving LLM SOTA Performance with Minimal Activated"
                + " Parameters, arXiv:2406.05955", report.at("/paper/source").asText());
        assertEquals(9, report.get("stages").size());
        assertTrue(report.get("stages").get(0).get("complete_before").asBoolean());
        assertFalse(report.get("stages").get(2).get("complete_before").asBoolean());

        // the page is well-formed, and has the demo's sections beside the report's own
        String html = Files.readString(out.resolve("report.html"), StandardCharsets.UTF_8);
        DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(out.resolve("report.html").toFile());
        for (String id : List.of("checks", "summary", "decoding", "sparsity", "activated", "frequencies", "training",
                "threshold", "paper", "stages")) {
            assertTrue(html.contains("<h2 id=\"" + id + "\">"), id);
        }
        assertTrue(html.contains("The paper's figures, for context"));

        // 4. a third run finds every stage complete and writes nothing
        byte[] page = Files.readAllBytes(out.resolve("report.html"));
        CliRun third = CliRun.of(args);
        assertEquals(0, third.exit(), third.err());
        assertTrue(third.out().contains("(10 of 10 stages were complete)"), third.out());
        assertArrayEquals(page, Files.readAllBytes(out.resolve("report.html")));

        // 5. an output changed after its stage finished: that stage and the later ones run again, no earlier one
        Path benchFile = out.resolve("bench/drelu.json");
        Files.writeString(benchFile, Files.readString(benchFile).replace("\"threads\"", "\"threads\" "));
        CliRun fourth = CliRun.of(args);
        assertEquals(0, fourth.exit(), fourth.err());
        assertTrue(fourth.err().contains("[9/10] benchmark decoding: dense, exact and predicted against the base:"
                + " its outputs changed since it finished; running it again"), fourth.err());
        assertTrue(fourth.err().contains("[8/10] decode a prompt with the runtime in dense, exact and predicted"
                + " modes: complete and verified, skipped"), fourth.err());
        assertTrue(fourth.out().contains("(8 of 10 stages were complete)"), fourth.out());
    }

    @Test
    void badOutputFoldersAndConfigsAreOneLine() throws IOException {
        Path file = dir.resolve("file");
        Files.writeString(file, "x");
        CliRun r = CliRun.of("demo", "--quick", "--out", file.toString(), "--configs", configs());
        assertEquals(1, r.exit());
        assertEquals("demo: " + file + ": exists and is not a folder", r.errorLine());

        Path other = dir.resolve("other");
        Files.createDirectories(other);
        Files.writeString(other.resolve("notes.txt"), "mine");
        r = CliRun.of("demo", "--quick", "--out", other.toString(), "--configs", configs());
        assertEquals(1, r.exit());
        assertEquals("demo: " + other + ": is not empty and holds no demo; give an empty or new folder", r.errorLine());
        assertEquals("mine", Files.readString(other.resolve("notes.txt")), "nothing of the user's is touched");

        Path quick = dir.resolve("quick");
        Files.createDirectories(quick);
        Files.writeString(quick.resolve("demo.json"), "{\"plan\":\"quick\"}");
        r = CliRun.of("demo", "--out", quick.toString(), "--configs", configs());
        assertEquals(1, r.exit());
        assertEquals("demo: " + quick + ": holds a quick demo (--quick); give another --out, or remove it to start"
                + " over", r.errorLine());

        Path partial = dir.resolve("configs");
        Files.createDirectories(partial.resolve("mixtures"));
        Files.copy(Path.of(configs(), "demo-swiglu.yaml"), partial.resolve("demo-swiglu.yaml"));
        r = CliRun.of("demo", "--quick", "--out", dir.resolve("new").toString(), "--configs", partial.toString());
        assertEquals(1, r.exit());
        assertEquals("demo: " + partial.toAbsolutePath().normalize().resolve("demo-drelu.yaml")
                + ": not found (the demo's configs folder is incomplete)", r.errorLine());
        assertFalse(Files.exists(dir.resolve("new")), "nothing is written before the inputs are checked");
    }

    @Test
    void helpSaysWhatItRunsAndThatItResumes() {
        CliRun r = CliRun.of("demo", "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("--quick") && r.out().contains("--out") && r.out().contains("resumable"), r.out());
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private static List<JsonNode> steps(Path run) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        Path metrics = run.resolve("metrics.jsonl");
        if (!Files.exists(metrics)) {
            return out;
        }
        for (String line : Files.readAllLines(metrics)) {
            try {
                out.add(JSON.readTree(line));
            } catch (IOException torn) {
                break; // the line being written
            }
        }
        return out;
    }

    private static Map<String, byte[]> markers(Path out) throws IOException {
        Map<String, byte[]> m = new TreeMap<>(java.util.Comparator.comparingInt(DemoCommandTest::order));
        Path stages = out.resolve("stages");
        if (Files.isDirectory(stages)) {
            try (var s = Files.list(stages)) {
                for (Path p : s.filter(f -> f.toString().endsWith(".json")).toList()) {
                    m.put(p.getFileName().toString(), Files.readAllBytes(p));
                }
            }
        }
        return m;
    }

    private static int order(String marker) {
        return List.copyOf(DemoCommand.FULL.expectedSeconds().keySet()).indexOf(marker.replace(".json", ""));
    }

    private static JsonNode row(JsonNode report, String metric) {
        for (JsonNode r : report.get("summary")) {
            if (r.get("metric").asText().equals(metric)) {
                return r;
            }
        }
        throw new AssertionError("no summary row " + metric);
    }

    private static double mean(JsonNode layers) {
        double s = 0;
        for (JsonNode l : layers) {
            s += l.asDouble();
        }
        return s / layers.size();
    }
}

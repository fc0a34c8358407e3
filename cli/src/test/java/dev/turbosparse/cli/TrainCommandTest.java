package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train, end to end on the bundled data: the debug-drelu recipe as shipped, bad input, and SIGKILL then --resume. */
class TrainCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    static Path shared;
    static Path mixture;

    @TempDir
    Path dir;

    @BeforeAll
    static void demoMixture() throws IOException {
        // configs/mixtures/demo.yaml with its prepared data in a temporary folder
        Path root = CliRun.root();
        String yaml = Files.readString(root.resolve("configs/mixtures/demo.yaml"))
                .replace("../../models/", root.resolve("models") + "/")
                .replace("../../data-mixture/", root.resolve("data-mixture") + "/")
                .replace("../../out/demo-data", shared.resolve("demo-data").toString());
        mixture = shared.resolve("demo.yaml");
        Files.writeString(mixture, yaml);
    }

    private static String recipe() {
        return CliRun.root().resolve("configs/debug-drelu.yaml").toString();
    }

    private static List<JsonNode> metrics(Path run) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(run.resolve("metrics.jsonl"))) {
            return out;
        }
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            try {
                out.add(JSON.readTree(line));
            } catch (IOException torn) {
                break; // the line being written
            }
        }
        return out;
    }

    @Test
    void debugDreluContinuesTheTinySwigluModelWithDrelu() throws IOException {
        Path run = dir.resolve("run");
        long t0 = System.nanoTime();
        CliRun r = CliRun.of("train", recipe(), "--set", "data.mixture=" + mixture, "--set", "output=" + run);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().startsWith("trained 40 steps (81,920 tokens, 0 skipped); last training loss "), r.out());
        assertTrue(r.out().contains("final model: file:" + run + "/final"), r.out());
        List<JsonNode> lines = metrics(run);
        assertEquals(41, lines.size());
        for (JsonNode line : lines) {
            assertTrue(line.has("step") && line.get("loss").isNumber(), "the metrics contract: " + line);
        }
        double first = lines.get(1).get("loss").asDouble();
        double last = lines.getLast().get("loss").asDouble();
        assertTrue(last < first - 2, "the loss falls: " + first + " -> " + last);
        JsonNode zeros = lines.getLast().get("ffn_zero_fraction");
        assertEquals(2, zeros.size());
        for (JsonNode layer : zeros) {
            assertTrue(layer.asDouble() > 0.5 && layer.asDouble() < 1, "dReLU zeros per layer: " + zeros);
        }
        assertTrue(Files.readString(run.resolve("final/config.json")).contains("\"ffn_activation\" : \"drelu\""));
        System.err.printf("debug-drelu: %.1f s in-process (the contract: under a minute)%n", seconds);
    }

    @Test
    void helpDescribesTheRecipeSetAndResume() {
        CliRun r = CliRun.of("train", "--help");
        assertEquals(0, r.exit());
        assertTrue(r.out().contains("RECIPE") && r.out().contains("--set") && r.out().contains("--resume"), r.out());
    }

    @Test
    void aBadRecipeIsOneLineNamingTheKey() throws IOException {
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, Files.readString(Path.of(recipe())).replace("micro_batch: 4", "micro_batch: -4"));
        CliRun r = CliRun.of("train", bad.toString());
        assertEquals(1, r.exit());
        assertEquals("train: " + bad + ": key 'micro_batch': must be at least 1, got -4", r.errorLine());
        CliRun set = CliRun.of("train", recipe(), "--set", "optimizer.lr=fast");
        assertEquals(1, set.exit());
        assertTrue(set.errorLine().contains("key 'optimizer.lr'"), set.errorLine());
    }

    @Test
    void runsKilledBySigkillOrStoppedBySigtermResumeToTheSameLossesAndWeights() throws Exception {
        // one sequence a micro-step (two micro-steps a step): a quarter of the recipe's tokens, the same resume paths
        String[] settings = {"--set", "data.mixture=" + mixture, "--set", "micro_batch=1", "--set", "steps=12",
            "--set", "checkpoint.every=3", "--set", "eval.every=6", "--set", "schedule.warmup_steps=2"};
        Path reference = dir.resolve("reference");
        CliRun whole = CliRun.of(concat(new String[] {"train", recipe(), "--set", "output=" + reference}, settings));
        assertEquals(0, whole.exit(), whole.err());

        // SIGKILL at a random step: nothing runs after it; the run resumes from its last committed checkpoint
        long seed = System.nanoTime();
        int killAt = 4 + new Random(seed).nextInt(7); // after step 4..10, always past the first checkpoint (step 3)
        Path killed = dir.resolve("killed");
        Process child = startAndWait(killed, settings, killAt);
        child.destroyForcibly(); // SIGKILL: no shutdown hook, no flush, nothing
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(137, child.exitValue(), "killed by SIGKILL");
        String context = "killed after step " + metrics(killed).getLast().get("step").asInt() + " (seed " + seed + ")";
        resumeAndCompare(killed, reference, settings, context);

        // SIGTERM (a time limit, a preemption): the step under way ends and is checkpointed before the JVM exits
        Path stopped = dir.resolve("stopped");
        String[] rare = concat(settings, new String[] {"--set", "checkpoint.every=1000"});
        child = startAndWait(stopped, rare, 2);
        child.destroy(); // SIGTERM
        assertTrue(child.waitFor(120, TimeUnit.SECONDS));
        assertEquals(143, child.exitValue(), "stopped by SIGTERM");
        int last = metrics(stopped).getLast().get("step").asInt();
        assertTrue(Files.exists(stopped.resolve("checkpoints/step-%06d/COMMITTED".formatted(last))),
                "the step under way was checkpointed: step " + last + "\n" + Files.readString(dir.resolve("child.log")));
        assertTrue(Files.readString(dir.resolve("child.log")).contains("stopped by a signal after step " + last),
                Files.readString(dir.resolve("child.log")));
        resumeAndCompare(stopped, reference, rare, "stopped after step " + last);
    }

    /** Starts a training run in a child JVM and waits until its metrics show step {@code atLeast}. */
    private Process startAndWait(Path output, String[] settings, int atLeast) throws Exception {
        List<String> cmd = CliRun.childJvm();
        cmd.addAll(List.of(concat(new String[] {"train", recipe(), "--set", "output=" + output}, settings)));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (child.isAlive() && System.nanoTime() < deadline) {
            List<JsonNode> lines = metrics(output);
            if (!lines.isEmpty() && lines.getLast().get("step").asInt() >= atLeast) {
                break;
            }
            Thread.sleep(20);
        }
        assertTrue(child.isAlive(), "the child ended before step " + atLeast + ":\n"
                + Files.readString(dir.resolve("child.log")));
        return child;
    }

    /** Resumes a run in-process and checks every step's loss, the held-out losses and the final weights. */
    private static void resumeAndCompare(Path run, Path reference, String[] settings, String context) throws IOException {
        CliRun resumed = CliRun.of(concat(new String[] {"train", recipe(), "--set", "output=" + run, "--resume"},
                settings));
        assertEquals(0, resumed.exit(), resumed.err());
        assertTrue(resumed.err().contains("resumed from"), resumed.err());
        List<JsonNode> a = metrics(reference);
        List<JsonNode> b = metrics(run);
        assertEquals(a.size(), b.size(), context);
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).get("step"), b.get(i).get("step"), context);
            assertEquals(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(), 0.0,
                    "step " + i + " bit for bit, " + context);
            assertEquals(a.get(i).get("heldout_loss"), b.get(i).get("heldout_loss"), context);
        }
        assertArrayEquals(Files.readAllBytes(reference.resolve("final/model.safetensors")),
                Files.readAllBytes(run.resolve("final/model.safetensors")), "final weights, " + context);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = new String[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

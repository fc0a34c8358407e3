package dev.turbosparse.cli;

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
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code eval} on every task's bundled sample and held-out data, and {@code export} in every format. */
class EvalExportCommandTest {

    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;

    static Path tasks(String name) {
        return CliRun.root().resolve("testdata/tasks").resolve(name);
    }

    @Test
    void evalScoresEveryTaskAndThePerplexityOfEachDomain() throws IOException {
        Path data = dir.resolve("data");
        assertEquals(0, CliRun.of("prepare", "--input", "math=" + CliRun.root().resolve("data-mixture/corpora/sample/math"),
                "--tokenizer", CliRun.tinyModel().toString(), "--seq-len", "64", "--heldout", "0.05", "--out",
                data.toString()).exit());
        Path out = dir.resolve("results.json");
        List<String> args = new ArrayList<>(List.of("eval", "--model", CliRun.tinyModel().toString(), "--shots", "2",
                "--data", data.toString(), "--max-tokens", "512", "--out", out.toString()));
        for (String[] t : new String[][] {{"arc_challenge", "arc/ARC-Challenge"}, {"arc_easy", "arc/ARC-Easy"},
            {"hellaswag", "hellaswag"}, {"mmlu", "mmlu"}, {"truthfulqa_mc1", "truthfulqa"}, {"truthfulqa_mc2", "truthfulqa"},
            {"winogrande", "winogrande"}, {"gsm8k", "gsm8k"}, {"piqa", "piqa"}, {"sciq", "sciq"},
            {"openbookqa", "openbookqa"}}) {
            args.add("--task");
            args.add(t[0] + "=" + tasks(t[1]));
        }
        CliRun r = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.err());
        JsonNode results = JSON.readTree(out.toFile());
        JsonNode arc = results.get("results").get("arc_challenge");
        double acc = arc.get("acc,none").asDouble();
        assertTrue(acc == 0 || Math.abs(acc - 1.0 / 3) < 1e-12 || Math.abs(acc - 2.0 / 3) < 1e-12 || acc == 1, "3 examples");
        assertTrue(arc.has("acc_norm,none") && arc.has("acc_stderr,none") && arc.has("acc_norm_stderr,none"));
        assertEquals(3, results.get("n-samples").get("arc_challenge").get("effective").asInt());
        assertEquals(2, results.get("n-shot").get("arc_challenge").asInt());
        // MMLU: a group over its subjects, weighted by size
        JsonNode mmlu = results.get("results").get("mmlu");
        double a = results.get("results").get("mmlu_astronomy").get("acc,none").asDouble();
        double b = results.get("results").get("mmlu_high_school_biology").get("acc,none").asDouble();
        assertEquals((a + b) / 2, mmlu.get("acc,none").asDouble(), 1e-12);
        assertEquals(2, results.get("group_subtasks").get("mmlu").size());
        assertFalse(results.get("results").get("winogrande").has("acc_norm,none"), "lm-eval reports acc only");
        JsonNode mc2 = results.get("results").get("truthfulqa_mc2").get("acc,none");
        assertTrue(mc2.asDouble() > 0 && mc2.asDouble() < 1, "mc2 is a probability mass: " + mc2);
        assertTrue(results.get("results").get("gsm8k").has("exact_match,strict-match"));
        assertTrue(results.get("results").get("gsm8k").has("exact_match,flexible-extract"));
        JsonNode ppl = results.get("perplexity").get("math");
        assertEquals(Math.exp(ppl.get("loss").asDouble()), ppl.get("perplexity").asDouble(), 1e-9);
        assertEquals(1234, results.get("config").get("fewshot_seed").asInt());
        assertTrue(r.out().contains("arc_challenge") && r.out().contains("held-out math"), r.out());
    }

    @Test
    void evalRefusesBadInputBeforeLoadingTheModel() throws IOException {
        Path out = dir.resolve("results.json");
        // a task file with a malformed line
        Path arc = dir.resolve("ARC-Challenge");
        Files.createDirectories(arc);
        Files.writeString(arc.resolve("ARC-Challenge-Test.jsonl"), Files.readString(
                tasks("arc/ARC-Challenge/ARC-Challenge-Test.jsonl")) + "{\"id\": broken\n");
        CliRun bad = CliRun.of("eval", "--model", CliRun.tinyModel().toString(), "--shots", "0", "--task",
                "arc_challenge=" + arc, "--out", out.toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.errorLine().contains("ARC-Challenge-Test.jsonl:4: not a JSON object"), bad.errorLine());
        // a model whose vocabulary the tokenizer does not fit (the parity fixture has 512 tokens)
        CliRun mismatch = CliRun.of("eval", "--model", CliRun.parity("mistral").toString(), "--tokenizer",
                CliRun.tinyModel().toString(), "--task", "piqa=" + tasks("piqa"), "--out", out.toString());
        assertEquals(1, mismatch.exit());
        assertTrue(mismatch.errorLine().contains("the tokenizer has 32000 tokens") && mismatch.errorLine().contains(
                "vocab_size 512"), mismatch.errorLine());
        // an empty held-out set
        Path noHeldout = dir.resolve("no-heldout");
        assertEquals(0, CliRun.of("prepare", "--input", "math=" + CliRun.root().resolve(
                "data-mixture/corpora/sample/math"), "--tokenizer", CliRun.tinyModel().toString(), "--seq-len", "64",
                "--heldout", "0", "--out", noHeldout.toString()).exit());
        CliRun empty = CliRun.of("eval", "--model", CliRun.tinyModel().toString(), "--data", noHeldout.toString(),
                "--out", out.toString());
        assertEquals(1, empty.exit());
        assertTrue(empty.errorLine().contains("has no held-out"), empty.errorLine());
        // an unknown task
        CliRun unknown = CliRun.of("eval", "--model", CliRun.tinyModel().toString(), "--task", "lambada=" + dir,
                "--out", out.toString());
        assertEquals(1, unknown.exit());
        assertTrue(unknown.errorLine().contains("unknown task 'lambada'"), unknown.errorLine());
        assertFalse(Files.exists(out), "nothing written on failure");
    }

    static String logitsOf(Path model, String tokens) {
        CliRun r = CliRun.of("logits", "--model", model.toString(), "--tokens", tokens, "--format", "json");
        assertEquals(0, r.exit(), r.err());
        return r.out();
    }

    @Test
    void exportedGgufAndHfGiveTheModelsLogits() throws IOException {
        Path gguf = dir.resolve("mixtral.gguf");
        CliRun r = CliRun.of("export", "--model", CliRun.parity("mixtral").toString(), "--format", "gguf", "--dtype",
                "f32", "--out", gguf.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode want = JSON.readTree(logitsOf(CliRun.parity("mixtral"), "1,17,300,42,5"));
        JsonNode got = JSON.readTree(logitsOf(gguf, "1,17,300,42,5"));
        double max = maxDiff(want, got);
        assertTrue(max < 1e-5, "max |logit difference| " + max);
        // exists: refused without --force
        CliRun again = CliRun.of("export", "--model", CliRun.parity("mixtral").toString(), "--format", "gguf", "--out",
                gguf.toString());
        assertEquals(1, again.exit());
        assertTrue(again.errorLine().contains("give --force"), again.errorLine());
        // a dReLU model is not written as llama.cpp's SwiGLU architecture
        CliRun drelu = CliRun.of("export", "--model", CliRun.tinyModel().toString(), "--format", "gguf", "--out",
                dir.resolve("drelu.gguf").toString());
        assertEquals(1, drelu.exit());
        assertTrue(drelu.errorLine().contains("would silently misread"), drelu.errorLine());
        assertFalse(Files.exists(dir.resolve("drelu.gguf")));
        // HF export with hot-first order from a real frequency profile: same logits, bf16 as the source
        Path freq = dir.resolve("freq.safetensors");
        assertEquals(0, CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--tokens",
                "1,415,2936,9060,285,1142,28705,28740", "--frequencies", freq.toString()).exit());
        Path hf = dir.resolve("hot-first");
        r = CliRun.of("export", "--model", CliRun.tinyModel().toString(), "--format", "hf", "--reorder", freq.toString(),
                "--out", hf.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(Files.exists(hf.resolve("tokenizer.json")) && Files.exists(hf.resolve("config.json")));
        want = JSON.readTree(logitsOf(CliRun.tinyModel(), "1,415,2936,9060"));
        got = JSON.readTree(logitsOf(hf, "1,415,2936,9060"));
        max = maxDiff(want, got);
        assertTrue(max < 1e-5, "max |logit difference| after reordering " + max);
        // the sparse GGUF of the dReLU model, hot-first: PowerInfer's mark, and the model's logits through `logits`
        Path sparse = dir.resolve("tiny.sparse.gguf");
        r = CliRun.of("export", "--model", CliRun.tinyModel().toString(), "--format", "gguf", "--sparse", "--reorder",
                freq.toString(), "--out", sparse.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("sparse gguf, BF16, neurons hot-first"), r.out());
        assertEquals("PWRI", new String(Arrays.copyOf(Files.readAllBytes(sparse), 4), StandardCharsets.US_ASCII));
        max = maxDiff(want, JSON.readTree(logitsOf(sparse, "1,415,2936,9060")));
        assertTrue(max < 1e-5, "max |logit difference| of the sparse GGUF " + max);
        // --sparse on a SwiGLU model is refused: it has no zeros to skip
        CliRun swiglu = CliRun.of("export", "--model", CliRun.parity("mistral").toString(), "--format", "gguf",
                "--sparse", "--out", dir.resolve("swiglu.gguf").toString());
        assertEquals(1, swiglu.exit());
        assertTrue(swiglu.errorLine().contains("no exact zeros"), swiglu.errorLine());
    }

    private static double maxDiff(JsonNode want, JsonNode got) {
        double max = 0;
        JsonNode a = want.get("logits");
        JsonNode b = got.get("logits");
        assertEquals(a.size(), b.size());
        for (int p = 0; p < a.size(); p++) {
            assertEquals(a.get(p).size(), b.get(p).size());
            for (int v = 0; v < a.get(p).size(); v++) {
                max = Math.max(max, Math.abs(a.get(p).get(v).asDouble() - b.get(p).get(v).asDouble()));
            }
        }
        return max;
    }
}

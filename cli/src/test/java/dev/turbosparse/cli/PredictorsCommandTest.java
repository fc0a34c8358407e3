package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * predictors on the bundled dReLU model and the bundled math sample: recall as asked on held-out tokens, the
 * runtime's predicted mode measured against dense, and the predictors carried into the sparse GGUF.
 */
class PredictorsCommandTest {

    @TempDir
    static Path shared;
    static Path data;

    @TempDir
    Path dir;

    @BeforeAll
    static void prepare() {
        data = shared.resolve("data");
        CliRun r = CliRun.of("prepare", "--input", "math=" + CliRun.root().resolve("data-mixture/corpora/sample/math"),
                "--tokenizer", CliRun.tinyModel().toString(), "--seq-len", "64", "--heldout", "0.05", "--out",
                data.toString());
        assertEquals(0, r.exit(), r.err());
    }

    @Test
    void predictorsKeepTheirRecallAndTravelToTheSparseGguf() throws IOException {
        Path out = dir.resolve("with-predictors");
        CliRun r = CliRun.of("predictors", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--rank", "16", "--tokens", "4096", "--heldout-tokens", "1024", "--epochs", "2", "--recall", "0.95",
                "--eval-tokens", "256", "--threads", "2", "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode report = JsonMapper.builder().build().readTree(out.resolve("predictors.json").toFile());
        assertEquals(2, report.get("ffns").size());
        for (JsonNode f : report.get("ffns")) {
            assertTrue(f.get("recall").asDouble() >= 0.95, "the threshold keeps the recall asked for: " + f);
            assertTrue(f.get("predicted_share").asDouble() < 1, "some neurons are skipped: " + f);
        }
        JsonNode ppl = report.get("perplexity");
        assertEquals(1.0, ppl.get("dense").get("neuron_share").asDouble());
        double share = ppl.get("predicted").get("neuron_share").asDouble();
        assertTrue(share > 0 && share < 1, "predicted mode computes a share of the neurons: " + share);
        assertTrue(Math.abs(ppl.get("loss_change").asDouble()) < 0.5, ppl.toString());
        assertTrue(r.out().contains("held-out: dense loss"), r.out());
        JsonNode config = JsonMapper.builder().build().readTree(out.resolve("config.json").toFile());
        assertEquals(-1.0, config.get("sparse_threshold").asDouble());

        // the sparse GGUF carries them with the checkpoint's threshold, and the runtime runs it in predicted mode
        Path gguf = dir.resolve("tiny.sparse.gguf");
        r = CliRun.of("export", "--model", out.toString(), "--format", "gguf", "--sparse", "--dtype", "f16", "--out",
                gguf.toString());
        assertEquals(0, r.exit(), r.err());
        try (GgufFile g = GgufFile.open(gguf)) {
            assertEquals(-1.0, g.getDouble(LlamaGguf.SPARSE_THRESHOLD, 0));
            assertTrue(g.tensors().containsKey("blk.1.fc2.weight"));
        }
        r = CliRun.of("logits", "--model", gguf.toString(), "--tokens", "1,415,2936,9060", "--engine", "runtime",
                "--mode", "predicted", "--format", "json");
        assertEquals(0, r.exit(), r.err());
    }

    @Test
    void mixtralGetsAPredictorPerExpertThatTheRuntimeRunsAfterRouting() throws IOException {
        // a random tiny Mixtral with dReLU experts and the bundled tokenizer
        Path model = dir.resolve("mixtral");
        CliRun r = CliRun.of("init", "--config", CliRun.root().resolve("configs/models/tiny-mixtral-drelu.json").toString(),
                "--tokenizer", CliRun.tinyModel().toString(), "--dtype", "f32", "--seed", "3", "--out", model.toString());
        assertEquals(0, r.exit(), r.err());
        Path out = dir.resolve("mixtral-with-predictors");
        r = CliRun.of("predictors", "--model", model.toString(), "--data", data.toString(), "--rank", "8", "--tokens",
                "2048", "--heldout-tokens", "512", "--epochs", "2", "--recall", "0.9", "--eval-tokens", "128",
                "--threads", "2", "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        JsonNode report = JsonMapper.builder().build().readTree(out.resolve("predictors.json").toFile());
        assertEquals(2 * 4, report.get("ffns").size(), "one per layer and expert");
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (JsonNode f : report.get("ffns")) {
            seen.add(f.get("layer").asInt() + "/" + f.get("expert").asInt());
            assertTrue(f.get("recall").asDouble() >= 0.9, "the threshold keeps the recall asked for: " + f);
        }
        assertEquals(8, seen.size(), seen.toString());
        double share = report.get("perplexity").get("predicted").get("neuron_share").asDouble();
        assertTrue(share > 0 && share < 1, "predicted mode computes a share of the routed experts' neurons: " + share);

        // the sparse GGUF stacks them per expert, and the runtime decodes it in predicted mode
        Path gguf = dir.resolve("mixtral.sparse.gguf");
        r = CliRun.of("export", "--model", out.toString(), "--format", "gguf", "--sparse", "--dtype", "f16", "--out",
                gguf.toString());
        assertEquals(0, r.exit(), r.err());
        try (GgufFile g = GgufFile.open(gguf)) {
            assertTrue(g.tensors().containsKey("blk.1.fc1_exps.weight"), g.tensors().keySet().toString());
            assertTrue(g.tensors().containsKey("blk.1.fc2_exps.weight"));
        }
        CliRun dense = CliRun.of("logits", "--model", gguf.toString(), "--tokens", "1,415,2936,9060", "--engine",
                "runtime", "--mode", "dense", "--format", "json");
        CliRun predicted = CliRun.of("logits", "--model", gguf.toString(), "--tokens", "1,415,2936,9060", "--engine",
                "runtime", "--mode", "predicted", "--format", "json");
        assertEquals(0, dense.exit(), dense.err());
        assertEquals(0, predicted.exit(), predicted.err());
        JsonNode a = JsonMapper.builder().build().readTree(dense.out()).get("logits");
        JsonNode b = JsonMapper.builder().build().readTree(predicted.out()).get("logits");
        double max = 0;
        for (int t = 0; t < a.size(); t++) {
            for (int v = 0; v < a.get(t).size(); v++) {
                max = Math.max(max, Math.abs(a.get(t).get(v).asDouble() - b.get(t).get(v).asDouble()));
            }
        }
        assertTrue(max > 0 && max < 1, "predicted is close to dense but skips neurons: " + max);
    }

    @Test
    void badInputIsOneLine() throws IOException {
        CliRun r = CliRun.of("predictors", "--model", CliRun.root().resolve("models/tiny-mistral-swiglu").toString(),
                "--data", data.toString(), "--out", dir.resolve("x").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains("SwiGLU, which has no exact zeros to predict"), r.errorLine());
        r = CliRun.of("predictors", "--model", CliRun.tinyModel().toString(), "--data", data.toString(), "--recall",
                "1.5", "--out", dir.resolve("x").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains("recall must be in (0, 1), got 1.5"), r.errorLine());
        r = CliRun.of("predictors", "--model", CliRun.tinyModel().toString(), "--data", dir.resolve("nothing").toString(),
                "--out", dir.resolve("x").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains("not found"), r.errorLine());
        assertFalse(Files.exists(dir.resolve("x")), "nothing is left behind");
        // --out the model itself, even with --force, is refused before anything is written
        Path copy = Files.createDirectories(dir.resolve("model"));
        try (var files = Files.list(CliRun.tinyModel())) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        r = CliRun.of("predictors", "--model", copy.toString(), "--data", data.toString(), "--out", copy.toString(),
                "--force");
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().contains("--out is the model itself"), r.errorLine());
        assertTrue(Files.exists(copy.resolve("model.safetensors")));
    }
}

package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sparsity: the contract form on the parity models, held-out data per source, frequencies, bad input. */
class SparsityCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    static Path shared;
    static Path data;

    @TempDir
    Path dir;

    @BeforeAll
    static void prepareTwoSources() {
        // the bundled math and code samples, 64-token sequences, 5% held out
        Path root = CliRun.root();
        data = shared.resolve("data");
        for (String source : new String[] {"math", "code"}) {
            CliRun r = CliRun.of("prepare", "--input", source + "=" + root.resolve("data-mixture/corpora/sample/"
                    + source), "--tokenizer", CliRun.tinyModel().toString(), "--seq-len", "64", "--heldout", "0.05",
                    "--out", data.toString());
            assertEquals(0, r.exit(), r.err());
        }
    }

    private static JsonNode json(CliRun r) throws IOException {
        assertEquals(0, r.exit(), r.err());
        return JSON.readTree(r.out());
    }

    private static String ids(JsonNode row) {
        return StreamSupport.stream(row.spliterator(), false).map(JsonNode::asText).collect(Collectors.joining(","));
    }

    @Test
    void theContractFormMatchesTheReferenceOfTheDenseDreluFixture() throws IOException {
        Path model = CliRun.parity("mistral-drelu");
        JsonNode ref = JSON.readTree(Files.readAllBytes(model.resolve("reference.json")));
        // the reference counts zeros over two sequences of 20 tokens; the two runs' fractions average to it
        JsonNode a = json(CliRun.of("sparsity", "--model", model.toString(), "--tokens",
                ids(ref.get("input_ids").get(0)), "--format", "json"));
        JsonNode b = json(CliRun.of("sparsity", "--model", model.toString(), "--tokens",
                ids(ref.get("input_ids").get(1)), "--format", "json"));
        assertEquals(20, a.get("tokens").asLong());
        assertEquals("drelu", a.get("ffn_activation").asText());
        for (int l = 0; l < 2; l++) {
            double mean = (a.get("zero_fraction").get(l).asDouble() + b.get("zero_fraction").get(l).asDouble()) / 2;
            assertEquals(ref.get("ffn_zero_fraction").get(l).asDouble(), mean, 1.5e-6, "layer " + l);
        }
        JsonNode p = a.get("activated_parameters");
        assertEquals(p.get("embeddings").asLong() + p.get("attention").asLong() + p.get("norms").asLong()
                + p.get("ffn_active").asLong(), p.get("per_token").asLong(), 1);
        assertTrue(p.get("fraction").asDouble() < 1);
    }

    @Test
    void aMixtureOfExpertsGivesAListPerExpert() throws IOException {
        Path model = CliRun.parity("mixtral-drelu");
        JsonNode ref = JSON.readTree(Files.readAllBytes(model.resolve("reference.json")));
        JsonNode r = json(CliRun.of("sparsity", "--model", model.toString(), "--tokens",
                ids(ref.get("input_ids").get(0)), "--format", "json"));
        JsonNode zf = r.get("zero_fraction");
        assertEquals(2, zf.size());
        long routed = 0;
        for (int l = 0; l < 2; l++) {
            assertEquals(4, zf.get(l).size(), "a list per expert: " + zf);
            for (int e = 0; e < 4; e++) {
                JsonNode v = zf.get(l).get(e);
                assertTrue(v.isNull() || v.asDouble() > 0.5 && v.asDouble() < 1, "dReLU zeros: " + zf);
                routed += r.get("expert_tokens").get(l).get(e).asLong();
            }
        }
        assertEquals(2 * 2 * 20, routed, "two experts per token, two layers");
    }

    @Test
    void heldOutDataPerSourceWithFrequencies() throws IOException {
        Path freq = dir.resolve("profile/frequencies.safetensors"); // its folder is made
        JsonNode r = json(CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--max-tokens", "300", "--frequencies", freq.toString(), "--format", "json"));
        JsonNode domains = r.get("domains");
        assertEquals("[\"code\",\"math\"]", JSON.writeValueAsString(domains.properties().stream()
                .map(java.util.Map.Entry::getKey).toList()), "every prepared source, by name");
        for (JsonNode d : domains) {
            assertEquals(320, d.get("tokens").asLong(), "300 tokens round up to 5 sequences of 64");
            assertEquals(2, d.get("zero_fraction").size());
        }
        assertEquals(640, r.get("tokens").asLong());
        for (int l = 0; l < 2; l++) {
            double mean = (domains.get("code").get("zero_fraction").get(l).asDouble()
                    + domains.get("math").get("zero_fraction").get(l).asDouble()) / 2;
            assertEquals(mean, r.get("zero_fraction").get(l).asDouble(), 1.5e-6, "all = the two equal halves");
        }
        try (SafetensorsFile f = SafetensorsFile.open(freq)) {
            float[] layer1 = f.readFloats("model.layers.1.mlp.activation_frequency");
            double mean = 0;
            for (float v : layer1) {
                assertTrue(v >= 0 && v <= 1);
                mean += v / layer1.length;
            }
            assertEquals(1 - r.get("zero_fraction").get(1).asDouble(), mean, 1e-5);
        }
        // the text form: a row per layer with a column per source
        CliRun text = CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--sources", "math", "--max-tokens", "64");
        assertEquals(0, text.exit(), text.err());
        assertTrue(text.out().contains("layer       math       all"), text.out());
        assertTrue(text.out().contains("activated parameters per token:"), text.out());
    }

    @Test
    void theThresholdCurveReachesItsTargetsOnRowsItWasNotCalibratedOn() throws IOException {
        JsonNode r = json(CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--max-tokens", "640", "--curve", "0.9,0.8", "--format", "json"));
        JsonNode curve = r.get("threshold_curve");
        assertEquals(3, curve.size(), "the model as it is, then the targets in order: " + curve);
        assertTrue(curve.get(0).get("target").isNull());
        assertEquals(0.8, curve.get(1).get("target").asDouble());
        assertEquals(0.9, curve.get(2).get("target").asDouble());
        double before = curve.get(0).get("mean_zero_fraction").asDouble();
        assertTrue(before > 0.4 && before < 0.8, "the dReLU model's own zeros: " + before);
        for (int i = 1; i < 3; i++) {
            JsonNode p = curve.get(i);
            double target = p.get("target").asDouble();
            assertEquals(target, p.get("mean_zero_fraction").asDouble(), 0.05, "reached on the other half: " + p);
            assertEquals(p.get("mean_loss").asDouble(), Math.log(p.get("perplexity").asDouble()), 1e-6);
            assertEquals(2, p.get("loss").size(), "a loss per source: " + p);
        }
        CliRun noData = CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--tokens", "1,2",
                "--curve", "0.5");
        assertEquals(1, noData.exit());
        assertTrue(noData.errorLine().contains("--curve needs held-out data"), noData.errorLine());
        CliRun oneRow = CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--max-tokens", "10", "--curve", "0.5");
        assertEquals(1, oneRow.exit());
        assertTrue(oneRow.errorLine().contains("has 1 held-out sequence(s); the threshold curve needs at least 2"),
                oneRow.errorLine());
        CliRun badTarget = CliRun.of("sparsity", "--model", CliRun.tinyModel().toString(), "--data", data.toString(),
                "--curve", "0.5,1.5");
        assertEquals(1, badTarget.exit());
        assertTrue(badTarget.errorLine().contains("between 0 and 1, got 1.5"), badTarget.errorLine());
    }

    @Test
    void badInputIsNamed() throws IOException {
        Path model = CliRun.tinyModel();
        CliRun outside = CliRun.of("sparsity", "--model", model.toString(), "--tokens", "1,32000");
        assertEquals(1, outside.exit());
        assertTrue(outside.errorLine().contains("--tokens: id 32000 at position 1 is outside the vocabulary"),
                outside.errorLine());

        CliRun both = CliRun.of("sparsity", "--model", model.toString(), "--tokens", "1", "--data", data.toString());
        assertEquals(2, both.exit(), "usage: --tokens and --data exclude each other");

        CliRun missing = CliRun.of("sparsity", "--model", model.toString(), "--data", data.toString(), "--sources",
                "poetry");
        assertEquals(1, missing.exit());
        assertTrue(missing.errorLine().contains("poetry"), missing.errorLine());

        // data prepared with another tokenizer than the model's
        Path other = dir.resolve("other-model");
        Files.createDirectories(other);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) {
                Files.copy(f, other.resolve(f.getFileName()));
            }
        }
        Files.writeString(other.resolve("tokenizer.json"), Files.readString(model.resolve("tokenizer.json")) + "\n");
        CliRun mismatch = CliRun.of("sparsity", "--model", other.toString(), "--data", data.toString());
        assertEquals(1, mismatch.exit());
        assertTrue(mismatch.errorLine().contains("was prepared with tokenizer")
                && mismatch.errorLine().contains("prepare the data with the model's tokenizer"), mismatch.errorLine());

        // a source without held-out sequences
        Path noHeldout = dir.resolve("no-heldout");
        assertEquals(0, CliRun.of("prepare", "--input", "math=" + CliRun.root().resolve(
                "data-mixture/corpora/sample/math"), "--tokenizer", model.toString(), "--seq-len", "64",
                "--heldout", "0", "--out", noHeldout.toString()).exit());
        CliRun empty = CliRun.of("sparsity", "--model", model.toString(), "--data", noHeldout.toString());
        assertEquals(1, empty.exit());
        assertTrue(empty.errorLine().contains("source 'math'") && empty.errorLine().contains("has no held-out"),
                empty.errorLine());
        assertFalse(empty.out().contains("zero_fraction"), "nothing on stdout");
    }
}

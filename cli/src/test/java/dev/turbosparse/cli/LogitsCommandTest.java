package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.model.safetensors.SafetensorsFile;

import java.util.Arrays;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

class LogitsCommandTest {

    @Test
    void jsonContractGivesTheReferenceLogits() throws Exception {
        long[] ids;
        float[] reference;
        try (SafetensorsFile ref = SafetensorsFile.open(CliRun.parity("mixtral").resolve("reference.safetensors"))) {
            ids = Arrays.copyOf(ref.readLongs("input_ids"), 20); // first sequence
            reference = Arrays.copyOf(ref.readFloats("logits"), 20 * 512);
        }
        String tokens = Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(","));
        CliRun run = CliRun.of("logits", "--model", CliRun.parity("mixtral").toString(), "--tokens", tokens,
                "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode json = JsonMapper.builder().build().readTree(run.out());
        assertEquals(2, json.size(), "exactly the keys tokens and logits");
        assertEquals(20, json.get("tokens").size());
        assertEquals(ids[3], json.get("tokens").get(3).asLong());
        JsonNode logits = json.get("logits");
        assertEquals(20, logits.size(), "one row per position");
        double worst = 0;
        for (int p = 0; p < 20; p++) {
            assertEquals(512, logits.get(p).size(), "vocab_size floats per row");
            for (int v = 0; v < 512; v++) {
                worst = Math.max(worst, Math.abs(logits.get(p).get(v).floatValue() - reference[p * 512 + v]));
            }
        }
        assertTrue(worst < 1e-4 * 8.2, "max |logit - reference| = " + worst);
        assertEquals(1, run.out().lines().count(), "one JSON object on one line");
    }

    @Test
    void aGgufFileGivesLlamaCppsLogits() throws Exception {
        float[] llamaCpp;
        try (SafetensorsFile ref = SafetensorsFile.open(CliRun.parity("mistral").resolve("reference.safetensors"))) {
            llamaCpp = Arrays.copyOf(ref.readFloats("logits_llamacpp"), 8 * 512);
        }
        CliRun run = CliRun.of("logits", "--model", CliRun.parity("mistral").resolve("model.f32.gguf").toString(),
                "--tokens", "462,314,420,10,261,98,393,439", "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode logits = JsonMapper.builder().build().readTree(run.out()).get("logits");
        double worst = 0;
        for (int p = 0; p < 8; p++) {
            for (int v = 0; v < 512; v++) {
                worst = Math.max(worst, Math.abs(logits.get(p).get(v).floatValue() - llamaCpp[p * 512 + v]));
            }
        }
        assertTrue(worst < 1e-4 * 9.2, "max |logit - llama.cpp| = " + worst);
    }

    @Test
    void theRuntimeEngineGivesTheDjlEnginesLogitsInEveryMode() throws Exception {
        String tokens = "1,415,2936,9060,285,1142,28705,28740";
        JsonNode djl = json("logits", "--model", CliRun.tinyModel().toString(), "--tokens", tokens, "--format", "json");
        for (String mode : new String[] {"dense", "exact"}) {
            JsonNode runtime = json("logits", "--model", CliRun.tinyModel().toString(), "--tokens", tokens, "--engine",
                    "runtime", "--mode", mode, "--threads", "2", "--format", "json");
            double worst = 0;
            for (int p = 0; p < 8; p++) {
                for (int v = 0; v < 32000; v++) {
                    worst = Math.max(worst, Math.abs(runtime.get("logits").get(p).get(v).floatValue()
                            - djl.get("logits").get(p).get(v).floatValue()));
                }
            }
            assertTrue(worst < 1e-4, mode + ": max |runtime - djl| = " + worst);
        }
    }

    @Test
    void badGgufFilesGiveOneLineWithTheRuntimeEngine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path good = CliRun.parity("mistral").resolve("model.f32.gguf");
        byte[] bytes = java.nio.file.Files.readAllBytes(good);
        java.nio.file.Path magic = dir.resolve("magic.gguf");
        byte[] m = bytes.clone();
        m[0] = 'X';
        java.nio.file.Files.write(magic, m);
        java.nio.file.Path truncated = dir.resolve("truncated.gguf");
        java.nio.file.Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
        java.nio.file.Path arch = dir.resolve("gpt2.gguf");
        new dev.turbosparse.model.gguf.GgufWriter().putString("general.architecture", "gpt2").write(arch);
        String[][] cases = {{magic.toString(), "not a GGUF file: magic is \"XGUF\""},
            {truncated.toString(), "lies beyond the end of the file"}, {arch.toString(), "architecture 'gpt2' is not supported"}};
        for (String[] c : cases) {
            CliRun run = CliRun.of("logits", "--model", c[0], "--tokens", "1", "--engine", "runtime");
            assertEquals(1, run.exit(), c[0]);
            assertTrue(run.errorLine().contains(c[1]), c[0] + ": " + run.err());
            assertTrue(run.err().lines().noneMatch(l -> l.startsWith("\tat ")), "no stack trace: " + run.err());
        }
    }

    private static JsonNode json(String... args) throws Exception {
        CliRun run = CliRun.of(args);
        assertEquals(0, run.exit(), run.err());
        return JsonMapper.builder().build().readTree(run.out());
    }

    @Test
    void textFormatListsTopTokens() {
        CliRun run = CliRun.of("logits", "--model", CliRun.parity("mistral").toString(), "--tokens", "462,314",
                "--top", "3");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().startsWith("position 0 token 462 -> top "), run.out());
        assertEquals(2, run.out().lines().count());
    }

    @Test
    void badInputGivesOneLineAndANonZeroExit() {
        String model = CliRun.parity("mistral").toString();
        CliRun run = CliRun.of("logits", "--model", model, "--tokens", "1,512", "--format", "json");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().startsWith("logits: --tokens: id 512 at position 1 is outside the vocabulary [0, 512)"),
                run.err());
        assertEquals("", run.out());

        run = CliRun.of("logits", "--model", model, "--tokens", "1,x");
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("'x'"), run.err());

        run = CliRun.of("logits", "--model", model + "-missing", "--tokens", "1");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().endsWith("mistral-missing: not found"), run.err());

        run = CliRun.of("logits", "--model", model, "--tokens", "1", "--mode", "exact");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("--mode exact skips neurons, which the djl engine does not"), run.err());

        run = CliRun.of("logits", "--model", model, "--tokens", "1", "--engine", "runtime", "--mode", "exact");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("this model's FFN is SwiGLU, which has no such zeros"), run.err());

        run = CliRun.of("logits", "--model", CliRun.tinyModel().toString(), "--tokens", "1", "--engine", "runtime",
                "--mode", "predicted");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("--mode predicted needs activation predictors"), run.err());

        if (ai.djl.engine.Engine.getInstance().getGpuCount() == 0) {
            run = CliRun.of("logits", "--model", model, "--tokens", "1", "--engine", "runtime", "--device", "gpu");
            assertEquals(1, run.exit());
            assertTrue(run.errorLine().contains("--device gpu: the PyTorch engine sees no GPU"), run.err());
        }

        run = CliRun.of("logits", "--model", model, "--engine", "runtime", "--tokens",
                String.join(",", java.util.Collections.nCopies(257, "1")));
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("257 tokens are more than the model's 256 positions"), run.err());

        run = CliRun.of("logits", "--model", model + "/config.txt", "--tokens", "1");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().endsWith("config.txt: not found"), run.err());
        for (String line : run.err().lines().toList()) {
            assertTrue(!line.startsWith("\tat "), "no stack trace: " + run.err());
        }
    }
}

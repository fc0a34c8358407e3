package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.HfWeightMap;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void parametersByRoleOfTheMixtralFixture() throws Exception {
        CliRun run = CliRun.of("inspect", "--model", CliRun.parity("mixtral-drelu").toString(), "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode p = JSON.readTree(run.out()).get("parameters");
        // By hand: vocab 512, hidden 64, 4 heads x 16, 2 KV heads, intermediate 192, 4 experts (top 2), 2 layers.
        assertEquals(512 * 64, p.get("embeddings").asLong());
        assertEquals(2 * (64 * 64 + 2 * (32 * 64) + 64 * 64), p.get("attention").asLong());
        assertEquals(2 * 4 * 3 * 192 * 64, p.get("ffn").asLong());
        assertEquals(2 * 4 * 64, p.get("router").asLong());
        assertEquals((2 * 2 + 1) * 64, p.get("norms").asLong());
        assertEquals(512 * 64, p.get("lm_head").asLong());
        assertEquals(385_856, p.get("total").asLong());
        assertEquals(385_856 - 294_912 / 2, p.get("active_per_token").asLong(), "top-2 of 4 experts");
        JsonNode root = JSON.readTree(run.out());
        assertEquals("drelu", root.get("ffn").get("activation").asText());
        assertEquals(385_856, root.get("weights").get("dtypes").get("BF16").asLong());
    }

    @Test
    void aGgufFileCountsTheSameParameters() throws Exception {
        CliRun run = CliRun.of("inspect", "--model", CliRun.parity("mixtral").resolve("model.f32.gguf").toString(),
                "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode root = JSON.readTree(run.out());
        assertEquals(385_856, root.get("parameters").get("total").asLong());
        assertEquals(294_912, root.get("parameters").get("ffn").asLong());
        assertEquals(385_856, root.get("weights").get("dtypes").get("F32").asLong());
    }

    @Test
    void textOfTheBundledModel() {
        CliRun run = CliRun.of("inspect", "--model", CliRun.tinyModel().toString());
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().contains("ffn          dReLU (hidden_act relu, ffn_activation drelu)"), run.out());
        assertTrue(run.out().contains("tokenizer    32000 tokens, BOS 1 (added), EOS 2"), run.out());
    }

    /**
     * A Mistral-7B-shaped checkpoint whose 14 GB of data is a hole in a sparse file: inspect reads the header only,
     * so it neither needs the data nor the memory.
     */
    @Test
    void readsHeadersOnlyOfASevenBillionParameterCheckpoint(@TempDir Path dir) throws Exception {
        String config = """
                {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 32000,
                 "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_act": "silu",
                 "max_position_embeddings": 32768, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
                 "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16"}""";
        Files.writeString(dir.resolve("config.json"), config);
        ModelConfig c = ConfigIO.read(dir);
        ObjectNode header = JSON.createObjectNode();
        long offset = 0;
        for (HfWeightMap.Entry e : HfWeightMap.entries(c)) {
            ObjectNode t = header.putObject(e.hfName());
            t.put("dtype", "BF16");
            var shape = t.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            t.putArray("data_offsets").add(offset).add(offset + e.numel() * 2);
            offset += e.numel() * 2;
        }
        byte[] h = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        try (RandomAccessFile f = new RandomAccessFile(dir.resolve("model.safetensors").toFile(), "rw")) {
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            f.write(h);
            f.setLength(8 + h.length + offset); // a hole: no data is written or read
        }
        CliRun run = CliRun.of("inspect", "--model", dir.toString(), "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode p = JSON.readTree(run.out()).get("parameters");
        assertEquals(7_241_732_096L, p.get("total").asLong(), "Mistral-7B-v0.1 has 7.24 B parameters");
        assertEquals(32 * 3 * 4096L * 14336, p.get("ffn").asLong());
    }

    @Test
    void aFolderWithoutConfigIsRefused(@TempDir Path dir) {
        CliRun run = CliRun.of("inspect", "--model", dir.toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().startsWith("inspect: " + dir + ": no config.json"), run.err());
    }
}

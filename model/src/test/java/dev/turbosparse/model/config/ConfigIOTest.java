package dev.turbosparse.model.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.TestData;
import dev.turbosparse.model.io.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConfigIOTest {

    @Test
    void readsMistralFixture() {
        ModelConfig c = ConfigIO.read(TestData.parity("mistral"));
        MistralConfig m = assertInstanceOf(MistralConfig.class, c);
        assertEquals(512, m.vocabSize());
        assertEquals(64, m.hiddenSize());
        assertEquals(192, m.intermediateSize());
        assertEquals(2, m.numHiddenLayers());
        assertEquals(4, m.numAttentionHeads());
        assertEquals(2, m.numKeyValueHeads());
        assertEquals(16, m.headDim());
        assertEquals(1e-5, m.rmsNormEps());
        assertEquals(1e6, m.ropeTheta());
        assertNull(m.slidingWindow());
        assertEquals("bfloat16", m.torchDtype());
        assertEquals(FfnActivation.SILU, m.activation());
        assertEquals(1, m.numExperts());
        assertEquals(8, ConfigIO.read(TestData.parity("mistral-swa")).slidingWindow());
    }

    @Test
    void readsMixtralAndDreluMarkers() {
        MixtralConfig x = assertInstanceOf(MixtralConfig.class, ConfigIO.read(TestData.parity("mixtral")));
        assertEquals(4, x.numExperts());
        assertEquals(2, x.expertsPerToken());
        assertEquals(0.02, x.routerAuxLossCoef());
        ModelConfig d = ConfigIO.read(TestData.parity("mistral-drelu"));
        assertEquals("relu", d.hiddenAct());
        assertEquals(FfnActivation.DRELU, d.activation(), "ffn_activation wins over hidden_act");
        assertEquals(FfnActivation.DRELU, ConfigIO.read(TestData.parity("mixtral-drelu")).activation());
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mistral-swa", "mixtral", "mistral-drelu", "mixtral-drelu"})
    void roundTripKeepsEveryFieldIncludingUnknownOnes(String name, @TempDir Path dir) throws Exception {
        Path src = TestData.parity(name).resolve("config.json");
        ModelConfig c = ConfigIO.read(src);
        ConfigIO.write(c, dir);
        JsonNode original = ConfigIO.MAPPER.readTree(Files.readAllBytes(src));
        JsonNode written = ConfigIO.MAPPER.readTree(Files.readAllBytes(dir.resolve("config.json")));
        assertEquals(original, written);
        assertEquals(c, ConfigIO.read(dir));
    }

    @Test
    void unknownFieldsSurviveAndSwapWritesTheActivation(@TempDir Path dir) throws Exception {
        ObjectNode tree = (ObjectNode) ConfigIO.MAPPER.readTree(
                Files.readAllBytes(TestData.parity("mistral").resolve("config.json")));
        tree.putObject("quantization_config").put("bits", 4);
        tree.put("my_note", "kept");
        ModelConfig c = ConfigIO.parse("config.json", tree.toString().getBytes(StandardCharsets.UTF_8));
        ModelConfig swapped = c.withActivation(FfnActivation.DRELU);
        ConfigIO.write(swapped, dir);
        JsonNode out = ConfigIO.MAPPER.readTree(Files.readAllBytes(dir.resolve("config.json")));
        assertEquals(4, out.path("quantization_config").path("bits").asInt());
        assertEquals("kept", out.path("my_note").asText());
        assertEquals("relu", out.path("hidden_act").asText());
        assertEquals("drelu", out.path("ffn_activation").asText());
        ModelConfig reglu = ConfigIO.read(dir).withActivation(FfnActivation.RELU);
        assertEquals(FfnActivation.RELU, reglu.activation());
        assertEquals("relu", reglu.ffnActivation(), "ReGLU says so explicitly, never confused with dReLU");
    }

    @Test
    void absentOptionalFieldsTakeHuggingFaceDefaults() {
        String json = """
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2}""";
        ModelConfig c = ConfigIO.parse("config.json", json.getBytes(StandardCharsets.UTF_8));
        assertEquals(8, c.headDim());
        assertEquals(4096, c.slidingWindow(), "transformers' MistralConfig defaults sliding_window to 4096");
        assertEquals("silu", c.hiddenAct());
        assertEquals(1e-6, c.rmsNormEps());
    }

    @Test
    void missingRequiredFieldIsNamed() {
        String msg = fail("""
                {"model_type": "mistral", "vocab_size": 100, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2}""");
        assertEquals("cfg/config.json: required field 'hidden_size' is missing", msg);
    }

    @Test
    void wrongTypeIsNamed() {
        String msg = fail("""
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": "32", "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2}""");
        assertEquals("cfg/config.json: field 'hidden_size' must be an integer, got string \"32\"", msg);
        msg = fail("""
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "rope_theta": true}""");
        assertEquals("cfg/config.json: field 'rope_theta' must be a number, got boolean true", msg);
        msg = fail("""
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "sliding_window": "4096"}""");
        assertEquals("cfg/config.json: field 'sliding_window' must be an integer or null, got string \"4096\"", msg);
    }

    @Test
    void inconsistentOrUnsupportedConfigsAreRefused() {
        assertTrue(fail("""
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3}""")
                .contains("'num_attention_heads' (4) must be a multiple of 'num_key_value_heads' (3)"));
        assertTrue(fail("""
                {"model_type": "llama", "vocab_size": 100}""").contains("model_type 'llama' is not supported"));
        assertTrue(fail("""
                {"model_type": "mistral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "hidden_act": "silu", "ffn_activation": "drelu"}""")
                .contains("'ffn_activation' is 'drelu' but 'hidden_act' is 'silu'"));
        assertTrue(fail("""
                {"model_type": "mixtral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "num_local_experts": 2, "num_experts_per_tok": 3}""")
                .contains("'num_experts_per_tok' (3) exceeds 'num_local_experts' (2)"));
        assertTrue(fail("{\"model_type\": \"mistral\",").startsWith("cfg/config.json: not valid JSON at line 1"));
        assertTrue(fail("[1, 2]").contains("expected a JSON object"));
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ConfigIO.read(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()) && e.getMessage().contains("not found"));
    }

    private static String fail(String json) {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> ConfigIO.parse("cfg/config.json", json.getBytes(StandardCharsets.UTF_8)));
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e.getMessage();
    }
}

package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.runtime.bench.BenchModel;
import dev.turbosparse.runtime.gpu.DjlDecoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The DJL-device decoder (the GPU path) run on the CPU device, against the CPU runtime. */
class DjlDecoderTest {

    @ParameterizedTest
    @CsvSource({"mistral-drelu, DENSE", "mistral-drelu, EXACT", "mixtral-drelu, EXACT", "mistral-swa, DENSE",
        "mixtral, DENSE"})
    void theDeviceDecoderGivesTheRuntimesLogits(String fixture, Decoder.Mode mode) {
        int[] ids = RuntimeParityTest.inputs(fixture)[0];
        try (RuntimeModel m = RuntimeLoader.load(RuntimeParityTest.parity(fixture));
                Decoder cpu = new Decoder(m, mode, ids.length, 2, Float.NaN);
                DjlDecoder device = new DjlDecoder(m, mode, ids.length, Device.cpu())) {
            double max = maxDifference(cpu, device, ids);
            assertTrue(max <= 1e-4, fixture + " " + mode + ": max |logit difference| " + max);
        }
    }

    /**
     * The CPU decoder reads a KV head's cache once for its query heads, up to four at a time: groups of four, of six
     * (four and two) and of one key for six heads, within a sliding window, against the device decoder's attention.
     */
    @ParameterizedTest
    @CsvSource({"8, 2, 0", "12, 2, 5", "6, 1, 5"})
    void queryHeadsSharingAKvHeadGetTheDeviceDecodersLogits(int heads, int kvHeads, int window, @TempDir Path dir)
            throws IOException {
        String json = Files.readString(Path.of("../configs/models/tiny-mistral-drelu.json"), StandardCharsets.UTF_8)
                .replace("\"num_attention_heads\": 4", "\"num_attention_heads\": " + heads)
                .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": " + kvHeads)
                .replace("\"sliding_window\": null", "\"sliding_window\": " + (window == 0 ? "null" : window));
        ModelConfig config = ConfigIO.parse("tiny-mistral-drelu.json", json.getBytes(StandardCharsets.UTF_8));
        assertEquals(heads / kvHeads, config.numAttentionHeads() / config.numKeyValueHeads());
        BenchModel.write(config, 0.9, 0.3, 4, DType.F32, 3, dir, done -> { });
        int[] ids = {1, 415, 2936, 9060, 285, 1142, 28723, 5, 17, 300, 22, 9};
        try (RuntimeModel m = RuntimeLoader.load(dir);
                Decoder cpu = new Decoder(m, Decoder.Mode.DENSE, ids.length, 2, Float.NaN);
                DjlDecoder device = new DjlDecoder(m, Decoder.Mode.DENSE, ids.length, Device.cpu())) {
            double max = maxDifference(cpu, device, ids);
            assertTrue(max <= 1e-4, heads + " heads over " + kvHeads + ": max |logit difference| " + max);
        }
    }

    /** The largest |logit difference| of the two decoders over the tokens, fed one at a time to both. */
    private static double maxDifference(Decoder cpu, DjlDecoder device, int[] ids) {
        double max = 0;
        for (int id : ids) {
            float[] a = cpu.forward(id);
            float[] b = device.forward(id);
            for (int v = 0; v < a.length; v++) {
                max = Math.max(max, Math.abs(a[v] - b[v]));
            }
        }
        return max;
    }

    @Test
    void aGpuIsAskedForPlainly() {
        if (Engine.getInstance().getGpuCount() == 0) {
            InputException e = assertThrows(InputException.class, () -> DjlDecoder.device("gpu"));
            assertTrue(e.getMessage().contains("sees no GPU"), e.getMessage());
        }
        assertThrows(InputException.class, () -> DjlDecoder.device("tpu"));
    }
}

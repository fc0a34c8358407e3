package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.runtime.gpu.DjlDecoder;
import org.junit.jupiter.api.Test;
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
            double max = 0;
            for (int id : ids) {
                float[] a = cpu.forward(id);
                float[] b = device.forward(id);
                for (int v = 0; v < a.length; v++) {
                    max = Math.max(max, Math.abs(a[v] - b[v]));
                }
            }
            assertTrue(max <= 1e-4, fixture + " " + mode + ": max |logit difference| " + max);
        }
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

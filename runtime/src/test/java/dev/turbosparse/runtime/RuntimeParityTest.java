package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The runtime's logits against the parity fixtures' PyTorch reference, and exact against dense. */
class RuntimeParityTest {

    static Path parity(String name) {
        String prop = System.getProperty("turbosparse.testdata");
        return Path.of(prop != null ? prop : "../testdata").resolve("parity").resolve(name);
    }

    /** The fixture's input ids, rows of 20. */
    static int[][] inputs(String name) {
        try (SafetensorsFile f = SafetensorsFile.open(parity(name).resolve("reference.safetensors"))) {
            long[] ids = f.readLongs("input_ids");
            int rows = (int) f.info("input_ids").shape()[0];
            int len = ids.length / rows;
            int[][] out = new int[rows][len];
            for (int i = 0; i < ids.length; i++) {
                out[i / len][i % len] = (int) ids[i];
            }
            return out;
        }
    }

    static float[] referenceLogits(String name) {
        try (SafetensorsFile f = SafetensorsFile.open(parity(name).resolve("reference.safetensors"))) {
            return f.readFloats("logits");
        }
    }

    /** max |runtime - reference| over every position and vocabulary entry of both rows. */
    static double maxDiff(Path model, String fixture, Decoder.Mode mode, int threads) {
        int[][] ids = inputs(fixture);
        float[] ref = referenceLogits(fixture);
        double max = 0;
        try (RuntimeModel m = RuntimeLoader.load(model);
                Decoder d = new Decoder(m, mode, ids[0].length, threads, Float.NaN)) {
            int vocab = m.config().vocabSize();
            for (int row = 0; row < ids.length; row++) {
                float[][] got = d.logits(ids[row]);
                for (int t = 0; t < got.length; t++) {
                    for (int v = 0; v < vocab; v++) {
                        max = Math.max(max, Math.abs(got[t][v] - ref[(row * got.length + t) * vocab + v]));
                    }
                }
            }
        }
        return max;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mistral-swa", "mixtral", "mistral-drelu", "mixtral-drelu"})
    void denseLogitsOfTheHfFolderMatchTheReference(String name) {
        double diff = maxDiff(parity(name), name, Decoder.Mode.DENSE, 2);
        assertTrue(diff <= 1e-4, name + ": max |logit difference| " + diff);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mixtral"})
    void denseLogitsOfLlamaCppsGgufMatchTheReference(String name) {
        double diff = maxDiff(parity(name).resolve("model.f32.gguf"), name, Decoder.Mode.DENSE, 1);
        assertTrue(diff <= 1e-4, name + " (GGUF): max |logit difference| " + diff);
    }

    /**
     * On an HF folder dense reads the down projection row-major (a dot product per output) and exact reads its
     * neuron-major copy (a scaled row per active neuron), so the two sum in different orders: within 1e-5, not bit for
     * bit. With a neuron-major file (the sparse GGUF) they are identical: SparseGgufExportTest.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void exactEqualsDenseOnDreluModels(String name) {
        int[][] ids = inputs(name);
        try (RuntimeModel m = RuntimeLoader.load(parity(name));
                Decoder dense = new Decoder(m, Decoder.Mode.DENSE, 20, 2, Float.NaN);
                Decoder exact = new Decoder(m, Decoder.Mode.EXACT, 20, 2, Float.NaN)) {
            for (int[] row : ids) {
                float[][] a = dense.logits(row);
                float[][] b = exact.logits(row);
                double max = 0;
                for (int t = 0; t < a.length; t++) {
                    for (int v = 0; v < a[t].length; v++) {
                        max = Math.max(max, Math.abs(a[t][v] - b[t][v]));
                    }
                }
                assertTrue(max <= 1e-5, name + ": exact differs from dense by " + max);
            }
            assertTrue(exact.bytesRead() < dense.bytesRead(), "exact reads fewer weight bytes: " + exact.bytesRead()
                    + " vs " + dense.bytesRead());
        }
    }

    @Test
    void sparseModesOfASwigluModelAreRefused() {
        try (RuntimeModel m = RuntimeLoader.load(parity("mistral"))) {
            InputException e = assertThrows(InputException.class, () -> new Decoder(m, Decoder.Mode.EXACT, 20, 1, Float.NaN));
            assertTrue(e.getMessage().contains("SwiGLU, which has no such zeros"), e.getMessage());
            e = assertThrows(InputException.class, () -> new Decoder(m, Decoder.Mode.DENSE, 257, 1, Float.NaN));
            assertTrue(e.getMessage().contains("max_position_embeddings"), e.getMessage());
            try (Decoder d = new Decoder(m, Decoder.Mode.DENSE, 2, 1, Float.NaN)) {
                d.forward(5);
                d.forward(6);
                e = assertThrows(InputException.class, () -> d.forward(7));
                assertEquals("the sequence is longer than the context of 2 positions", e.getMessage());
            }
        }
    }
}

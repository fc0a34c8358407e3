package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
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

    /**
     * Predicted mode against what it should compute: every FFN (every expert of Mixtral) gets a rank-2 predictor
     * whose score is +|w · residual| for a random half S of its neurons and -|w · residual| for the others, so at
     * threshold 0 it picks exactly S. That must give the logits of the same model in dense mode with the gate rows
     * outside S zeroed (a dReLU neuron with a zero gate is zero), and not those of the model itself.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void predictedModeComputesTheNeuronsItsPredictorPicks(String name) {
        int[] ids = inputs(name)[0];
        Random r = new Random(name.length());
        try (RuntimeModel m = RuntimeLoader.load(parity(name)); Arena arena = Arena.ofShared()) {
            int hidden = m.config().hiddenSize();
            int inter = m.config().intermediateSize();
            List<RuntimeModel.Layer> withPredictors = new ArrayList<>();
            List<RuntimeModel.Layer> masked = new ArrayList<>();
            long picked = 0;
            long total = 0;
            for (RuntimeModel.Layer l : m.layers()) {
                List<RuntimeModel.Ffn> p = new ArrayList<>();
                List<RuntimeModel.Ffn> z = new ArrayList<>();
                for (RuntimeModel.Ffn f : l.experts()) {
                    boolean[] in = new boolean[inter];
                    float[] fc1 = new float[2 * hidden];
                    for (int j = 0; j < hidden; j++) {
                        fc1[j] = (float) r.nextGaussian();
                        fc1[hidden + j] = -fc1[j];
                    }
                    float[] fc2 = new float[inter * 2];
                    float[] gate = new float[inter * hidden];
                    F32Rows.read(f.gate(), gate);
                    for (int i = 0; i < inter; i++) {
                        in[i] = r.nextBoolean();
                        fc2[2 * i] = fc2[2 * i + 1] = in[i] ? 1f : -1f;
                        if (!in[i]) {
                            Arrays.fill(gate, i * hidden, (i + 1) * hidden, 0f);
                        }
                        picked += in[i] ? 1 : 0;
                    }
                    total += inter;
                    RuntimeModel.Predictor pr = new RuntimeModel.Predictor(
                            F32Rows.f32("fc1", 2, hidden, fc1, arena), F32Rows.f32("fc2", inter, 2, fc2, arena));
                    p.add(new RuntimeModel.Ffn(f.gate(), f.up(), f.down(), f.downT(), pr));
                    z.add(new RuntimeModel.Ffn(F32Rows.f32("gate", inter, hidden, gate, arena), f.up(), f.down(),
                            f.downT(), null));
                }
                withPredictors.add(new RuntimeModel.Layer(l.inputNorm(), l.q(), l.k(), l.v(), l.o(), l.postNorm(), l.router(), p));
                masked.add(new RuntimeModel.Layer(l.inputNorm(), l.q(), l.k(), l.v(), l.o(), l.postNorm(), l.router(), z));
            }
            RuntimeModel pm = new RuntimeModel(m.config(), m.rope(), m.embeddings(), withPredictors, m.norm(), m.lmHead(),
                    0f, m.source(), () -> { });
            RuntimeModel zm = new RuntimeModel(m.config(), m.rope(), m.embeddings(), masked, m.norm(), m.lmHead(),
                    0f, m.source(), () -> { });
            try (Decoder predicted = new Decoder(pm, Decoder.Mode.PREDICTED, ids.length, 2, 0f);
                    Decoder reference = new Decoder(zm, Decoder.Mode.DENSE, ids.length, 2, Float.NaN);
                    Decoder unmasked = new Decoder(m, Decoder.Mode.DENSE, ids.length, 2, Float.NaN)) {
                float[][] a = predicted.logits(ids);
                float[][] b = reference.logits(ids);
                float[][] c = unmasked.logits(ids);
                double max = 0;
                double fromModel = 0;
                for (int t = 0; t < a.length; t++) {
                    for (int v = 0; v < a[t].length; v++) {
                        max = Math.max(max, Math.abs(a[t][v] - b[t][v]));
                        fromModel = Math.max(fromModel, Math.abs(a[t][v] - c[t][v]));
                    }
                }
                assertTrue(max <= 1e-5, name + ": predicted differs from the masked model by " + max);
                assertTrue(fromModel > 1e-2, name + ": the mask changes the logits (by " + fromModel + ")");
                // the neurons whose down row was read: the picked ones that are not zero, so at most the picked share
                double expertShare = (double) picked / total;
                assertTrue(predicted.neuronShare() > 0 && predicted.neuronShare() <= expertShare + 1e-9,
                        predicted.neuronShare() + " of " + expertShare);
            }
        }
    }

    /** Float32 matrices for tests, and float32 copies of stored ones. */
    private static final class F32Rows {

        static Matrix f32(String name, int rows, int cols, float[] values, Arena arena) {
            MemorySegment s = arena.allocate((long) rows * cols * 4, 64);
            MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED
                    .withOrder(ByteOrder.LITTLE_ENDIAN), 0, values.length);
            return new Matrix(name, GgmlType.F32, rows, cols, s);
        }

        static void read(Matrix m, float[] into) {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment s = tmp.allocate(into.length * 4L, 64);
                m.type().toFloat32(m.data(), 0, s, into.length);
                MemorySegment.copy(s, ValueLayout.JAVA_FLOAT_UNALIGNED
                        .withOrder(ByteOrder.LITTLE_ENDIAN), 0, into, 0, into.length);
            }
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

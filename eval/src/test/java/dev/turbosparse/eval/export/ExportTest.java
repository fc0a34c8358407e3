package dev.turbosparse.eval.export;

import static dev.turbosparse.model.gguf.LlamaGguf.Kind.DENSE;
import static dev.turbosparse.model.gguf.LlamaGguf.Kind.SPARSE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.eval.sparsity.NeuronProfile;
import dev.turbosparse.eval.sparsity.SparsityProfiler;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** HF and GGUF exports, against llama.cpp's own converter and against the model they came from. */
class ExportTest {

    static final int[] IDS = {1, 17, 300, 42, 5, 511, 2, 99, 128, 64, 3, 250};

    @TempDir
    Path tmp;

    static Path parity(String name) {
        String prop = System.getProperty("turbosparse.testdata");
        return Path.of(prop != null ? prop : "../testdata").resolve("parity").resolve(name);
    }

    static float[][] logits(CausalLM model, int[] ids) {
        try (NDManager m = model.manager().newSubManager()) {
            NDArray input = m.create(ids).reshape(1, ids.length);
            NDArray logits = model.forward(new ParameterStore(m, false), input,
                    CausalLM.Options.DEFAULT, false).logits();
            int vocab = (int) logits.getShape().get(2);
            float[] flat = logits.toFloatArray();
            float[][] rows = new float[ids.length][];
            for (int i = 0; i < ids.length; i++) {
                rows[i] = java.util.Arrays.copyOfRange(flat, i * vocab, (i + 1) * vocab);
            }
            return rows;
        }
    }

    static double maxAbsDiff(float[][] a, float[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mixtral"})
    void denseGgufTensorsEqualLlamaCppsConverterBitForBit(String name) throws IOException {
        Path out = tmp.resolve(name + ".gguf");
        try (ExportSource source = ExportSource.open(parity(name))) {
            GgufExporter.export(source, null, GgmlType.F32, null, DENSE, 0f, out, null);
        }
        try (GgufFile ours = GgufFile.open(out); GgufFile theirs = GgufFile.open(parity(name).resolve("model.f32.gguf"))) {
            assertEquals(theirs.tensors().keySet(), ours.tensors().keySet());
            for (GgufFile.TensorInfo t : theirs.tensors().values()) {
                GgufFile.TensorInfo o = ours.tensor(t.name());
                assertArrayEquals(t.dims(), o.dims(), t.name());
                assertEquals(t.type(), o.type(), t.name());
                assertEquals(-1L, theirs.bytes(t).mismatch(ours.bytes(o)), t.name() + ": bytes differ");
            }
            for (String key : theirs.metadata().keySet()) {
                if (key.startsWith("llama.")) {
                    assertEquals(String.valueOf(theirs.metadata().get(key)), String.valueOf(ours.metadata().get(key)), key);
                }
            }
            assertEquals(theirs.metadata().keySet().stream().filter(k -> k.startsWith("llama.")).count(),
                    ours.metadata().keySet().stream().filter(k -> k.startsWith("llama.")).count());
        }
    }

    @Test
    void aDreluModelIsNotWrittenAsLlamaArchitecture() {
        try (ExportSource source = ExportSource.open(parity("mistral-drelu"))) {
            InputException e = assertThrows(InputException.class, () -> GgufExporter.export(source, null, GgmlType.F32,
                    null, DENSE, 0f, tmp.resolve("x.gguf"), null));
            assertTrue(e.getMessage().contains("dReLU") && e.getMessage().contains("--sparse"), e.getMessage());
        }
        assertTrue(!Files.exists(tmp.resolve("x.gguf")));
    }

    static NeuronOrder randomOrder(int layers, int experts, int neurons, long seed) {
        Random r = new Random(seed);
        int[][][] perm = new int[layers][experts][];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                int[] p = IntStream.range(0, neurons).toArray();
                for (int i = neurons - 1; i > 0; i--) {
                    int j = r.nextInt(i + 1);
                    int x = p[i];
                    p[i] = p[j];
                    p[j] = x;
                }
                perm[l][e] = p;
            }
        }
        return NeuronOrder.of(perm);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu", "mistral"})
    void reorderedHfExportKeepsTheLogits(String name) throws IOException {
        Path out = tmp.resolve(name + "-reordered");
        try (ExportSource source = ExportSource.open(parity(name))) {
            NeuronOrder order = randomOrder(source.config().numHiddenLayers(), source.config().numExperts(),
                    source.config().intermediateSize(), 7);
            HfExporter.export(source, order, DType.F32, Long.MAX_VALUE, out, "test", null);
        }
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(parity(name), m);
                CausalLM after = HfCheckpoint.load(out, m)) {
            double diff = maxAbsDiff(logits(before, IDS), logits(after, IDS));
            assertTrue(diff <= 1e-5, "max |logit difference| " + diff);
            // the weights did move: the gate rows of layer 0 are not where they were
            String gate = name.startsWith("mixtral") ? "layers.0.moe.experts.0.gateProj" : "layers.0.mlp.gateProj";
            assertTrue(!java.util.Arrays.equals(before.parametersByName().get(gate).getArray().toFloatArray(),
                    after.parametersByName().get(gate).getArray().toFloatArray()));
        }
    }

    @Test
    void reorderedGgufExportLoadsWithTheSameLogits() throws IOException {
        Path out = tmp.resolve("mixtral-reordered.gguf");
        try (ExportSource source = ExportSource.open(parity("mixtral"))) {
            GgufExporter.export(source, randomOrder(2, 4, 192, 3), GgmlType.F32, null, DENSE, 0f, out, null);
        }
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(parity("mixtral"), m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            double diff = maxAbsDiff(logits(before, IDS), logits(after, IDS));
            assertTrue(diff <= 1e-5, "max |logit difference| " + diff);
        }
    }

    @Test
    void hotFirstOrderSortsByTheProfiledFrequencies() throws IOException {
        Path freq = tmp.resolve("freq.safetensors");
        NeuronProfile profile;
        try (NDManager m = NDManager.newBaseManager(); CausalLM model = HfCheckpoint.load(parity("mistral-drelu"), m)) {
            profile = SparsityProfiler.emptyProfile(model);
            SparsityProfiler.profile(model, IDS, 1, IDS.length, 1, profile, null);
            ActivationFrequencies.write(freq, model.config(), profile, "test");
        }
        try (ExportSource source = ExportSource.open(parity("mistral-drelu"))) {
            NeuronOrder order = NeuronOrder.hotFirst(freq, source.config());
            for (int l = 0; l < 2; l++) {
                double[] f = profile.activationFrequency(l, 0);
                int[] p = order.permutation(l, 0);
                for (int i = 1; i < p.length; i++) {
                    assertTrue(f[p[i - 1]] > f[p[i]] || (f[p[i - 1]] == f[p[i]] && p[i - 1] < p[i]),
                            "layer " + l + " position " + i);
                }
            }
            // a frequency file of another model is refused, naming the tensor
            InputException e = assertThrows(InputException.class,
                    () -> NeuronOrder.hotFirst(freq, ConfigIO.read(parity("mixtral-drelu"))));
            assertTrue(e.getMessage().contains("block_sparse_moe.experts.0.activation_frequency"), e.getMessage());
        }
    }

    @Test
    void predictorsTravelWithTheirNeurons() throws IOException {
        // the dReLU fixture plus rank-8 predictors whose values say where they are: fc1[r][h] = r, fc2[n][r] = n
        int rank = 8;
        Path src = withPredictors(parity("mistral-drelu"), tmp.resolve("with-predictors"), rank, p -> true);
        // and a copy with predictors for layer 0 only
        Path partial = withPredictors(parity("mistral-drelu"), tmp.resolve("partial"), rank, p -> p.layer() == 0);
        Path out = tmp.resolve("exported");
        NeuronOrder order = randomOrder(2, 1, 192, 11);
        try (ExportSource s = ExportSource.open(src)) {
            assertEquals(rank, s.predictorRank());
            HfExporter.export(s, order, DType.F32, Long.MAX_VALUE, out, "test", null);
        }
        try (SafetensorsCheckpoint w = SafetensorsCheckpoint.open(out)) {
            for (int l = 0; l < 2; l++) {
                float[] fc1 = w.get("model.layers." + l + ".mlp.predictor.fc1.weight").file()
                        .readFloats("model.layers." + l + ".mlp.predictor.fc1.weight");
                assertEquals(7f, fc1[7 * 64 + 5], "fc1 keeps its rows");
                float[] fc2 = w.get("model.layers." + l + ".mlp.predictor.fc2.weight").file()
                        .readFloats("model.layers." + l + ".mlp.predictor.fc2.weight");
                int[] p = order.permutation(l, 0);
                for (int n = 0; n < 192; n++) {
                    assertEquals(p[n], fc2[n * rank + 3], "fc2 row " + n + " is neuron " + p[n]);
                }
            }
        }
        // a checkpoint with predictors for some layers only is refused
        InputException e = assertThrows(InputException.class, () -> ExportSource.open(partial).close());
        assertTrue(e.getMessage().contains("missing, first 'model.layers.1.mlp.predictor.fc1.weight'"), e.getMessage());
    }

    /**
     * A copy of a fixture's folder with predictors of the given rank for the FFNs {@code which} accepts, each tensor
     * {@link #coded} with its row index.
     */
    static Path withPredictors(Path fixture, Path dir, int rank, java.util.function.Predicate<Predictors.Entry> which)
            throws IOException {
        Files.createDirectories(dir);
        Files.copy(fixture.resolve("config.json"), dir.resolve("config.json"));
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        try (SafetensorsCheckpoint w = SafetensorsCheckpoint.open(fixture)) {
            for (var t : w.tensors().entrySet()) {
                MemorySegment bytes = t.getValue().file().bytes(t.getValue().info());
                entries.add(new SafetensorsWriter.Entry(t.getKey(), t.getValue().info().dtype(),
                        t.getValue().info().shape(), TensorSources.raw(bytes)));
            }
            for (Predictors.Entry p : Predictors.entries(ConfigIO.read(fixture), rank)) {
                if (which.test(p)) {
                    entries.add(coded(p.hfName(), (int) p.shape()[0], (int) p.shape()[1]));
                }
            }
            SafetensorsWriter.writeFile(dir.resolve("model.safetensors"), entries, SafetensorsWriter.PT_METADATA);
        }
        return dir;
    }

    /** A float32 tensor whose every element holds its row index. */
    static SafetensorsWriter.Entry coded(String name, int rows, int cols) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocateDirect(rows * cols * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < rows * cols; i++) {
            b.putFloat(i / cols);
        }
        return new SafetensorsWriter.Entry(name, DType.F32, new long[] {rows, cols},
                TensorSources.raw(MemorySegment.ofBuffer(b.flip())));
    }

    @Test
    void theTokenizerTravelsAsLlamaCppsSentencePieceVocabulary() throws IOException {
        Path model = Path.of(System.getProperty("turbosparse.models", "../models")).resolve("tiny-mistral-swiglu");
        Path out = tmp.resolve("tiny.gguf");
        try (ExportSource source = ExportSource.open(model)) {
            GgufExporter.export(source, null, GgmlType.F32, GgufVocab.read(model, source.config()), DENSE, 0f, out, null);
        }
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals("llama", g.getString("tokenizer.ggml.model"));
            @SuppressWarnings("unchecked")
            List<String> tokens = (List<String>) g.metadata().get("tokenizer.ggml.tokens");
            int[] types = (int[]) g.metadata().get("tokenizer.ggml.token_type");
            float[] scores = (float[]) g.metadata().get("tokenizer.ggml.scores");
            assertEquals(32000, tokens.size());
            assertEquals(List.of("<unk>", "<s>", "</s>", "<0x00>"), tokens.subList(0, 4));
            assertArrayEquals(new int[] {2, 3, 3, 6}, java.util.Arrays.copyOf(types, 4), "unknown, control, control, byte");
            // merges "▁ t" (rank 0) and "i n" (rank 1) make tokens 261 and 262: scores minus their rank
            assertEquals("\u2581t", tokens.get(261));
            assertEquals(0f, scores[261]);
            assertEquals(-1f, scores[262]);
            assertEquals(1L, g.getLong("tokenizer.ggml.bos_token_id", -1));
            assertEquals(Boolean.TRUE, g.metadata().get("tokenizer.ggml.add_bos_token"));
        }
        // and the weights load back with the model's logits
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(model, m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            assertTrue(maxAbsDiff(logits(before, IDS), logits(after, IDS)) <= 1e-5);
        }
    }
}

package dev.turbosparse.eval.export;

import static dev.turbosparse.eval.export.ExportTest.IDS;
import static dev.turbosparse.eval.export.ExportTest.logits;
import static dev.turbosparse.eval.export.ExportTest.maxAbsDiff;
import static dev.turbosparse.eval.export.ExportTest.parity;
import static dev.turbosparse.eval.export.ExportTest.randomOrder;
import static dev.turbosparse.model.gguf.LlamaGguf.Kind.SPARSE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeLoader;
import dev.turbosparse.runtime.RuntimeModel;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The sparse GGUF export (PowerInfer's conventions), read back by this project's GGUF reader. */
class SparseGgufExportTest {

    @TempDir
    Path tmp;

    static Path export(Path model, NeuronOrder order, float threshold, Path out) throws IOException {
        try (ExportSource source = ExportSource.open(model)) {
            GgufExporter.export(source, order, GgmlType.F32, null, SPARSE, threshold, out, null);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void aDreluModelIsStoredNeuronMajorAsBambooAndLoadsBitForBit(String name) throws IOException {
        Path out = export(parity(name), null, 0f, tmp.resolve(name + ".gguf"));
        ModelConfig c = ConfigIO.read(parity(name));
        boolean moe = c.isMoe();
        try (GgufFile g = GgufFile.open(out); SafetensorsCheckpoint hf = SafetensorsCheckpoint.open(parity(name));
                Arena arena = Arena.ofConfined()) {
            assertEquals(GgufFile.POWERINFER_MAGIC, g.magic());
            assertEquals("bamboo", g.getString("general.architecture"));
            assertEquals(64L, g.requireLong("bamboo.embedding_length"));
            assertFalse(g.metadata().containsKey(LlamaGguf.SPARSE_THRESHOLD), "no predictors, no threshold");
            assertTrue(g.tensors().keySet().stream().noneMatch(t -> t.contains("ffn_down.") || t.contains("ffn_down_exps")),
                    "the down projections are stored transposed only: " + g.tensors().keySet());
            // row n of ffn_down_t is neuron n's column of down_proj (the last expert's, for Mixtral)
            String down = moe ? "blk.1.ffn_down_t_exps.weight" : "blk.1.ffn_down_t.weight";
            String hfDown = moe ? "model.layers.1.block_sparse_moe.experts.3.w2.weight" : "model.layers.1.mlp.down_proj.weight";
            GgufFile.TensorInfo t = g.tensor(down);
            assertArrayEquals(moe ? new long[] {4, 192, 64} : new long[] {192, 64}, t.shape());
            long n = 192L * 64;
            MemorySegment stored = arena.allocate(n * 4);
            g.readFloat32(t, moe ? 3 * n : 0, n, stored);
            MemorySegment original = arena.allocate(n * 4);
            hf.readFloat32(hfDown, original);
            for (int neuron = 0; neuron < 192; neuron++) {
                for (int h = 0; h < 64; h++) {
                    assertEquals(original.getAtIndex(ValueLayout.JAVA_FLOAT, (long) h * 192 + neuron),
                            stored.getAtIndex(ValueLayout.JAVA_FLOAT, (long) neuron * 64 + h), "neuron " + neuron);
                }
            }
        }
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(parity(name), m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            assertEquals(FfnActivation.DRELU, after.config().activation());
            assertEquals(c.numExperts(), after.config().numExperts());
            for (Map.Entry<String, ai.djl.nn.Parameter> p : before.parametersByName().entrySet()) {
                assertArrayEquals(p.getValue().getArray().toFloatArray(),
                        after.parametersByName().get(p.getKey()).getArray().toFloatArray(), p.getKey());
            }
            assertEquals(0.0, maxAbsDiff(logits(before, IDS), logits(after, IDS)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void theRuntimeRunsTheSparseFileExactAsDenseBitForBit(String name) throws IOException {
        Path out = export(parity(name), null, 0f, tmp.resolve(name + ".gguf"));
        int[] ids = IDS;
        try (RuntimeModel m = RuntimeLoader.load(out);
                Decoder dense = new Decoder(m, Decoder.Mode.DENSE, ids.length, 2, Float.NaN);
                Decoder exact = new Decoder(m, Decoder.Mode.EXACT, ids.length, 2, Float.NaN);
                NDManager nd = NDManager.newBaseManager(); CausalLM reference = HfCheckpoint.load(parity(name), nd)) {
            float[][] d = dense.logits(ids);
            float[][] e = exact.logits(ids);
            for (int t = 0; t < ids.length; t++) {
                assertArrayEquals(d[t], e[t], "position " + t + ": exact skips only terms that are zero");
            }
            assertTrue(exact.bytesRead() < dense.bytesRead());
            double diff = maxAbsDiff(logits(reference, ids), d);
            assertTrue(diff <= 1e-4, "the runtime on the sparse file against the DJL model: " + diff);
        }
    }

    /** A copy of a fixture with another FFN activation in config.json (same weights). */
    Path withActivation(String fixture, FfnActivation activation) throws IOException {
        Path dir = tmp.resolve(fixture + "-" + activation.configName());
        Files.createDirectories(dir);
        ConfigIO.write(ConfigIO.read(parity(fixture)).withActivation(activation), dir);
        Files.copy(parity(fixture).resolve("model.safetensors"), dir.resolve("model.safetensors"));
        return dir;
    }

    @Test
    void aReGluModelKeepsLlamaUnderPowerInfersMagicAndItsSlidingWindow() throws IOException {
        Path reglu = withActivation("mistral-swa", FfnActivation.RELU); // sliding_window 8, shorter than IDS
        Path out = export(reglu, null, 0f, tmp.resolve("reglu.gguf"));
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GgufFile.POWERINFER_MAGIC, g.magic());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(8L, g.requireLong("llama.attention.sliding_window"));
        }
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(reglu, m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            assertEquals(FfnActivation.RELU, after.config().activation(), "llama in a PWRI file is ReGLU, as in PowerInfer");
            assertEquals(8, after.config().slidingWindow());
            assertEquals(0.0, maxAbsDiff(logits(before, IDS), logits(after, IDS)));
        }
    }

    @Test
    void aTiedModelGetsTheCopyOfItsEmbeddingsPowerInferNeedsAsOutput() throws IOException {
        Path tiny = Path.of(System.getProperty("turbosparse.models", "../models")).resolve("tiny-mistral-drelu");
        assertTrue(ConfigIO.read(tiny).tieWordEmbeddings());
        Path out = export(tiny, null, 0f, tmp.resolve("tied.gguf"));
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(-1L, g.bytes(g.tensor("token_embd.weight")).mismatch(g.bytes(g.tensor("output.weight"))));
        }
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(tiny, m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            assertFalse(after.config().tieWordEmbeddings());
            int[] ids = {1, 415, 2936, 9060, 285, 1142};
            assertEquals(0.0, maxAbsDiff(logits(before, ids), logits(after, ids)));
        }
    }

    @Test
    void aSwigluModelIsRefusedAndNoFileIsLeft() {
        Path out = tmp.resolve("swiglu.gguf");
        InputException e = assertThrows(InputException.class, () -> export(parity("mistral"), null, 0f, out));
        assertTrue(e.getMessage().contains("SwiGLU") && e.getMessage().contains("no exact zeros"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void predictorsAreStoredAsPowerInfersFc1Fc2WithTheirNeuronsAndThreshold(String name) throws IOException {
        int rank = 8;
        Path src = ExportTest.withPredictors(parity(name), tmp.resolve("with-predictors"), rank, p -> true);
        ModelConfig c = ConfigIO.read(src);
        int experts = c.numExperts();
        NeuronOrder order = randomOrder(2, experts, 192, 5);
        Path out = export(src, order, 0.25f, tmp.resolve("predictors.gguf"));
        try (GgufFile g = GgufFile.open(out); Arena arena = Arena.ofConfined()) {
            assertEquals(0.25, g.getDouble(LlamaGguf.SPARSE_THRESHOLD, Double.NaN));
            assertEquals(rank, LlamaGguf.predictorRank(g, c));
            for (int l = 0; l < 2; l++) {
                GgufFile.TensorInfo fc1 = g.tensor(experts > 1 ? "blk." + l + ".fc1_exps.weight" : "blk." + l + ".fc1.weight");
                GgufFile.TensorInfo fc2 = g.tensor(experts > 1 ? "blk." + l + ".fc2_exps.weight" : "blk." + l + ".fc2.weight");
                assertArrayEquals(experts > 1 ? new long[] {experts, rank, 64} : new long[] {rank, 64}, fc1.shape());
                assertArrayEquals(experts > 1 ? new long[] {experts, 192, rank} : new long[] {192, rank}, fc2.shape());
                for (int e = 0; e < experts; e++) {
                    MemorySegment f1 = arena.allocate(rank * 64 * 4L);
                    g.readFloat32(fc1, (long) e * rank * 64, rank * 64L, f1);
                    assertEquals(7f, f1.getAtIndex(ValueLayout.JAVA_FLOAT, 7 * 64 + 5), "fc1 keeps its rows");
                    MemorySegment f2 = arena.allocate(192L * rank * 4);
                    g.readFloat32(fc2, (long) e * 192 * rank, 192L * rank, f2);
                    int[] p = order.permutation(l, e);
                    for (int n = 0; n < 192; n++) {
                        assertEquals(p[n], f2.getAtIndex(ValueLayout.JAVA_FLOAT, (long) n * rank + 3),
                                "layer " + l + " expert " + e + ": fc2 row " + n + " is neuron " + p[n]);
                    }
                }
            }
        }
        // both readers check the predictors and leave them out of the DJL model; the reordered model keeps its logits
        try (NDManager m = NDManager.newBaseManager(); CausalLM before = HfCheckpoint.load(src, m);
                CausalLM after = LlamaGguf.load(out, m, null)) {
            double diff = maxAbsDiff(logits(before, IDS), logits(after, IDS));
            assertTrue(diff <= 1e-5, "max |logit difference| " + diff);
        }
    }
}

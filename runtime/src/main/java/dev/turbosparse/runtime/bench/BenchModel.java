package dev.turbosparse.runtime.bench;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.WeightInit;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A random dReLU model whose FFN sparsity is set, for benchmarks: speed depends on how many neurons a token needs,
 * not on what the model knows.
 * <ul>
 *   <li>Weights are {@link WeightInit}'s (N(0, initializer_range), norms 1).</li>
 *   <li><b>Sparsity.</b> With symmetric random weights about a quarter of dReLU's neurons are non-zero for a token
 *       (relu(gate) and relu(up) each half the time). For a target zero share s above 75%, a random share of
 *       neurons is made dead (its gate row zero, so relu(gate) is 0 for every token): the live share is
 *       (1 - s) / 0.25, and among live neurons which are active still changes from token to token.</li>
 *   <li><b>Predictors.</b> Residual dimension 0 carries a constant: the embeddings hold 1 there, no matrix that writes
 *       the residual (o_proj, down_proj) writes it, and none that reads the normed hidden state reads it. fc1's first
 *       row picks it up, so fc2's first column decides each neuron's score alone: a random set of live neurons,
 *       {@code predictedShare} of all, scores 1 (above the threshold -1), the others -2. Predicted mode then computes
 *       that many neurons per token, as a trained predictor of that share would; which neurons it picks is no
 *       measure of accuracy here.</li>
 * </ul>
 */
public final class BenchModel {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The share of a random dReLU model's neurons that are not zero for a token. */
    static final double NATURAL_ACTIVE_SHARE = 0.25;

    private BenchModel() {}

    /**
     * Writes the model as a Hugging Face folder.
     *
     * @param zeroShare the FFN zero share aimed at, at least 0.75
     * @param predictedShare the share of neurons the predictors select
     */
    public static void write(ModelConfig config, double zeroShare, double predictedShare, int rank, DType dtype,
            long seed, Path folder, LongConsumer progress) throws IOException {
        if (config.activation() != FfnActivation.DRELU) {
            throw new InputException("the benchmark model is a dReLU model; the config's FFN is "
                    + config.activation().paperName());
        }
        if (!(zeroShare >= 1 - NATURAL_ACTIVE_SHARE && zeroShare < 1)) {
            throw new InputException("--sparsity must be in [0.75, 1): a random dReLU model has about 75% zeros, and"
                    + " dead neurons only add to them; got " + zeroShare);
        }
        double live = (1 - zeroShare) / NATURAL_ACTIVE_SHARE;
        if (!(predictedShare > 0 && predictedShare <= live)) {
            throw new InputException("--predicted must be in (0, " + live + "], the live share at this sparsity; got "
                    + predictedShare);
        }
        int inter = config.intermediateSize();
        int hidden = config.hiddenSize();
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        long[] done = {0};
        BitSet[][] dead = new BitSet[config.numHiddenLayers()][config.numExperts()];
        BitSet[][] predicted = new BitSet[config.numHiddenLayers()][config.numExperts()];
        SplittableRandom pick = new SplittableRandom(seed);
        for (int l = 0; l < dead.length; l++) {
            for (int e = 0; e < dead[l].length; e++) {
                int[] order = permutation(inter, pick);
                int liveCount = (int) Math.round(live * inter);
                int predictedCount = (int) Math.round(predictedShare * inter);
                dead[l][e] = new BitSet(inter);
                predicted[l][e] = new BitSet(inter);
                for (int i = 0; i < inter; i++) {
                    if (i >= liveCount) {
                        dead[l][e].set(order[i]);
                    } else if (i < predictedCount) {
                        predicted[l][e].set(order[i]);
                    }
                }
            }
        }
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            Edit edit = edit(e, dead);
            entries.add(new SafetensorsWriter.Entry(e.hfName(), dtype, e.shape(), ch -> {
                WeightInit.TensorValues values = WeightInit.values(config, e, seed);
                long cols = e.shape().length == 1 ? e.shape()[0] : e.shape()[1];
                long rows = e.shape().length == 1 ? 1 : e.shape()[0];
                long rowsPerChunk = Math.max(1, (1L << 22) / cols);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment f32 = arena.allocate(Math.min(rows, rowsPerChunk) * cols * 4);
                    for (long r = 0; r < rows; r += rowsPerChunk) {
                        long n = Math.min(rowsPerChunk, rows - r);
                        values.next(f32, n * cols);
                        for (long i = 0; i < n; i++) {
                            edit.apply(f32, r + i, i * cols, cols);
                        }
                        TensorSources.fromFloat32(f32, n * cols, dtype).writeTo(ch);
                        done[0] += n * cols * dtype.bytes();
                        if (progress != null) {
                            progress.accept(done[0]);
                        }
                    }
                }
            }));
        }
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            for (int e = 0; e < config.numExperts(); e++) {
                String p = Predictors.prefix(config, l, e);
                float[] fc1 = new float[rank * hidden];
                fc1[0] = 1; // row 0 reads residual dimension 0, the constant 1
                float[] fc2 = new float[inter * rank];
                for (int n = 0; n < inter; n++) {
                    fc2[n * rank] = predicted[l][e].get(n) ? 1 : -2;
                }
                entries.add(new SafetensorsWriter.Entry(p + "fc1.weight", DType.F32, new long[] {rank, hidden},
                        TensorSources.fromFloats(fc1)));
                entries.add(new SafetensorsWriter.Entry(p + "fc2.weight", DType.F32, new long[] {inter, rank},
                        TensorSources.fromFloats(fc2)));
            }
        }
        Files.createDirectories(folder);
        SafetensorsWriter.writeCheckpoint(folder, entries, Long.MAX_VALUE, SafetensorsWriter.PT_METADATA);
        ConfigIO.write(config.withTorchDtype(dtype.torchName()), folder);
        JsonMapper json = JsonMapper.builder().build();
        ObjectNode c = (ObjectNode) json.readTree(folder.resolve(ConfigIO.FILE_NAME).toFile());
        c.put("sparse_threshold", -1.0);
        Files.write(folder.resolve(ConfigIO.FILE_NAME), json.writerWithDefaultPrettyPrinter().writeValueAsBytes(c));
    }

    /** How a tensor's rows are changed from the random values. */
    @FunctionalInterface
    private interface Edit {
        void apply(MemorySegment f32, long row, long offset, long cols);
    }

    private static Edit edit(HfWeightMap.Entry e, BitSet[][] dead) {
        String n = e.hfName();
        if (n.equals("model.embed_tokens.weight")) {
            return (f, row, off, cols) -> f.setAtIndex(FLOAT, off, 1f); // dimension 0 carries the constant
        }
        if (n.endsWith("o_proj.weight") || n.endsWith("down_proj.weight") || n.endsWith(".w2.weight")) {
            return (f, row, off, cols) -> { // nothing writes dimension 0
                if (row == 0) {
                    f.asSlice(off * 4, cols * 4).fill((byte) 0);
                }
            };
        }
        if (e.shape().length == 2 && readsHidden(n)) {
            int[] le = layerExpert(n);
            BitSet d = n.endsWith("gate_proj.weight") || n.endsWith(".w1.weight") ? dead[le[0]][le[1]] : null;
            return (f, row, off, cols) -> { // nothing reads dimension 0; dead neurons have no gate
                if (d != null && d.get((int) row)) {
                    f.asSlice(off * 4, cols * 4).fill((byte) 0);
                } else {
                    f.setAtIndex(FLOAT, off, 0f);
                }
            };
        }
        return (f, row, off, cols) -> {};
    }

    private static boolean readsHidden(String n) {
        return n.endsWith("q_proj.weight") || n.endsWith("k_proj.weight") || n.endsWith("v_proj.weight")
                || n.endsWith("gate_proj.weight") || n.endsWith("up_proj.weight") || n.endsWith(".w1.weight")
                || n.endsWith(".w3.weight") || n.endsWith("block_sparse_moe.gate.weight") || n.equals("lm_head.weight");
    }

    private static int[] layerExpert(String n) {
        var l = Predictors.LAYER.matcher(n);
        int layer = l.lookingAt() ? Integer.parseInt(l.group(1)) : 0;
        var x = Predictors.EXPERT.matcher(n);
        return new int[] {layer, x.find() ? Integer.parseInt(x.group(1)) : 0};
    }

    private static int[] permutation(int n, SplittableRandom r) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}

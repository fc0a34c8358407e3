package dev.turbosparse.model.nn;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The activation predictors a checkpoint may carry, under TurboSparse's names: per layer (per expert for Mixtral) a
 * low-rank MLP {@code fc2(relu(fc1(x)))} from the layer's residual stream before the FFN's RMSNorm (what TurboSparse's
 * {@code BambooMLP} and PowerInfer feed it) to one score per neuron; a neuron is predicted active when its score
 * reaches the threshold ({@code powerinfer.sparse_threshold} in a sparse GGUF, 0 by default).
 * <ul>
 *   <li>Mistral: {@code model.layers.N.mlp.predictor.fc1.weight} (rank, hidden) and {@code ...fc2.weight}
 *       (intermediate, rank);</li>
 *   <li>Mixtral: {@code model.layers.N.block_sparse_moe.experts.E.predictor.fc1.weight} and {@code ...fc2.weight}.</li>
 * </ul>
 * Either every FFN has one, of one rank, or none has.
 */
public final class Predictors {

    /** The layer of an HF tensor name ({@code lookingAt}, group 1). */
    public static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.");
    /** The expert of an HF tensor name ({@code find}, group 1). */
    public static final Pattern EXPERT = Pattern.compile("\\.experts\\.(\\d+)\\.");

    /** One predictor tensor. */
    public record Entry(String hfName, long[] shape, int layer, int expert, boolean fc2) {}

    private Predictors() {}

    /** The prefix of the predictor of a layer (expert). */
    public static String prefix(ModelConfig config, int layer, int expert) {
        return config.isMoe()
                ? "model.layers." + layer + ".block_sparse_moe.experts." + expert + ".predictor."
                : "model.layers." + layer + ".mlp.predictor.";
    }

    /** The predictor tensors of a config at a rank, in checkpoint order; none at rank 0. */
    public static List<Entry> entries(ModelConfig config, int rank) {
        List<Entry> out = new ArrayList<>();
        if (rank == 0) {
            return out;
        }
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            for (int e = 0; e < config.numExperts(); e++) {
                String p = prefix(config, l, e);
                out.add(new Entry(p + "fc1.weight", new long[] {rank, config.hiddenSize()}, l, e, false));
                out.add(new Entry(p + "fc2.weight", new long[] {config.intermediateSize(), rank}, l, e, true));
            }
        }
        return out;
    }

    /**
     * The rank of a checkpoint's predictors, read from the first one's fc1, or 0 when it has none. A checkpoint
     * with some predictors but not all is refused by its reader, which checks every name and shape.
     */
    public static int rank(Path folder, ModelConfig config, SafetensorsCheckpoint weights) {
        String first = prefix(config, 0, 0) + "fc1.weight";
        if (!weights.contains(first)) {
            String any = weights.tensors().keySet().stream().filter(n -> n.contains(".predictor.")).findFirst()
                    .orElse(null);
            if (any != null) {
                throw new ModelFormatException(folder + ": has predictor tensor '" + any + "' but not '" + first
                        + "'; predictors come for every FFN or for none, as fc1 and fc2");
            }
            return 0;
        }
        long[] shape = weights.get(first).info().shape();
        if (shape.length != 2 || shape[1] != config.hiddenSize() || shape[0] < 1 || shape[0] > Integer.MAX_VALUE) {
            throw new ModelFormatException(folder + ": tensor '" + first + "' has shape "
                    + java.util.Arrays.toString(shape) + "; a predictor's fc1 is (rank, hidden_size "
                    + config.hiddenSize() + ")");
        }
        return (int) shape[0];
    }
}

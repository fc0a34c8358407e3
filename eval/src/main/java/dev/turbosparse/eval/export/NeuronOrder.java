package dev.turbosparse.eval.export;

import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import dev.turbosparse.model.safetensors.TensorInfo;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * A permutation of the FFN neurons of every layer (and expert), hot first: neuron {@code i} of the reordered model is
 * neuron {@code perm[i]} of the original. Applied alike to the gate and up rows, the down columns and the predictor's
 * output rows, it leaves the function unchanged, while the neurons a token most often needs sit together at the
 * front of each matrix (PowerInfer's hot/cold split and contiguous reads of the sparse runtime rely on that).
 */
public final class NeuronOrder {

    private final int[][][] perm; // [layer][expert][neuron]

    private NeuronOrder(int[][][] perm) {
        this.perm = perm;
    }

    /**
     * Orders each FFN's neurons by descending activation frequency, read from a file that {@code turbosparse
     * sparsity --frequencies} wrote for this model; ties keep their original order. An expert no token reached (NaN
     * frequencies) keeps its order.
     */
    public static NeuronOrder hotFirst(Path frequencies, ModelConfig config) {
        int layers = config.numHiddenLayers();
        int experts = config.numExperts();
        int inter = config.intermediateSize();
        int[][][] perm = new int[layers][experts][];
        try (SafetensorsFile f = SafetensorsFile.open(frequencies)) {
            String format = f.metadata().get("format");
            if (!ActivationFrequencies.FORMAT.equals(format)) {
                throw new InputException(frequencies + ": not an activation-frequency file (metadata 'format' is "
                        + (format == null ? "missing" : "'" + format + "'") + ", expected '"
                        + ActivationFrequencies.FORMAT + "'; write one with `turbosparse sparsity --frequencies`)");
            }
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    String name = ActivationFrequencies.name(config, l, e);
                    if (!f.tensors().containsKey(name)) {
                        throw new InputException(frequencies + ": tensor '" + name + "' is missing; the file was not"
                                + " written for this model (" + layers + " layers"
                                + (config.isMoe() ? ", " + experts + " experts" : "") + ")");
                    }
                    TensorInfo info = f.info(name);
                    if (!info.hasShape(new long[] {inter})) {
                        throw new InputException(frequencies + ": tensor '" + name + "' has shape "
                                + TensorInfo.shapeString(info.shape()) + ", but the model's intermediate_size is " + inter);
                    }
                    perm[l][e] = byDescendingFrequency(f.readFloats(name));
                }
            }
        }
        return new NeuronOrder(perm);
    }

    /** An explicit permutation per layer and expert (tests). Each must be a permutation of 0..n-1. */
    public static NeuronOrder of(int[][][] perm) {
        for (int[][] layer : perm) {
            for (int[] p : layer) {
                boolean[] seen = new boolean[p.length];
                for (int i : p) {
                    if (i < 0 || i >= p.length || seen[i]) {
                        throw new IllegalArgumentException("not a permutation: " + Arrays.toString(p));
                    }
                    seen[i] = true;
                }
            }
        }
        return new NeuronOrder(perm);
    }

    static int[] byDescendingFrequency(float[] freq) {
        if (IntStream.range(0, freq.length).anyMatch(i -> Float.isNaN(freq[i]))) {
            return IntStream.range(0, freq.length).toArray();
        }
        return IntStream.range(0, freq.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -freq[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    /** Neuron {@code i} of the reordered FFN is neuron {@code permutation(l, e)[i]} of the original. */
    public int[] permutation(int layer, int expert) {
        return perm[layer][expert].clone();
    }

    int[] at(int layer, int expert) {
        return perm[layer][expert];
    }
}

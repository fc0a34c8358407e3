package dev.turbosparse.eval.export;

import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;

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
        float[][][] f = ActivationFrequencies.read(frequencies).frequencies();
        if (f.length != layers || f[0].length != experts) {
            throw new InputException(frequencies + ": holds " + f.length + " layers" + (f[0].length > 1 ? " of "
                    + f[0].length + " experts" : "") + "; it was not written for this model (" + layers + " layers"
                    + (config.isMoe() ? " of " + experts + " experts" : "") + ", tensors named like '"
                    + ActivationFrequencies.name(config, 0, 0) + "')");
        }
        int[][][] perm = new int[layers][experts][];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                if (f[l][e].length != inter) {
                    throw new InputException(frequencies + ": tensor '" + ActivationFrequencies.name(config, l, e)
                            + "' has shape [" + f[l][e].length + "], but the model's intermediate_size is " + inter);
                }
                perm[l][e] = byDescendingFrequency(f[l][e]);
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

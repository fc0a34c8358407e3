package dev.turbosparse.activations;

import ai.djl.ndarray.NDArray;

/**
 * Counts exact zeros of the FFN intermediate activation, per layer and per expert: the sparsity that a sparse FFN
 * can skip without changing the result. A dense model has one expert per layer.
 *
 * <p>Thread-safe: counts may come from several threads (one per micro-batch or device).
 */
public final class ZeroCounter implements FfnActivationObserver {

    private final int layers;
    private final int experts;
    private final long[] zeros;
    private final long[] elements;

    /**
     * @param layers number of decoder layers
     * @param experts experts per layer, 1 for a dense FFN
     */
    public ZeroCounter(int layers, int experts) {
        if (layers <= 0 || experts <= 0) {
            throw new IllegalArgumentException("layers and experts must be positive: " + layers + ", " + experts);
        }
        this.layers = layers;
        this.experts = experts;
        this.zeros = new long[layers * experts];
        this.elements = new long[layers * experts];
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }

    @Override
    public void observe(int layer, int expert, NDArray intermediate) {
        long n = intermediate.size();
        long z = n == 0 ? 0 : intermediate.eq(0f).countNonzero().getLong();
        add(layer, expert, z, n);
    }

    /** Counts {@code h[from, to)} of a float array: the scalar twin of {@link #observe}. */
    public void count(int layer, int expert, float[] intermediate, int from, int to) {
        long z = 0;
        for (int i = from; i < to; i++) {
            if (intermediate[i] == 0f) {
                z++;
            }
        }
        add(layer, expert, z, to - from);
    }

    private synchronized void add(int layer, int expert, long zeroCount, long elementCount) {
        int i = index(layer, expert);
        zeros[i] += zeroCount;
        elements[i] += elementCount;
    }

    private int index(int layer, int expert) {
        if (layer < 0 || layer >= layers || expert < 0 || expert >= experts) {
            throw new IndexOutOfBoundsException("layer " + layer + " expert " + expert + " outside " + layers
                    + " layers x " + experts + " experts");
        }
        return layer * experts + expert;
    }

    /** Elements counted for a layer and expert (tokens x intermediate_size). */
    public synchronized long elements(int layer, int expert) {
        return elements[index(layer, expert)];
    }

    /** Zeros counted for a layer and expert. */
    public synchronized long zeros(int layer, int expert) {
        return zeros[index(layer, expert)];
    }

    /** The fraction of exact zeros, NaN where nothing was counted (an expert that received no token). */
    public synchronized double zeroFraction(int layer, int expert) {
        int i = index(layer, expert);
        return elements[i] == 0 ? Double.NaN : (double) zeros[i] / elements[i];
    }

    /** Per layer, the zero fraction over all experts' elements together. */
    public synchronized double[] zeroFractionPerLayer() {
        double[] out = new double[layers];
        for (int l = 0; l < layers; l++) {
            long z = 0;
            long n = 0;
            for (int e = 0; e < experts; e++) {
                z += zeros[l * experts + e];
                n += elements[l * experts + e];
            }
            out[l] = n == 0 ? Double.NaN : (double) z / n;
        }
        return out;
    }

    /** [layer][expert] zero fractions. */
    public synchronized double[][] zeroFractionPerExpert() {
        double[][] out = new double[layers][experts];
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                out[l][e] = zeroFraction(l, e);
            }
        }
        return out;
    }

    /** Forgets all counts. */
    public synchronized void reset() {
        java.util.Arrays.fill(zeros, 0);
        java.util.Arrays.fill(elements, 0);
    }
}

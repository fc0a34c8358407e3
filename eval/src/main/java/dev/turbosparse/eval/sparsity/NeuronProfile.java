package dev.turbosparse.eval.sparsity;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.turbosparse.activations.FfnActivationObserver;

/**
 * What the FFN intermediate activation {@code h} did over the tokens a model saw, per layer and expert: how many
 * tokens reached it, how many of its entries were exactly zero, and how often each neuron was not zero (its
 * activation frequency, which orders neurons hot-first for export). A dense FFN is one expert per layer.
 *
 * <p>Thread-safe; counts from several forward passes add up.
 */
public final class NeuronProfile implements FfnActivationObserver {

    private final int layers;
    private final int experts;
    private final int neurons;
    private final long[] tokens;
    private final long[][] active;

    /**
     * @param layers decoder layers
     * @param experts experts per layer, 1 for a dense FFN
     * @param neurons the intermediate size
     */
    public NeuronProfile(int layers, int experts, int neurons) {
        if (layers <= 0 || experts <= 0 || neurons <= 0) {
            throw new IllegalArgumentException("layers, experts and neurons must be positive: " + layers + ", "
                    + experts + ", " + neurons);
        }
        this.layers = layers;
        this.experts = experts;
        this.neurons = neurons;
        this.tokens = new long[layers * experts];
        this.active = new long[layers * experts][neurons];
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }

    public int neurons() {
        return neurons;
    }

    @Override
    public void observe(int layer, int expert, NDArray intermediate) {
        long n = intermediate.size();
        if (n == 0) {
            return;
        }
        if (n % neurons != 0) {
            throw new IllegalArgumentException("layer " + layer + " expert " + expert + ": activation of shape "
                    + intermediate.getShape() + " is not a multiple of " + neurons + " neurons");
        }
        NDArray rows = intermediate.reshape(-1, neurons);
        long[] perNeuron = rows.neq(0f).toType(DataType.INT64, false).sum(new int[] {0}).toLongArray();
        add(layer, expert, n / neurons, perNeuron);
    }

    /** Counts {@code rows} tokens of a row-major (rows, neurons) float array: the scalar twin of {@link #observe}. */
    public void count(int layer, int expert, float[] intermediate, int rows) {
        long[] perNeuron = new long[neurons];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < neurons; j++) {
                if (intermediate[r * neurons + j] != 0f) {
                    perNeuron[j]++;
                }
            }
        }
        add(layer, expert, rows, perNeuron);
    }

    private synchronized void add(int layer, int expert, long rows, long[] perNeuron) {
        int i = index(layer, expert);
        tokens[i] += rows;
        long[] a = active[i];
        for (int j = 0; j < neurons; j++) {
            a[j] += perNeuron[j];
        }
    }

    private int index(int layer, int expert) {
        if (layer < 0 || layer >= layers || expert < 0 || expert >= experts) {
            throw new IndexOutOfBoundsException("layer " + layer + " expert " + expert + " outside " + layers
                    + " layers x " + experts + " experts");
        }
        return layer * experts + expert;
    }

    /** Tokens that reached a layer's expert (every token, for a dense FFN). */
    public synchronized long tokens(int layer, int expert) {
        return tokens[index(layer, expert)];
    }

    /**
     * Tokens that reached a layer: the (token, expert) pairs over its experts, divided by the experts each token is
     * routed to (1 for a dense FFN).
     */
    public synchronized long layerTokens(int layer, int expertsPerToken) {
        long routed = 0;
        for (int e = 0; e < experts; e++) {
            routed += tokens(layer, e);
        }
        return routed / expertsPerToken;
    }

    /** Entries of {@code h} that were exactly zero. */
    public synchronized long zeros(int layer, int expert) {
        int i = index(layer, expert);
        long nonzero = 0;
        for (long a : active[i]) {
            nonzero += a;
        }
        return tokens[i] * neurons - nonzero;
    }

    /** The fraction of exact zeros; NaN for an expert no token reached. */
    public synchronized double zeroFraction(int layer, int expert) {
        long t = tokens(layer, expert);
        return t == 0 ? Double.NaN : (double) zeros(layer, expert) / ((double) t * neurons);
    }

    /** A layer's zero fraction over all its experts' entries together; NaN if no token reached the layer. */
    public synchronized double zeroFraction(int layer) {
        long z = 0;
        long t = 0;
        for (int e = 0; e < experts; e++) {
            z += zeros(layer, e);
            t += tokens(layer, e);
        }
        return t == 0 ? Double.NaN : (double) z / ((double) t * neurons);
    }

    /** Per neuron, the fraction of the expert's tokens for which it was not zero (all NaN if none reached it). */
    public synchronized double[] activationFrequency(int layer, int expert) {
        int i = index(layer, expert);
        double[] f = new double[neurons];
        for (int j = 0; j < neurons; j++) {
            f[j] = tokens[i] == 0 ? Double.NaN : (double) active[i][j] / tokens[i];
        }
        return f;
    }

    /** Adds another profile's counts (of the same shape) to this one. */
    public void add(NeuronProfile other) {
        if (other.layers != layers || other.experts != experts || other.neurons != neurons) {
            throw new IllegalArgumentException("profiles of different shapes: " + other.layers + "x" + other.experts
                    + "x" + other.neurons + " vs " + layers + "x" + experts + "x" + neurons);
        }
        for (int l = 0; l < layers; l++) {
            for (int e = 0; e < experts; e++) {
                long t;
                long[] a;
                synchronized (other) {
                    t = other.tokens[other.index(l, e)];
                    a = other.active[other.index(l, e)].clone();
                }
                add(l, e, t, a);
            }
        }
    }
}

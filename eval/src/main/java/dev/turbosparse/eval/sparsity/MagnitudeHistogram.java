package dev.turbosparse.eval.sparsity;

import ai.djl.ndarray.NDArray;
import dev.turbosparse.activations.FfnActivationObserver;

/**
 * The distribution of {@code |h|}, the FFN intermediate activation's magnitudes, per layer and expert: a histogram
 * with {@value #BINS_PER_DECADE} log-spaced bins per decade from 1e-12 to 1e4, plus a bin for exact zeros. It gives
 * the magnitude below which a given share of the entries lies (a quantile, to within one bin: 0.6% relative), the
 * threshold that makes that share zero.
 */
public final class MagnitudeHistogram implements FfnActivationObserver {

    static final int BINS_PER_DECADE = 400;
    private static final int MIN_EXP = -12;
    private static final int MAX_EXP = 4;
    private static final int BINS = (MAX_EXP - MIN_EXP) * BINS_PER_DECADE;

    private final int layers;
    private final int experts;
    /** Per (layer, expert): [0] exact zeros, [1 + i] magnitudes in bin i (below 1e-12 go to bin 0, above 1e4 last). */
    private final long[][] counts;

    public MagnitudeHistogram(int layers, int experts) {
        this.layers = layers;
        this.experts = experts;
        this.counts = new long[layers * experts][BINS + 1];
    }

    @Override
    public void observe(int layer, int expert, NDArray intermediate) {
        if (intermediate.size() > 0) {
            count(layer, expert, intermediate.toFloatArray());
        }
    }

    /** Adds the magnitudes of {@code h}'s entries: the scalar twin of {@link #observe}. */
    public void count(int layer, int expert, float[] h) {
        long[] local = new long[BINS + 1];
        for (float v : h) {
            local[bin(Math.abs(v))]++;
        }
        synchronized (this) {
            long[] c = counts[layer * experts + expert];
            for (int i = 0; i < local.length; i++) {
                c[i] += local[i];
            }
        }
    }

    private static int bin(float magnitude) {
        if (magnitude == 0f) {
            return 0;
        }
        double b = (Math.log10(magnitude) - MIN_EXP) * BINS_PER_DECADE;
        return 1 + (int) Math.clamp(Math.floor(b), 0, BINS - 1);
    }

    /** The upper edge of bin {@code i} (1-based; 0 is exact zeros). */
    private static double upperEdge(int i) {
        return Math.pow(10, MIN_EXP + (double) i / BINS_PER_DECADE);
    }

    /**
     * The magnitude t such that zeroing every entry with {@code |h| < t} makes at least {@code share} of the entries
     * zero (counting those that already are): the upper edge of the bin where the cumulative count reaches the
     * share. 0 if the exact zeros alone reach it; NaN if the expert saw nothing.
     */
    public synchronized double threshold(int layer, int expert, double share) {
        if (share < 0 || share > 1) {
            throw new IllegalArgumentException("a share between 0 and 1, got " + share);
        }
        long[] c = counts[layer * experts + expert];
        long total = 0;
        for (long n : c) {
            total += n;
        }
        if (total == 0) {
            return Double.NaN;
        }
        double want = share * total;
        long cumulative = c[0];
        if (cumulative >= want) {
            return 0;
        }
        for (int i = 1; i < c.length; i++) {
            cumulative += c[i];
            if (cumulative >= want) {
                return upperEdge(i);
            }
        }
        return Double.POSITIVE_INFINITY;
    }

    public int layers() {
        return layers;
    }

    public int experts() {
        return experts;
    }
}

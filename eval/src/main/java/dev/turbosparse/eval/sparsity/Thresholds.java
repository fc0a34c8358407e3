package dev.turbosparse.eval.sparsity;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.turbosparse.activations.FfnActivationObserver;

/**
 * Zeroes the FFN intermediate activation's entries whose magnitude lies below a per-layer (per-expert) threshold,
 * then counts what remains into a {@link NeuronProfile}: training-free magnitude sparsity in the manner of CATS and
 * TEAL, applied to {@code h}, the vector the down projection reads, so that it sits on the same axis as the exact
 * zeros of dReLU.
 */
public final class Thresholds implements FfnActivationObserver {

    private final double[][] thresholds;
    private final NeuronProfile profile;

    /**
     * @param thresholds [layer][expert] magnitudes; 0 or NaN leaves that FFN as it is
     * @param profile counts the zeros after thresholding
     */
    public Thresholds(double[][] thresholds, NeuronProfile profile) {
        this.thresholds = thresholds;
        this.profile = profile;
    }

    /** The thresholds that zero {@code share} of each FFN's entries in a histogram of its magnitudes. */
    public static double[][] at(MagnitudeHistogram histogram, double share) {
        double[][] t = new double[histogram.layers()][histogram.experts()];
        for (int l = 0; l < t.length; l++) {
            for (int e = 0; e < t[l].length; e++) {
                t[l][e] = histogram.threshold(l, e, share);
            }
        }
        return t;
    }

    @Override
    public NDArray transform(int layer, int expert, NDArray h) {
        double t = thresholds[layer][expert];
        if (!(t > 0)) {
            return h;
        }
        NDArray keep = h.abs().gte((float) t).toType(DataType.FLOAT32, false);
        return h.mul(keep);
    }

    @Override
    public void observe(int layer, int expert, NDArray intermediate) {
        profile.observe(layer, expert, intermediate);
    }
}

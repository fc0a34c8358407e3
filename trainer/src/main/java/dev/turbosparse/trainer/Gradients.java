package dev.turbosparse.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.Collection;

/**
 * The gradients torch accumulates in the weights: their global norm, and clearing them (DJL's gradient collector
 * does not).
 */
final class Gradients {

    private Gradients() {}

    /** The L2 norm over all gradients together (NaN or infinite if any element is). */
    static double globalNorm(Collection<Parameter> params) {
        double sum = 0;
        for (Parameter p : params) {
            try (NDArray g = p.getArray().getGradient(); NDArray sq = g.square(); NDArray s = sq.sum();
                    NDArray s64 = s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false)) {
                sum += s64.getDouble();
            }
        }
        return Math.sqrt(sum);
    }

    /**
     * Sets a weight's gradient to zero in place, as torch's optimizers do ({@code grad.zero_()}): NaN-safe, and
     * nothing is allocated. (Assigning 0 through DJL's indexer instead leaked about a model's size of native memory
     * per training step: GradientsTest.)
     */
    static void clear(NDArray weight) {
        if (!(weight instanceof PtNDArray pt)) {
            throw new IllegalStateException("the trainer runs on the PyTorch engine, got " + weight.getClass());
        }
        JniUtils.zeroGrad(pt);
    }

    static void clearAll(Collection<Parameter> params) {
        for (Parameter p : params) {
            clear(p.getArray());
        }
    }
}

package dev.turbosparse.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Parameter;

import java.util.Collection;

/**
 * The gradients torch accumulates in the parameters: their global norm, whether they are finite, and clearing them
 * (DJL's gradient collector does not).
 */
final class Gradients {

    private Gradients() {}

    /** The L2 norm over all gradients together (NaN or infinite if any element is). */
    static double globalNorm(Collection<Parameter> params) {
        double sum = 0;
        for (Parameter p : params) {
            try (NDArray g = p.getArray().getGradient(); NDArray sq = g.square(); NDArray s = sq.sum()) {
                sum += s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
        }
        return Math.sqrt(sum);
    }

    /** Sets a gradient to zero in place; NaN-safe, unlike multiplying by 0. */
    static void clear(NDArray grad) {
        grad.set(new NDIndex("..."), 0);
    }

    static void clearAll(Collection<Parameter> params) {
        for (Parameter p : params) {
            try (NDArray g = p.getArray().getGradient()) {
                clear(g);
            }
        }
    }
}

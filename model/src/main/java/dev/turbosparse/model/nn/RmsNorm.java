package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.activations.TorchTensors;

/** RMSNorm as HF's MistralRMSNorm: {@code weight * (x * rsqrt(mean(x^2) + eps))}, computed in float32. */
public final class RmsNorm extends AbstractBlock {

    final Parameter weight; // (hidden)
    private final float eps;

    RmsNorm(String name, double eps) {
        this.weight = addParameter(Params.gamma(name));
        this.eps = (float) eps;
    }

    /** x: (..., hidden) → (..., hidden), in x's dtype. */
    NDArray forward(ParameterStore ps, NDArray x, boolean training) {
        NDArray w = ps.getValue(weight, x.getDevice(), training); // (hidden)
        DataType dtype = x.getDataType();
        NDArray x32 = Precision.atLeastFloat32(x);
        NDArray variance = x32.square().mean(new int[] {-1}, true); // (..., 1)
        NDArray normed = x32.div(variance.add(TorchTensors.scalar(variance, eps)).sqrt()); // (..., hidden)
        return normed.toType(dtype, false).mul(w);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(forward(ps, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

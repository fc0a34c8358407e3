package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Where HF computes in float32 (norms, softmax, loss), half-precision inputs are upcast; float64 stays float64. */
final class Precision {

    private Precision() {}

    static NDArray atLeastFloat32(NDArray x) {
        DataType t = x.getDataType();
        return t == DataType.FLOAT32 || t == DataType.FLOAT64 ? x : x.toType(DataType.FLOAT32, false);
    }
}

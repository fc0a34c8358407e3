package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;

import java.util.List;

/** Test helper: stacks arrays along a new leading axis. */
final class NDArrayStack {

    private NDArrayStack() {}

    static NDArray stack(List<NDArray> arrays) {
        return NDArrays.stack(new NDList(arrays.toArray(new NDArray[0])));
    }
}

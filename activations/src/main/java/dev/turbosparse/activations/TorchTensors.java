package dev.turbosparse.activations;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.ByteOrder;

/**
 * Tensors whose memory PyTorch owns, for everything autograd may keep until the backward pass.
 *
 * <p>Why: on CPU, DJL 0.36 builds tensors from Java data ({@code manager.create(float[])}, and the scalar behind
 * {@code x.mul(2f)}, {@code x.add(eps)}, {@code x.pow(-0.5f)}) as views of a Java direct buffer that torch does not
 * own. Arithmetic with a Java number closes that scalar right after the op, yet autograd has saved it for the
 * backward pass ({@code grad * 2}); once the garbage collector frees the buffer, backward reads freed memory and
 * returns garbage or NaN gradients, rarely and at random. A test reproduces it every time by forcing a collection
 * between forward and backward. Differentiable code in this project therefore never does arithmetic with a Java
 * number, and builds its constant tables here.
 */
public final class TorchTensors {

    private TorchTensors() {}

    /** A 0-d tensor of {@code like}'s dtype and device holding {@code value}, made by torch::full. */
    public static NDArray scalar(NDArray like, double value) {
        return like.getManager().full(new Shape(), (float) value, like.getDataType(), like.getDevice());
    }

    /** float32 data in a tensor torch owns. */
    public static NDArray floats(NDManager manager, float[] data, Shape shape) {
        if (!manager.getDevice().equals(Device.cpu())) {
            return manager.create(data, shape); // copied into device memory by the engine
        }
        NDArray a = manager.create(shape, DataType.FLOAT32); // torch::empty
        a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer().put(data);
        return a;
    }

    /** int64 data in a tensor torch owns. */
    public static NDArray longs(NDManager manager, long[] data, Shape shape) {
        if (!manager.getDevice().equals(Device.cpu())) {
            return manager.create(data, shape);
        }
        NDArray a = manager.create(shape, DataType.INT64);
        a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asLongBuffer().put(data);
        return a;
    }
}

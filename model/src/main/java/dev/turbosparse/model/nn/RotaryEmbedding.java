package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import dev.turbosparse.activations.TorchTensors;

/**
 * Rotary position embeddings in HF's rotate-half convention: dimension i is paired with i + headDim/2, the angle of
 * position p is {@code p * theta^(-2i/headDim)}, computed in float32 as transformers does.
 */
final class RotaryEmbedding {

    private final int headDim;
    private final float[] invFreq; // (headDim / 2)

    RotaryEmbedding(int headDim, double theta) {
        this.headDim = headDim;
        this.invFreq = new float[headDim / 2];
        for (int i = 0; i < invFreq.length; i++) {
            float exponent = (float) (2 * i) / headDim;
            invFreq[i] = 1.0f / (float) Math.pow(theta, exponent);
        }
    }

    /** cos and sin for positions [start, start + len), each (len, headDim), float32. */
    NDList cosSin(NDManager manager, long start, long len) {
        int n = Math.toIntExact(len);
        float[] cos = new float[n * headDim];
        float[] sin = new float[n * headDim];
        int half = headDim / 2;
        for (int p = 0; p < n; p++) {
            float pos = (float) (start + p);
            for (int i = 0; i < half; i++) {
                float angle = pos * invFreq[i];
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                cos[p * headDim + i] = c;
                cos[p * headDim + half + i] = c;
                sin[p * headDim + i] = s;
                sin[p * headDim + half + i] = s;
            }
        }
        Shape shape = new Shape(len, headDim);
        return new NDList(TorchTensors.floats(manager, cos, shape), TorchTensors.floats(manager, sin, shape));
    }

    /** x: (batch, heads, seq, headDim); cos, sin: (seq, headDim). Returns {@code x*cos + rotate_half(x)*sin}. */
    static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        return x.mul(cos).add(rotateHalf(x).mul(sin));
    }

    /** (x1, x2) → (-x2, x1) over the last axis split in halves. */
    static NDArray rotateHalf(NDArray x) {
        int last = x.getShape().dimension() - 1; // DJL's split takes no negative axis
        NDList halves = x.split(2, last);
        return NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), last);
    }
}

package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.activations.TorchTensors;

import java.util.List;

/**
 * What every layer of one forward pass shares: the parameter store, the rotary tables and the attention mask for
 * this pass's positions, the KV cache, and who watches the FFN activations.
 *
 * @param cos (seq, headDim) rotary cosines for positions [start, start + seq)
 * @param sin (seq, headDim)
 * @param mask (seq, start + seq) float32: 0 where a query may attend a key, float32 min where it may not
 * @param start position of the first token of this pass (the cache length before it)
 * @param cache null for a full-sequence pass
 * @param observer null if nobody watches
 * @param routerLogits where MoE layers put their router logits, or null
 */
record ForwardContext(ParameterStore ps, boolean training, NDArray cos, NDArray sin, NDArray mask, long start,
        KvCache cache, FfnActivationObserver observer, List<NDArray> routerLogits) {

    /** The context of a pass over positions [start, start + seq), its arrays made in {@code manager}. */
    static ForwardContext of(ParameterStore ps, boolean training, NDManager manager, RotaryEmbedding rope,
            Integer slidingWindow, long start, long seq, KvCache cache, FfnActivationObserver observer,
            List<NDArray> routerLogits) {
        NDList cs = rope.cosSin(manager, start, seq);
        NDArray mask = causalMask(manager, start, seq, slidingWindow);
        return new ForwardContext(ps, training, cs.get(0), cs.get(1), mask, start, cache, observer, routerLogits);
    }

    /** The context of a block run on its own: one causal pass over positions 0..seq-1 of x, no cache. */
    static ForwardContext standalone(ParameterStore ps, boolean training, NDArray x, RotaryEmbedding rope,
            Integer slidingWindow) {
        return of(ps, training, x.getManager(), rope, slidingWindow, 0, x.getShape().get(1), null, null, null);
    }

    /**
     * The additive mask of queries at positions [start, start + seq) over keys at [0, start + seq): query i sees key
     * j iff {@code j <= i} and, with a sliding window W, {@code j > i - W} (W keys including itself), the rule of
     * transformers' eager/SDPA masks.
     */
    static NDArray causalMask(NDManager manager, long start, long seq, Integer slidingWindow) {
        int keys = Math.toIntExact(start + seq);
        NDArray qPos = manager.arange(Math.toIntExact(start), keys, 1, DataType.INT64).reshape(seq, 1); // (seq, 1)
        NDArray kPos = manager.arange(0, keys, 1, DataType.INT64).reshape(1, keys); // (1, keys)
        NDArray visible = kPos.lte(qPos); // (seq, keys)
        if (slidingWindow != null) {
            visible = visible.logicalAnd(kPos.gt(qPos.sub(slidingWindow.longValue())));
        }
        NDArray hidden = visible.logicalNot().toType(DataType.FLOAT32, false);
        return hidden.mul(TorchTensors.scalar(hidden, -Float.MAX_VALUE));
    }
}

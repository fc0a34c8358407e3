package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/** Next-token cross-entropy, as HF's causal LM loss, computed in (at least) float32. */
public final class LmLoss {

    private LmLoss() {}

    /**
     * Per-position negative log-likelihood of {@code targets} under {@code logits}, computed in float32.
     *
     * @param logits (batch, seq, vocab)
     * @param targets (batch, seq) ids
     * @return (batch, seq)
     */
    public static NDArray tokenNll(NDArray logits, NDArray targets) {
        NDArray logProbs = Precision.atLeastFloat32(logits).logSoftmax(-1); // (batch, seq, vocab)
        NDArray idx = targets.toType(DataType.INT64, false).expandDims(-1); // (batch, seq, 1)
        return logProbs.gather(idx, 2).squeeze(-1).neg(); // (batch, seq)
    }

    /**
     * The loss of predicting each next token of {@code ids} from the logits of the same ids: {@code logits[:, t]}
     * against {@code ids[:, t + 1]} for t < seq - 1, averaged per sequence.
     *
     * @return (batch)
     */
    public static NDArray perSequence(NDArray logits, NDArray ids) {
        NDArray shifted = logits.get(new NDIndex(":, :-1, :")); // (batch, seq - 1, vocab)
        NDArray targets = ids.get(new NDIndex(":, 1:")); // (batch, seq - 1)
        return tokenNll(shifted, targets).mean(new int[] {1});
    }

    /** The mean next-token loss over every prediction of the batch (HF's loss with labels = input ids). */
    public static NDArray mean(NDArray logits, NDArray ids) {
        NDArray shifted = logits.get(new NDIndex(":, :-1, :"));
        NDArray targets = ids.get(new NDIndex(":, 1:"));
        return tokenNll(shifted, targets).mean();
    }
}

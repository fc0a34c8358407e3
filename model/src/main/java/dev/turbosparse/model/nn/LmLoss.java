package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.activations.TorchTensors;

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

    /**
     * The mean next-token loss (nats) of a model, without gradients, over {@code rows} token sequences of
     * {@code width} each (row-major): each row's first {@code width - 1} tokens are fed in and every position is
     * scored against the token after it. {@code batch} rows a forward pass, each in its own sub-manager of the
     * model's.
     *
     * @param observer sees (and may transform) the FFN activations, or null
     */
    public static double meanOverRows(CausalLM model, ParameterStore ps, int[] tokens, int rows, int width, int batch,
            FfnActivationObserver observer) {
        if (rows <= 0 || width < 2 || batch <= 0 || tokens.length != (long) rows * width) {
            throw new IllegalArgumentException(tokens.length + " tokens are not " + rows + " rows of " + width
                    + " (at least 2)");
        }
        CausalLM.Options options = CausalLM.Options.DEFAULT.withObserver(observer);
        double sum = 0;
        for (int r = 0; r < rows; r += batch) {
            int b = Math.min(batch, rows - r);
            long[] ids = new long[b * width];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = tokens[r * width + i];
            }
            try (NDManager m = model.manager().newSubManager()) {
                NDArray all = TorchTensors.longs(m, ids, new Shape(b, width));
                NDArray logits = model.forward(ps, all.get(new NDIndex(":, :-1")), options, false).logits();
                sum += tokenNll(logits, all.get(new NDIndex(":, 1:"))).sum().getFloat();
            }
        }
        return sum / ((double) rows * (width - 1));
    }

    /** The mean next-token loss over every prediction of the batch (HF's loss with labels = input ids). */
    public static NDArray mean(NDArray logits, NDArray ids) {
        NDArray shifted = logits.get(new NDIndex(":, :-1, :"));
        NDArray targets = ids.get(new NDIndex(":, 1:"));
        return tokenNll(shifted, targets).mean();
    }
}

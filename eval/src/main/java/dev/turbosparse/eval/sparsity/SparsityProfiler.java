package dev.turbosparse.eval.sparsity;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.nn.CausalLM;
import java.util.Arrays;
import java.util.function.LongConsumer;

/** Runs a model over token sequences and records what its FFN activations did ({@link NeuronProfile}). */
public final class SparsityProfiler {

    private SparsityProfiler() {}

    /** An empty profile of a model's shape. */
    public static NeuronProfile emptyProfile(CausalLM model) {
        return new NeuronProfile(model.config().numHiddenLayers(), model.config().numExperts(),
                model.config().intermediateSize());
    }

    /**
     * Profiles {@code rows} sequences of {@code length} tokens each (row-major in {@code tokens}), {@code batch}
     * sequences a forward pass, into {@code profile} (a {@link NeuronProfile}, or any observer).
     *
     * @param progress told the tokens done after every batch, or null
     * @throws IllegalArgumentException if a token lies outside the model's vocabulary
     */
    public static void profile(CausalLM model, int[] tokens, int rows, int length, int batch,
            FfnActivationObserver profile, LongConsumer progress) {
        if (rows < 0 || length <= 0 || batch <= 0 || tokens.length != (long) rows * length) {
            throw new IllegalArgumentException(tokens.length + " tokens are not " + rows + " rows of " + length);
        }
        CausalLM.Options options = CausalLM.Options.DEFAULT.withObserver(profile).withLastPositionOnly(true);
        long done = 0;
        for (int r = 0; r < rows; r += batch) {
            int b = Math.min(batch, rows - r);
            long[] ids = Arrays.stream(tokens, r * length, (r + b) * length).asLongStream().toArray();
            try (NDManager m = model.manager().newSubManager()) {
                NDArray input = TorchTensors.longs(m, ids, new Shape(b, length));
                model.forward(new ParameterStore(m, false), input, options, false);
            }
            done += (long) b * length;
            if (progress != null) {
                progress.accept(done);
            }
        }
    }
}

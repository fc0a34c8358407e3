package dev.turbosparse.activations;

import ai.djl.ndarray.NDArray;

/**
 * Sees the FFN intermediate activation {@code h} of every layer (and expert) during a forward pass: the counters of
 * sparsity, the profilers of neuron frequency and the collectors of predictor training data all start here.
 *
 * <p>The array belongs to the forward pass: read it, do not keep it. For a dense FFN {@code expert} is 0; for a
 * mixture of experts, {@code h} holds only the tokens routed to {@code expert}.
 */
@FunctionalInterface
public interface FfnActivationObserver {

    /**
     * @param layer decoder layer index
     * @param expert expert index, 0 for a dense FFN
     * @param intermediate {@code h}, shape (tokens, intermediate_size) or (batch, seq, intermediate_size)
     */
    void observe(int layer, int expert, NDArray intermediate);

    /**
     * Sees a layer's FFN input before its RMSNorm: the residual stream after attention, what activation predictors
     * read (TurboSparse, PowerInfer). The default ignores it.
     *
     * @param residual shape (batch, seq, hidden)
     */
    default void observeFfnInput(int layer, NDArray residual) {}

    /**
     * Lets the observer change {@code h} before the down projection (and before {@link #observe} sees it), e.g. to
     * zero entries below a threshold; the default keeps it.
     *
     * @return the activation the FFN goes on with, of the same shape
     */
    default NDArray transform(int layer, int expert, NDArray intermediate) {
        return intermediate;
    }
}

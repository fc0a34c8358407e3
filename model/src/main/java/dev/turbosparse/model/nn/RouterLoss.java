package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

import dev.turbosparse.activations.TorchTensors;

import java.util.List;

/** Mixtral's router load-balancing loss, with transformers' {@code load_balancing_loss_func} semantics. */
public final class RouterLoss {

    private RouterLoss() {}

    /**
     * {@code E * Σ_e f_e · P_e} over the router logits of all layers together, where f_e is the fraction of
     * (token, slot) choices that picked expert e (per top-k slot) and P_e the mean router probability of e. Not
     * scaled by {@code router_aux_loss_coef}. No attention mask: every row counts.
     *
     * @param routerLogits per layer (tokens, experts)
     * @return a scalar
     */
    public static NDArray loadBalancing(List<NDArray> routerLogits, int numExperts, int topK) {
        NDArray logits = NDArrays.concat(new NDList(routerLogits.toArray(new NDArray[0])), 0); // (layers * tokens, E)
        NDArray probs = Precision.atLeastFloat32(logits).softmax(-1); // (N, E)
        NDArray selected = probs.argSort(-1, false).get(new NDIndex(":, :{}", topK)); // (N, topK)
        NDArray expertMask = selected.oneHot(numExperts).toType(DataType.FLOAT32, false); // (N, topK, E)
        NDArray tokensPerExpert = expertMask.mean(new int[] {0}); // (topK, E)
        NDArray probPerExpert = probs.mean(new int[] {0}); // (E)
        NDArray loss = tokensPerExpert.mul(probPerExpert.expandDims(0)).sum();
        return loss.mul(TorchTensors.scalar(loss, numExperts));
    }
}

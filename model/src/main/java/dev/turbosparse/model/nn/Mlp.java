package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.activations.FfnActivationObserver;

/**
 * The gated FFN: {@code down(act(gate(x)) ⊙ up(x))}, or {@code down(relu(gate(x)) ⊙ relu(up(x)))} for dReLU. HF's
 * MistralMLP, and each of Mixtral's experts (whose w1, w3, w2 are gate, up, down).
 */
public final class Mlp extends AbstractBlock {

    final Parameter gateProj; // (intermediate, hidden)
    final Parameter upProj; // (intermediate, hidden)
    final Parameter downProj; // (hidden, intermediate)
    private final FfnActivation activation;
    private final int layer;
    private final int expert;

    Mlp(String prefix, FfnActivation activation, int layer, int expert) {
        this.gateProj = addParameter(Params.weight(prefix + "gateProj"));
        this.upProj = addParameter(Params.weight(prefix + "upProj"));
        this.downProj = addParameter(Params.weight(prefix + "downProj"));
        this.activation = activation;
        this.layer = layer;
        this.expert = expert;
    }

    /**
     * x: (..., hidden) → (..., hidden). The observer, if any, may transform the intermediate activation h, then sees
     * it.
     */
    NDArray forward(ParameterStore ps, NDArray x, boolean training, FfnActivationObserver observer) {
        NDArray gate = Linear.linear(x, ps.getValue(gateProj, x.getDevice(), training)).singletonOrThrow(); // (..., inter)
        NDArray up = Linear.linear(x, ps.getValue(upProj, x.getDevice(), training)).singletonOrThrow(); // (..., inter)
        NDArray h = activation.apply(gate, up); // (..., inter)
        if (observer != null) {
            h = observer.transform(layer, expert, h);
            observer.observe(layer, expert, h);
        }
        return Linear.linear(h, ps.getValue(downProj, x.getDevice(), training)).singletonOrThrow(); // (..., hidden)
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
        return new NDList(forward(ps, inputs.singletonOrThrow(), training, null));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.config.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Mixtral's sparse mixture of experts, with HF's MixtralSparseMoeBlock semantics: router logits, softmax over all
 * experts in float32, the top-k kept and renormalised to sum 1, output {@code Σ weight_e · expert_e(x)}. Each
 * expert computes only the tokens routed to it; the combination uses gathers and a concat only, so that gradients
 * reach the experts, the router and the input.
 */
public final class SparseMoeBlock extends AbstractBlock {

    final Parameter router; // (experts, hidden): HF's block_sparse_moe.gate
    final List<Mlp> experts;
    private final int topK;
    private final float jitterNoise;

    SparseMoeBlock(String prefix, ModelConfig c, int layer) {
        this.router = addParameter(Params.weight(prefix + "router"));
        this.experts = new ArrayList<>();
        for (int e = 0; e < c.numExperts(); e++) {
            experts.add(addChildBlock("expert" + e,
                    new Mlp(prefix + "experts." + e + ".", c.activation(), layer, e)));
        }
        this.topK = c.expertsPerToken();
        this.jitterNoise = c instanceof dev.turbosparse.model.config.MixtralConfig m ? (float) m.routerJitterNoise() : 0f;
    }

    /**
     * x: (batch, seq, hidden) → NDList(out (batch, seq, hidden), routerLogits (batch * seq, experts)).
     */
    NDList forward(ParameterStore ps, NDArray x, boolean training, FfnActivationObserver observer) {
        Shape shape = x.getShape();
        long hidden = shape.get(shape.dimension() - 1);
        NDArray flat = x.reshape(-1, hidden); // (tokens, hidden)
        long tokens = flat.getShape().get(0);
        if (training && jitterNoise > 0) {
            flat = flat.mul(flat.getManager().randomUniform(1 - jitterNoise, 1 + jitterNoise, flat.getShape(),
                    flat.getDataType()));
        }
        NDArray routerLogits = Linear.linear(flat, ps.getValue(router, x.getDevice(), training)).singletonOrThrow(); // (tokens, experts)
        if (tokens == 0) {
            return new NDList(x.zerosLike(), routerLogits); // nothing to route
        }
        NDArray probs = Precision.atLeastFloat32(routerLogits).softmax(-1); // (tokens, experts)

        // Top-k by probability: the choice carries no gradient, the kept probabilities do.
        NDArray selected = probs.argSort(-1, false).get(new NDIndex(":, :{}", topK)); // (tokens, topK) int64
        NDArray weights = probs.gather(selected, 1); // (tokens, topK)
        weights = weights.div(weights.sum(new int[] {1}, true)).toType(x.getDataType(), false).reshape(-1); // (tokens * topK)

        // Group the (token, slot) pairs by expert, on the host: tokens * topK small integers.
        long[] choice = selected.toLongArray();
        int pairs = choice.length;
        int[] perExpert = new int[experts.size()];
        for (long e : choice) {
            perExpert[(int) e]++;
        }
        NDManager m = flat.getManager();
        NDList outputs = new NDList();
        long[] rowOfPair = new long[pairs];
        int row = 0;
        for (int e = 0; e < experts.size(); e++) {
            if (perExpert[e] == 0) {
                continue;
            }
            long[] pairIds = new long[perExpert[e]];
            long[] tokenIds = new long[perExpert[e]];
            int n = 0;
            for (int p = 0; p < pairs; p++) {
                if (choice[p] == e) {
                    pairIds[n] = p;
                    tokenIds[n] = p / topK;
                    rowOfPair[p] = row + n;
                    n++;
                }
            }
            NDArray xe = flat.get(new NDIndex("{}", TorchTensors.longs(m, tokenIds, new Shape(tokenIds.length)))); // (n, hidden)
            NDArray ye = experts.get(e).forward(ps, xe, training, observer); // (n, hidden)
            NDArray we = weights.get(new NDIndex("{}", TorchTensors.longs(m, pairIds, new Shape(pairIds.length)))).expandDims(1); // (n, 1)
            outputs.add(ye.mul(we));
            row += n;
        }
        NDArray byExpert = NDArrays.concat(outputs, 0); // (tokens * topK, hidden), grouped by expert
        NDArray out = byExpert.get(new NDIndex("{}", TorchTensors.longs(m, rowOfPair, new Shape(rowOfPair.length)))) // (tokens * topK, hidden), pair order
                .reshape(tokens, topK, hidden).sum(new int[] {1}); // (tokens, hidden)
        return new NDList(out.reshape(shape), routerLogits);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
        return forward(ps, inputs.singletonOrThrow(), training, null);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape x = inputShapes[0];
        return new Shape[] {x, new Shape(x.size() / x.get(x.dimension() - 1), experts.size())};
    }
}

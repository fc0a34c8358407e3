package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.config.ModelConfig;

/**
 * Grouped-query self-attention as HF's MistralAttention (eager path): q/k/v projections without bias, rotary
 * embeddings on q and k, scores scaled by headDim^-0.5 plus the causal (and sliding-window) mask, softmax in float32,
 * o projection. Query head h reads KV head {@code h / (heads / kvHeads)}, as {@code repeat_kv} arranges.
 */
public final class Attention extends AbstractBlock {

    final Parameter qProj; // (heads * headDim, hidden)
    final Parameter kProj; // (kvHeads * headDim, hidden)
    final Parameter vProj; // (kvHeads * headDim, hidden)
    final Parameter oProj; // (hidden, heads * headDim)
    private final int layer;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final float scale;
    private final RotaryEmbedding rope;
    private final Integer slidingWindow;

    Attention(String prefix, int layer, ModelConfig c, RotaryEmbedding rope) {
        this.qProj = addParameter(Params.weight(prefix + "qProj"));
        this.kProj = addParameter(Params.weight(prefix + "kProj"));
        this.vProj = addParameter(Params.weight(prefix + "vProj"));
        this.oProj = addParameter(Params.weight(prefix + "oProj"));
        this.layer = layer;
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        this.headDim = c.headDim();
        this.scale = (float) Math.pow(headDim, -0.5);
        this.rope = rope;
        this.slidingWindow = c.slidingWindow();
    }

    /** x: (batch, seq, hidden) → (batch, seq, hidden). */
    NDArray forward(ForwardContext ctx, NDArray x) {
        ParameterStore ps = ctx.ps();
        long batch = x.getShape().get(0);
        long seq = x.getShape().get(1);
        int groups = heads / kvHeads;

        NDArray q = Linear.linear(x, ps.getValue(qProj, x.getDevice(), ctx.training())).singletonOrThrow()
                .reshape(batch, seq, heads, headDim).transpose(0, 2, 1, 3); // (batch, heads, seq, headDim)
        NDArray k = Linear.linear(x, ps.getValue(kProj, x.getDevice(), ctx.training())).singletonOrThrow()
                .reshape(batch, seq, kvHeads, headDim).transpose(0, 2, 1, 3); // (batch, kvHeads, seq, headDim)
        NDArray v = Linear.linear(x, ps.getValue(vProj, x.getDevice(), ctx.training())).singletonOrThrow()
                .reshape(batch, seq, kvHeads, headDim).transpose(0, 2, 1, 3); // (batch, kvHeads, seq, headDim)

        q = RotaryEmbedding.apply(q, ctx.cos(), ctx.sin());
        k = RotaryEmbedding.apply(k, ctx.cos(), ctx.sin());

        if (ctx.cache() != null) {
            NDList kv = ctx.cache().append(layer, k, v, ctx.start()); // each (batch, kvHeads, start + seq, headDim)
            k = kv.get(0);
            v = kv.get(1);
        }
        long keys = k.getShape().get(2);

        // Group the query heads by the KV head they read: head h = kvHead * groups + g.
        NDArray qg = q.reshape(batch, kvHeads, groups, seq, headDim); // (batch, kvHeads, groups, seq, headDim)
        NDArray kT = k.expandDims(2).transpose(0, 1, 2, 4, 3); // (batch, kvHeads, 1, headDim, keys)
        NDArray scores = qg.matMul(kT); // (batch, kvHeads, groups, seq, keys)
        scores = scores.mul(TorchTensors.scalar(scores, scale));
        DataType dtype = scores.getDataType();
        NDArray probs = Precision.atLeastFloat32(scores).add(ctx.mask()) // mask: (seq, keys)
                .softmax(-1).toType(dtype, false);
        NDArray out = probs.matMul(v.expandDims(2)); // (batch, kvHeads, groups, seq, headDim)
        out = out.reshape(batch, heads, seq, headDim).transpose(0, 2, 1, 3)
                .reshape(batch, seq, (long) heads * headDim); // (batch, seq, heads * headDim)
        assert keys == ctx.mask().getShape().get(1);
        return Linear.linear(out, ps.getValue(oProj, x.getDevice(), ctx.training())).singletonOrThrow();
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
        // Standalone: one causal pass over positions 0..seq-1, no cache.
        NDArray x = inputs.singletonOrThrow(); // (batch, seq, hidden)
        ForwardContext ctx = ForwardContext.standalone(ps, training, x, rope, slidingWindow);
        return new NDList(forward(ctx, x));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

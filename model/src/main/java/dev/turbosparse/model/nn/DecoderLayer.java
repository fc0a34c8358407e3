package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.model.config.ModelConfig;

/**
 * One pre-norm decoder layer: {@code x += attention(norm(x)); x += ffn(norm(x))}, where the FFN is a gated
 * {@link Mlp} (Mistral) or a {@link SparseMoeBlock} (Mixtral).
 */
public final class DecoderLayer extends AbstractBlock {

    final RmsNorm inputNorm;
    final Attention attention;
    final RmsNorm postAttentionNorm;
    final Mlp mlp; // dense FFN, or null
    final SparseMoeBlock moe; // mixture of experts, or null
    private final int layer;
    private final RotaryEmbedding rope;
    private final Integer slidingWindow;

    DecoderLayer(int layer, ModelConfig c, RotaryEmbedding rope) {
        this.layer = layer;
        String prefix = "layers." + layer + ".";
        this.inputNorm = addChildBlock("inputNorm", new RmsNorm(prefix + "inputNorm", c.rmsNormEps()));
        this.attention = addChildBlock("attention", new Attention(prefix + "attention.", layer, c, rope));
        this.postAttentionNorm = addChildBlock("postAttentionNorm",
                new RmsNorm(prefix + "postAttentionNorm", c.rmsNormEps()));
        if (c.isMoe()) {
            this.mlp = null;
            this.moe = addChildBlock("moe", new SparseMoeBlock(prefix + "moe.", c, layer));
        } else {
            this.mlp = addChildBlock("mlp", new Mlp(prefix + "mlp.", c.activation(), layer, 0));
            this.moe = null;
        }
        this.rope = rope;
        this.slidingWindow = c.slidingWindow();
    }

    /** x: (batch, seq, hidden) → (batch, seq, hidden). */
    NDArray forward(ForwardContext ctx, NDArray x) {
        NDArray h = x.add(attention.forward(ctx, inputNorm.forward(ctx.ps(), x, ctx.training())));
        if (ctx.observer() != null) {
            ctx.observer().observeFfnInput(layer, h);
        }
        NDArray normed = postAttentionNorm.forward(ctx.ps(), h, ctx.training());
        NDArray ffn;
        if (moe != null) {
            NDList out = moe.forward(ctx.ps(), normed, ctx.training(), ctx.observer());
            if (ctx.routerLogits() != null) {
                ctx.routerLogits().add(out.get(1));
            }
            ffn = out.get(0);
        } else {
            ffn = mlp.forward(ctx.ps(), normed, ctx.training(), ctx.observer());
        }
        return h.add(ffn);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
        NDArray x = inputs.singletonOrThrow(); // (batch, seq, hidden), positions 0..seq-1
        ForwardContext ctx = ForwardContext.standalone(ps, training, x, rope, slidingWindow);
        return new NDList(forward(ctx, x));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }
}

package dev.turbosparse.model.nn;

import dev.turbosparse.model.config.ModelConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The one table between Hugging Face tensor names and this project's parameters: for every weight of a
 * Mistral/Mixtral model, its HF name, the internal parameter name of our blocks, the shape config.json implies, and
 * its role (for parameter accounting). Loaders assert each shape against it; savers write exactly these names.
 *
 * <p>Mixtral's experts name their projections w1 (gate), w3 (up) and w2 (down); internally every gated FFN says
 * gateProj, upProj, downProj.
 */
public final class HfWeightMap {

    /** What a weight is for: the rows of {@code turbosparse inspect}. */
    public enum Role {
        EMBEDDING, ATTENTION, NORM, FFN, ROUTER, LM_HEAD
    }

    /** One row of the table. */
    public record Entry(String hfName, String internalName, long[] shape, Role role) {
        public Entry {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        @Override
        public String toString() {
            return hfName + " -> " + internalName + " " + Arrays.toString(shape);
        }
    }

    private HfWeightMap() {}

    /** The table for a config, in checkpoint order: embeddings, layers, final norm, lm head. */
    public static List<Entry> entries(ModelConfig c) {
        long hidden = c.hiddenSize();
        long inter = c.intermediateSize();
        long qDim = (long) c.numAttentionHeads() * c.headDim();
        long kvDim = (long) c.numKeyValueHeads() * c.headDim();
        List<Entry> t = new ArrayList<>();
        t.add(new Entry("model.embed_tokens.weight", "embedTokens", new long[] {c.vocabSize(), hidden}, Role.EMBEDDING));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String hf = "model.layers." + i + ".";
            String in = "layers." + i + ".";
            t.add(new Entry(hf + "input_layernorm.weight", in + "inputNorm", new long[] {hidden}, Role.NORM));
            t.add(new Entry(hf + "self_attn.q_proj.weight", in + "attention.qProj", new long[] {qDim, hidden}, Role.ATTENTION));
            t.add(new Entry(hf + "self_attn.k_proj.weight", in + "attention.kProj", new long[] {kvDim, hidden}, Role.ATTENTION));
            t.add(new Entry(hf + "self_attn.v_proj.weight", in + "attention.vProj", new long[] {kvDim, hidden}, Role.ATTENTION));
            t.add(new Entry(hf + "self_attn.o_proj.weight", in + "attention.oProj", new long[] {hidden, qDim}, Role.ATTENTION));
            t.add(new Entry(hf + "post_attention_layernorm.weight", in + "postAttentionNorm", new long[] {hidden}, Role.NORM));
            if (!c.isMoe()) {
                t.add(new Entry(hf + "mlp.gate_proj.weight", in + "mlp.gateProj", new long[] {inter, hidden}, Role.FFN));
                t.add(new Entry(hf + "mlp.up_proj.weight", in + "mlp.upProj", new long[] {inter, hidden}, Role.FFN));
                t.add(new Entry(hf + "mlp.down_proj.weight", in + "mlp.downProj", new long[] {hidden, inter}, Role.FFN));
            } else {
                t.add(new Entry(hf + "block_sparse_moe.gate.weight", in + "moe.router",
                        new long[] {c.numExperts(), hidden}, Role.ROUTER));
                for (int e = 0; e < c.numExperts(); e++) {
                    String hx = hf + "block_sparse_moe.experts." + e + ".";
                    String ix = in + "moe.experts." + e + ".";
                    t.add(new Entry(hx + "w1.weight", ix + "gateProj", new long[] {inter, hidden}, Role.FFN));
                    t.add(new Entry(hx + "w3.weight", ix + "upProj", new long[] {inter, hidden}, Role.FFN));
                    t.add(new Entry(hx + "w2.weight", ix + "downProj", new long[] {hidden, inter}, Role.FFN));
                }
            }
        }
        t.add(new Entry("model.norm.weight", "norm", new long[] {hidden}, Role.NORM));
        if (!c.tieWordEmbeddings()) {
            t.add(new Entry("lm_head.weight", "lmHead", new long[] {c.vocabSize(), hidden}, Role.LM_HEAD));
        }
        return t;
    }
}

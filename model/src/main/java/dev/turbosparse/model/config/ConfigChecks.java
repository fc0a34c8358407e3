package dev.turbosparse.model.config;

import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.activations.FfnActivation;

/** Consistency checks shared by the config records; each failure names the config.json field. */
final class ConfigChecks {

    private ConfigChecks() {}

    static int defaultHeadDim(Integer hiddenSize, Integer numAttentionHeads) {
        if (hiddenSize == null || numAttentionHeads == null || numAttentionHeads <= 0) {
            return 0; // the required-field check reports the real problem
        }
        return hiddenSize / numAttentionHeads;
    }

    /** {@code sliding_window}: absent gives {@code absentDefault}, null gives full attention. */
    static Integer slidingWindow(JsonNode node, Integer absentDefault) {
        if (node == null || node.isMissingNode()) {
            return absentDefault;
        }
        if (node.isNull()) {
            return null;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt()) {
            throw new IllegalArgumentException("field 'sliding_window' must be an integer or null, got "
                    + ConfigIO.describe(node));
        }
        return node.intValue();
    }

    static void positive(String field, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("field '" + field + "' must be positive, got " + value);
        }
    }

    static void checkCommon(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
            int numAttentionHeads, int numKeyValueHeads, int headDim, String hiddenAct, String ffnActivation,
            int maxPositionEmbeddings, double rmsNormEps, double ropeTheta, Integer slidingWindow) {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("field 'num_attention_heads' (" + numAttentionHeads
                    + ") must be a multiple of 'num_key_value_heads' (" + numKeyValueHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("field 'head_dim' must be even for rotary embeddings, got " + headDim);
        }
        if (!(rmsNormEps > 0) || !Double.isFinite(rmsNormEps)) {
            throw new IllegalArgumentException("field 'rms_norm_eps' must be a positive number, got " + rmsNormEps);
        }
        if (!(ropeTheta > 0) || !Double.isFinite(ropeTheta)) {
            throw new IllegalArgumentException("field 'rope_theta' must be a positive number, got " + ropeTheta);
        }
        if (slidingWindow != null) {
            positive("sliding_window", slidingWindow);
        }
        activation("hidden_act", hiddenAct);
        if (ffnActivation != null) {
            FfnActivation act = activation("ffn_activation", ffnActivation);
            if (!act.hiddenAct().equals(FfnActivation.byName(hiddenAct).hiddenAct())) {
                throw new IllegalArgumentException("field 'ffn_activation' is '" + ffnActivation
                        + "' but 'hidden_act' is '" + hiddenAct + "'; a " + act.paperName()
                        + " model has hidden_act '" + act.hiddenAct() + "'");
            }
        }
    }

    private static FfnActivation activation(String field, String value) {
        try {
            return FfnActivation.byName(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("field '" + field + "': " + e.getMessage(), e);
        }
    }
}

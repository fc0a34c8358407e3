package dev.turbosparse.model.config;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.activations.FfnActivation;

import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code config.json} of a decoder-only model this project runs: {@link MistralConfig} or
 * {@link MixtralConfig}. Accessor names are the camel-case forms of HF's field names.
 */
public sealed interface ModelConfig permits MistralConfig, MixtralConfig {

    List<String> architectures();

    String modelType();

    int vocabSize();

    int hiddenSize();

    int intermediateSize();

    int numHiddenLayers();

    int numAttentionHeads();

    int numKeyValueHeads();

    int headDim();

    String hiddenAct();

    /** {@code drelu}, {@code relu}, ... where the config names the gated FFN explicitly; null if it does not. */
    String ffnActivation();

    int maxPositionEmbeddings();

    double rmsNormEps();

    double ropeTheta();

    /** Null for full attention. */
    Integer slidingWindow();

    boolean tieWordEmbeddings();

    String torchDtype();

    Integer bosTokenId();

    Integer eosTokenId();

    double initializerRange();

    /** Fields this project does not interpret, kept for the round trip. */
    Map<String, JsonNode> extra();

    /** Experts per layer: 1 for a dense FFN. */
    default int numExperts() {
        return 1;
    }

    /** Experts each token is routed to: 1 for a dense FFN. */
    default int expertsPerToken() {
        return 1;
    }

    @JsonIgnore
    default boolean isMoe() {
        return numExperts() > 1;
    }

    /** The FFN activation: {@code ffn_activation} if present, else {@code hidden_act}. */
    default FfnActivation activation() {
        return FfnActivation.byName(ffnActivation() != null ? ffnActivation() : hiddenAct());
    }

    /**
     * The same config with another gated-FFN activation: {@code hidden_act} becomes the HF value for it
     * ({@code relu} for dReLU) and {@code ffn_activation} names it, so that ReGLU and dReLU are never confused.
     */
    ModelConfig withActivation(FfnActivation activation);

    /** The same config with another {@code torch_dtype}. */
    ModelConfig withTorchDtype(String torchDtype);
}

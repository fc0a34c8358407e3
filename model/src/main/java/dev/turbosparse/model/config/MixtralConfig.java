package dev.turbosparse.model.config;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.activations.FfnActivation;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hugging Face's {@code MixtralConfig} ({@code model_type} "mixtral"), field names exactly as config.json writes
 * them. Mirrors transformers/models/mixtral/configuration_mixtral.py; absent optional fields take its defaults.
 *
 * @see <a href="https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json">Mixtral-8x7B-v0.1
 *     config</a>
 */
@JsonPropertyOrder(alphabetic = true)
public record MixtralConfig(
        @JsonProperty("architectures") List<String> architectures,
        @JsonProperty("model_type") String modelType,
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("hidden_size") int hiddenSize,
        @JsonProperty("intermediate_size") int intermediateSize,
        @JsonProperty("num_hidden_layers") int numHiddenLayers,
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("num_key_value_heads") int numKeyValueHeads,
        @JsonProperty("head_dim") int headDim,
        @JsonProperty("hidden_act") String hiddenAct,
        @JsonProperty("ffn_activation") @JsonInclude(JsonInclude.Include.NON_NULL) String ffnActivation,
        @JsonProperty("max_position_embeddings") int maxPositionEmbeddings,
        @JsonProperty("rms_norm_eps") double rmsNormEps,
        @JsonProperty("rope_theta") double ropeTheta,
        @JsonProperty("sliding_window") Integer slidingWindow,
        @JsonProperty("tie_word_embeddings") boolean tieWordEmbeddings,
        @JsonProperty("torch_dtype") String torchDtype,
        @JsonProperty("bos_token_id") Integer bosTokenId,
        @JsonProperty("eos_token_id") Integer eosTokenId,
        @JsonProperty("initializer_range") double initializerRange,
        @JsonProperty("num_local_experts") int numLocalExperts,
        @JsonProperty("num_experts_per_tok") int numExpertsPerTok,
        @JsonProperty("router_aux_loss_coef") double routerAuxLossCoef,
        @JsonProperty("router_jitter_noise") double routerJitterNoise,
        @JsonProperty("output_router_logits") boolean outputRouterLogits,
        @JsonAnyGetter Map<String, JsonNode> extra)
        implements ModelConfig {

    public static final String MODEL_TYPE = "mixtral";

    public MixtralConfig {
        architectures = architectures == null ? List.of("MixtralForCausalLM") : List.copyOf(architectures);
        extra = extra == null ? Map.of() : Map.copyOf(new LinkedHashMap<>(extra));
        ConfigChecks.checkCommon(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads,
                numKeyValueHeads, headDim, hiddenAct, ffnActivation, maxPositionEmbeddings, rmsNormEps, ropeTheta,
                slidingWindow);
        ConfigChecks.positive("num_local_experts", numLocalExperts);
        ConfigChecks.positive("num_experts_per_tok", numExpertsPerTok);
        if (numExpertsPerTok > numLocalExperts) {
            throw new IllegalArgumentException("field 'num_experts_per_tok' (" + numExpertsPerTok
                    + ") exceeds 'num_local_experts' (" + numLocalExperts + ")");
        }
        if (routerAuxLossCoef < 0 || routerJitterNoise < 0) {
            throw new IllegalArgumentException("fields 'router_aux_loss_coef' and 'router_jitter_noise' must not be"
                    + " negative, got " + routerAuxLossCoef + " and " + routerJitterNoise);
        }
    }

    /** Reads config.json fields; absent optional ones take HF's MixtralConfig defaults. */
    @JsonCreator
    static MixtralConfig fromJson(
            @JsonProperty("architectures") List<String> architectures,
            @JsonProperty("model_type") String modelType,
            @JsonProperty(value = "vocab_size", required = true) Integer vocabSize,
            @JsonProperty(value = "hidden_size", required = true) Integer hiddenSize,
            @JsonProperty(value = "intermediate_size", required = true) Integer intermediateSize,
            @JsonProperty(value = "num_hidden_layers", required = true) Integer numHiddenLayers,
            @JsonProperty(value = "num_attention_heads", required = true) Integer numAttentionHeads,
            @JsonProperty(value = "num_key_value_heads", required = true) Integer numKeyValueHeads,
            @JsonProperty("head_dim") Integer headDim,
            @JsonProperty("hidden_act") String hiddenAct,
            @JsonProperty("ffn_activation") String ffnActivation,
            @JsonProperty("max_position_embeddings") Integer maxPositionEmbeddings,
            @JsonProperty("rms_norm_eps") Double rmsNormEps,
            @JsonProperty("rope_theta") Double ropeTheta,
            @JsonProperty("sliding_window") JsonNode slidingWindow,
            @JsonProperty("tie_word_embeddings") Boolean tieWordEmbeddings,
            @JsonProperty("torch_dtype") String torchDtype,
            @JsonProperty("bos_token_id") Integer bosTokenId,
            @JsonProperty("eos_token_id") Integer eosTokenId,
            @JsonProperty("initializer_range") Double initializerRange,
            @JsonProperty(value = "num_local_experts", required = true) Integer numLocalExperts,
            @JsonProperty(value = "num_experts_per_tok", required = true) Integer numExpertsPerTok,
            @JsonProperty("router_aux_loss_coef") Double routerAuxLossCoef,
            @JsonProperty("router_jitter_noise") Double routerJitterNoise,
            @JsonProperty("output_router_logits") Boolean outputRouterLogits,
            @JsonAnySetter Map<String, JsonNode> extra) {
        return new MixtralConfig(architectures, modelType == null ? MODEL_TYPE : modelType, vocabSize, hiddenSize,
                intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                headDim != null ? headDim : ConfigChecks.defaultHeadDim(hiddenSize, numAttentionHeads),
                hiddenAct != null ? hiddenAct : "silu", ffnActivation,
                maxPositionEmbeddings != null ? maxPositionEmbeddings : 4096 * 32,
                rmsNormEps != null ? rmsNormEps : 1e-5, ropeTheta != null ? ropeTheta : 1e6,
                ConfigChecks.slidingWindow(slidingWindow, null), tieWordEmbeddings != null && tieWordEmbeddings,
                torchDtype, bosTokenId != null ? bosTokenId : 1, eosTokenId != null ? eosTokenId : 2,
                initializerRange != null ? initializerRange : 0.02, numLocalExperts, numExpertsPerTok,
                routerAuxLossCoef != null ? routerAuxLossCoef : 0.001,
                routerJitterNoise != null ? routerJitterNoise : 0.0,
                outputRouterLogits != null && outputRouterLogits, extra);
    }

    @Override
    public int numExperts() {
        return numLocalExperts;
    }

    @Override
    public int expertsPerToken() {
        return numExpertsPerTok;
    }

    @Override
    public MixtralConfig withActivation(FfnActivation activation) {
        return new MixtralConfig(architectures, modelType, vocabSize, hiddenSize, intermediateSize, numHiddenLayers,
                numAttentionHeads, numKeyValueHeads, headDim, activation.hiddenAct(), activation.configName(),
                maxPositionEmbeddings, rmsNormEps, ropeTheta, slidingWindow, tieWordEmbeddings, torchDtype,
                bosTokenId, eosTokenId, initializerRange, numLocalExperts, numExpertsPerTok, routerAuxLossCoef,
                routerJitterNoise, outputRouterLogits, extra);
    }

    @Override
    public MixtralConfig withTorchDtype(String dtype) {
        return new MixtralConfig(architectures, modelType, vocabSize, hiddenSize, intermediateSize, numHiddenLayers,
                numAttentionHeads, numKeyValueHeads, headDim, hiddenAct, ffnActivation, maxPositionEmbeddings,
                rmsNormEps, ropeTheta, slidingWindow, tieWordEmbeddings, dtype, bosTokenId, eosTokenId,
                initializerRange, numLocalExperts, numExpertsPerTok, routerAuxLossCoef, routerJitterNoise,
                outputRouterLogits, extra);
    }
}

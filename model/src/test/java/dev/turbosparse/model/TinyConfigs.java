package dev.turbosparse.model;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;

import java.nio.charset.StandardCharsets;

/** Tiny configs for unit tests (hidden 16-64, 2 layers): they run in milliseconds on 2 cores. */
public final class TinyConfigs {

    private TinyConfigs() {}

    /** A Mistral config from a few fields; {@code extra} is more JSON fields, e.g. {@code "sliding_window": 3}. */
    public static ModelConfig mistral(int vocab, int hidden, int inter, String activation, String extra) {
        return parse("""
                {"model_type": "mistral", "vocab_size": %d, "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "sliding_window": null, "hidden_act": "%s"%s%s}""".formatted(vocab, hidden, inter,
                activation.equals("drelu") ? "relu" : activation,
                activation.equals("drelu") ? ", \"ffn_activation\": \"drelu\"" : "",
                extra.isEmpty() ? "" : ", " + extra));
    }

    public static ModelConfig mixtral(int vocab, int hidden, int inter, String activation, String extra) {
        return parse("""
                {"model_type": "mixtral", "vocab_size": %d, "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "num_local_experts": 4, "num_experts_per_tok": 2,
                 "hidden_act": "%s"%s%s}""".formatted(vocab, hidden, inter,
                activation.equals("drelu") ? "relu" : activation,
                activation.equals("drelu") ? ", \"ffn_activation\": \"drelu\"" : "",
                extra.isEmpty() ? "" : ", " + extra));
    }

    private static ModelConfig parse(String json) {
        return ConfigIO.parse("tiny config.json", json.getBytes(StandardCharsets.UTF_8));
    }
}

package dev.turbosparse.data.mixture;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.Map;

/**
 * Where a mixture stream stands: how many sequences it has given, and how many it took from each source. Everything
 * else (epochs, shuffles, the next choice) follows from these and the seed, so restoring a state continues the
 * identical stream. Small and JSON-serialisable: the trainer keeps it in trainer_state.json.
 */
@JsonPropertyOrder({"seed", "temperature", "weights", "emitted", "taken"})
public record SamplerState(@JsonProperty("seed") long seed, @JsonProperty("temperature") double temperature,
        @JsonProperty("weights") Map<String, Double> weights, @JsonProperty("emitted") long emitted,
        @JsonProperty("taken") Map<String, Long> taken) {

    public SamplerState {
        weights = Map.copyOf(weights);
        taken = Map.copyOf(taken);
    }
}

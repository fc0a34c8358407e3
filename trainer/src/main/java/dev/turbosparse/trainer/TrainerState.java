package dev.turbosparse.trainer;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import dev.turbosparse.data.mixture.SamplerState;

/**
 * Where a run stands at a checkpoint ({@code trainer_state.json}): with the weights and the optimizer's moments saved
 * beside it, everything a resumed run needs to continue exactly as the uninterrupted one would have.
 *
 * @param step optimizer steps done (skipped ones included: each consumed its batch)
 * @param tokens training tokens consumed
 * @param sampler the mixture stream's position
 * @param optimizerSteps updates AdamW applied (steps minus skipped ones): its bias corrections continue from here
 * @param skippedSteps steps skipped because the loss or a gradient was not finite
 * @param seed the run's seed (the torch generator is reseeded from it and the step at every step)
 * @param trainSeconds wall time spent in training steps so far
 * @param finalDtype the dtype the final model is saved in (the start checkpoint's)
 */
@JsonPropertyOrder({"format", "step", "tokens", "optimizer_steps", "skipped_steps", "seed", "train_seconds",
    "final_dtype", "sampler"})
public record TrainerState(
        @JsonProperty("format") int format,
        @JsonProperty("step") long step,
        @JsonProperty("tokens") long tokens,
        @JsonProperty("optimizer_steps") long optimizerSteps,
        @JsonProperty("skipped_steps") long skippedSteps,
        @JsonProperty("seed") long seed,
        @JsonProperty("train_seconds") double trainSeconds,
        @JsonProperty("final_dtype") String finalDtype,
        @JsonProperty("sampler") SamplerState sampler) {

    public static final String FILE_NAME = "trainer_state.json";
    public static final int FORMAT = 1;
}

package dev.turbosparse.model.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.KvCache;

import java.util.function.LongConsumer;
import java.util.function.LongPredicate;

/**
 * Autoregressive decoding with the DJL model: one prefill pass over the prompt into a KV cache, then one pass per new
 * token. Each pass runs in its own NDManager, closed when the pass is done.
 */
public final class DjlGenerator {

    private DjlGenerator() {}

    /**
     * Generates up to {@code maxNewTokens} tokens after {@code prompt}, stopping after {@code eosId} if it is not
     * null.
     *
     * @param onToken told each new token as soon as it is chosen
     * @throws IllegalArgumentException if the prompt is empty or does not fit the model's context
     */
    public static GenerationStats generate(CausalLM model, long[] prompt, int maxNewTokens, Sampler sampler, Integer eosId,
            LongConsumer onToken) {
        return generate(model, prompt, maxNewTokens, sampler, eosId, (LongPredicate) t -> {
            onToken.accept(t);
            return true;
        });
    }

    /**
     * As {@link #generate(CausalLM, long[], int, Sampler, Integer, LongConsumer)}, and stops as soon as
     * {@code onToken} returns false (a stop sequence seen, say).
     */
    public static GenerationStats generate(CausalLM model, long[] prompt, int maxNewTokens, Sampler sampler, Integer eosId,
            LongPredicate onToken) {
        int context = model.config().maxPositionEmbeddings();
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt has no tokens");
        }
        if (prompt.length >= context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens; the model's context holds "
                    + context + " positions (max_position_embeddings), with room for at least one new token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("the number of new tokens must be at least 1, got " + maxNewTokens);
        }
        int budget = Math.min(maxNewTokens, context - prompt.length);
        NDManager parent = model.manager();
        long prefill = 0;
        long decode = 0;
        int generated = 0;
        boolean eos = false;
        try (KvCache cache = new KvCache(parent, model.config(), 1, prompt.length + budget)) {
            long[] next = prompt;
            while (generated < budget) {
                long t0 = System.nanoTime();
                int token;
                try (NDManager step = parent.newSubManager()) {
                    NDArray ids = TorchTensors.longs(step, next, new Shape(1, next.length));
                    NDArray logits = model.forward(new ParameterStore(step, false), ids,
                            CausalLM.Options.DEFAULT.withCache(cache).withLastPositionOnly(true), false).logits();
                    token = sampler.next(logits.reshape(-1).toFloatArray());
                }
                long dt = System.nanoTime() - t0;
                if (generated == 0) {
                    prefill = dt;
                } else {
                    decode += dt;
                }
                generated++;
                boolean more = onToken.test(token);
                if (eosId != null && token == eosId) {
                    eos = true;
                    break;
                }
                if (!more) {
                    break;
                }
                next = new long[] {token};
            }
        }
        return new GenerationStats(prompt.length, generated, prefill, decode, eos);
    }
}

package dev.turbosparse.runtime;

import dev.turbosparse.model.generate.GenerationStats;
import dev.turbosparse.model.generate.Sampler;
import dev.turbosparse.model.io.InputException;

import java.util.function.IntPredicate;

/** Generation with one of the runtime's decoders ({@link TokenDecoder}): the prompt fed token by token, then one sampled token at a time. */
public final class RuntimeGenerator {

    private RuntimeGenerator() {}

    /**
     * Generates up to {@code maxNewTokens} tokens after {@code prompt} (from position 0: the decoder is reset),
     * stopping after {@code eosId} if it is not null, or as soon as {@code onToken} returns false.
     *
     * @throws InputException if the prompt is empty or leaves no room in the decoder's context
     */
    public static GenerationStats generate(TokenDecoder decoder, int[] prompt, int maxNewTokens, Sampler sampler,
            Integer eosId, IntPredicate onToken) {
        if (prompt.length == 0) {
            throw new InputException("the prompt has no tokens");
        }
        if (prompt.length >= decoder.context()) {
            throw new InputException("the prompt has " + prompt.length + " tokens; the context holds "
                    + decoder.context() + " positions, with room for at least one new token");
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("the number of new tokens must be at least 1, got " + maxNewTokens);
        }
        int budget = Math.min(maxNewTokens, decoder.context() - prompt.length);
        decoder.reset();
        long t0 = System.nanoTime();
        float[] logits = null;
        for (int token : prompt) {
            logits = decoder.forward(token);
        }
        int token = sampler.next(logits);
        long prefill = System.nanoTime() - t0;
        long decode = 0;
        int generated = 1;
        boolean eos = eosId != null && token == eosId;
        boolean more = onToken.test(token);
        while (!eos && more && generated < budget) {
            long t = System.nanoTime();
            token = sampler.next(decoder.forward(token));
            decode += System.nanoTime() - t;
            generated++;
            more = onToken.test(token);
            eos = eosId != null && token == eosId;
        }
        return new GenerationStats(prompt.length, generated, prefill, decode, eos);
    }
}

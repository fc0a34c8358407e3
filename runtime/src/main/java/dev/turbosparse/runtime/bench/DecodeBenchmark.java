package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeModel;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Decoding speed of one model in several FFN modes, in one run: each mode decodes the same token sequence (seeded
 * random ids) after the same warm-up, one token at a time as generation does, and counts the weight bytes it read.
 */
public final class DecodeBenchmark {

    /**
     * One mode's figures: decode tokens per second, weight bytes read per token (counted by the decoder), the share
     * of FFN neurons computed, and the bandwidth those bytes and that speed make.
     */
    public record ModeResult(Decoder.Mode mode, int tokens, double seconds, double bytesPerToken, double neuronShare) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }

        public double bytesPerSecond() {
            return bytesPerToken * tokensPerSecond();
        }
    }

    private DecodeBenchmark() {}

    /**
     * @param warmup tokens decoded first in each mode and not timed (the JIT compiles the kernels, pages come in)
     * @param tokens tokens timed per mode
     */
    public static List<ModeResult> run(RuntimeModel model, List<Decoder.Mode> modes, int warmup, int tokens,
            int threads, long seed, Listener listener) {
        int vocab = model.config().vocabSize();
        SplittableRandom random = new SplittableRandom(seed);
        int[] ids = new int[warmup + tokens];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        List<ModeResult> out = new ArrayList<>();
        for (Decoder.Mode mode : modes) {
            try (Decoder d = new Decoder(model, mode, ids.length, threads, Float.NaN)) {
                for (int i = 0; i < warmup; i++) {
                    d.forward(ids[i]);
                    listener.token(mode, i + 1, ids.length);
                }
                d.resetCounters();
                long t0 = System.nanoTime();
                for (int i = warmup; i < ids.length; i++) {
                    d.forward(ids[i]);
                    listener.token(mode, i + 1, ids.length);
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                out.add(new ModeResult(mode, tokens, seconds, (double) d.bytesRead() / tokens, d.neuronShare()));
            }
        }
        return out;
    }

    /** Told each token decoded. */
    @FunctionalInterface
    public interface Listener {
        void token(Decoder.Mode mode, int done, int total);
    }
}

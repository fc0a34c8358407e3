package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeModel;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Decoding speed of one model in several FFN modes, in one run: each mode decodes the same token sequence (seeded
 * random ids) after the same warm-up, one token at a time as generation does, and counts the weight bytes it read.
 */
public final class DecodeBenchmark {

    /**
     * One mode's figures: decode tokens per second, weight bytes read per token (counted by the decoder), the shares
     * of FFN neurons whose gate, up and down rows were read, the bandwidth those bytes and that speed make, and its speed-up over dense: the median
     * over rounds of the ratio within each round, which a slow spell of the machine between rounds does not move
     * (NaN when dense was not measured); and its share of the memory bandwidth, the median over rounds of each
     * round's bytes per second against the bandwidth measured just before that round (NaN when none was).
     */
    public record ModeResult(Decoder.Mode mode, int tokens, double seconds, double bytesPerToken, double gateShare,
            double upShare, double neuronShare, double speedupOverDense, double bandwidthShare) {
        public double tokensPerSecond() {
            return tokens / seconds;
        }

        public double bytesPerSecond() {
            return bytesPerToken * tokensPerSecond();
        }
    }

    /** Each mode's figures, and the median of the bandwidths measured before the rounds (NaN when none was). */
    public record Result(List<ModeResult> modes, double bandwidth) {}

    private DecodeBenchmark() {}

    /**
     * @param warmup tokens decoded first in each mode and round and not timed (the cache fills, pages come in)
     * @param tokens tokens timed per mode
     * @param rounds times the modes are measured, one after the other in turn (so that a slow spell of the machine
     *     falls on all of them); each mode's result is its median round
     * @param warmupSeconds before the first round, the modes decode the sequence in turn, untimed, until this long has
     *     passed (once at least, when above zero): the JIT compiles the decoder in every mode. On a small model a
     *     few warm-up tokens are not enough: its first rounds ran at half the speed of the later ones, one mode
     *     more than another, which made the ratios noise.
     * @param bandwidth measured before each round, in bytes per second: the bandwidth of that round's moment, against
     *     which its figures are taken (this VM's bandwidth moved by a fifth within a minute); null for none
     */
    public static Result run(RuntimeModel model, List<Decoder.Mode> modes, int warmup, int tokens,
            int rounds, double warmupSeconds, int threads, long seed, DoubleSupplier bandwidth, Listener listener) {
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds must be at least 1, got " + rounds);
        }
        int vocab = model.config().vocabSize();
        SplittableRandom random = new SplittableRandom(seed);
        int[] ids = new int[warmup + tokens];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        if (warmupSeconds > 0) {
            long start = System.nanoTime();
            long until = start + (long) (warmupSeconds * 1e9);
            do {
                for (Decoder.Mode mode : modes) {
                    try (Decoder d = new Decoder(model, mode, ids.length, threads, Float.NaN)) {
                        for (int id : ids) {
                            d.forward(id);
                            listener.warming((System.nanoTime() - start) / 1e9);
                        }
                    }
                }
            } while (System.nanoTime() < until);
        }
        listener.timingBegins();
        List<List<ModeResult>> byMode = new ArrayList<>();
        modes.forEach(m -> byMode.add(new ArrayList<>()));
        double[] bandwidths = new double[rounds];
        for (int round = 0; round < rounds; round++) {
            bandwidths[round] = bandwidth == null ? Double.NaN : bandwidth.getAsDouble();
            for (int k = 0; k < modes.size(); k++) {
                Decoder.Mode mode = modes.get(k);
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
                    byMode.get(k).add(new ModeResult(mode, tokens, seconds, (double) d.bytesRead() / tokens,
                            d.gateShare(), d.upShare(), d.neuronShare(), Double.NaN, Double.NaN));
                }
            }
        }
        int dense = modes.indexOf(Decoder.Mode.DENSE);
        List<ModeResult> out = new ArrayList<>();
        for (List<ModeResult> results : byMode) {
            double speedup = Double.NaN;
            if (dense >= 0) {
                double[] ratios = new double[rounds];
                for (int round = 0; round < rounds; round++) {
                    ratios[round] = byMode.get(dense).get(round).seconds() / results.get(round).seconds();
                }
                speedup = median(ratios);
            }
            double[] shares = new double[rounds];
            for (int round = 0; round < rounds; round++) {
                shares[round] = results.get(round).bytesPerSecond() / bandwidths[round];
            }
            List<ModeResult> sorted = new ArrayList<>(results);
            sorted.sort(java.util.Comparator.comparingDouble(ModeResult::seconds));
            ModeResult m = sorted.get(sorted.size() / 2);
            out.add(new ModeResult(m.mode(), m.tokens(), m.seconds(), m.bytesPerToken(), m.gateShare(), m.upShare(),
                    m.neuronShare(), speedup, median(shares)));
        }
        return new Result(out, median(bandwidths));
    }

    /** The median (of an even count, the mean of the middle two). */
    static double median(double[] values) {
        double[] v = values.clone();
        java.util.Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** Told each token decoded. */
    @FunctionalInterface
    public interface Listener {
        /** A measured round's token: {@code done} of {@code total} in this mode's round. */
        void token(Decoder.Mode mode, int done, int total);

        /** A warm-up token, {@code seconds} into the warm-up. */
        default void warming(double seconds) {}

        /** The warm-up is over: the rounds begin. */
        default void timingBegins() {}
    }
}

package dev.turbosparse.data.mixture;

import java.util.Map;

/**
 * What a mixture stream has given: per source the target and realised token proportions, and the epochs used
 * (sequences taken over sequences available; above 1 means repetition).
 */
public record MixtureReport(long sequences, long tokens, Map<String, Source> sources) {

    public record Source(double target, double proportion, long sequences, long tokens, double epochs,
            long available) {}

    /** The largest |realised − target| over the sources. */
    public double maxDeviation() {
        return sources.values().stream().mapToDouble(s -> Math.abs(s.proportion() - s.target())).max().orElse(0);
    }
}

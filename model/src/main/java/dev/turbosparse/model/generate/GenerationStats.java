package dev.turbosparse.model.generate;

/** What a generation did, for the tokens/s report: prefill is the prompt up to the first new token. */
public record GenerationStats(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos,
        boolean stoppedAtEos) {

    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : promptTokens * 1e9 / prefillNanos;
    }

    /** Tokens per second over the decode steps (the first generated token comes from the prefill). */
    public double decodeTokensPerSecond() {
        return decodeNanos == 0 || generatedTokens <= 1 ? 0 : (generatedTokens - 1) * 1e9 / decodeNanos;
    }
}

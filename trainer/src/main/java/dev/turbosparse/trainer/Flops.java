package dev.turbosparse.trainer;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.turbosparse.model.config.ModelConfig;

/**
 * Model FLOPs, for MFU: what one training token costs, and what the device's matmul reaches.
 *
 * <p>Per token, training costs {@code 6 N + 12 L H Q T} (PaLM, appendix B): N the weights a token multiplies with
 * (attention projections, the FFN of the experts it is routed to, the router, the lm head; not the embedding lookup),
 * and the attention scores and weighted sum over the sequence, L layers, H heads of size Q, T tokens. The attention
 * term counts the whole T x T square: the model computes it all before the causal mask.
 */
final class Flops {

    private Flops() {}

    /** Weights one token multiplies with in a forward pass. */
    static long activeMatmulParams(ModelConfig c) {
        long h = c.hiddenSize();
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long attention = h * q + 2 * h * kv + q * h;
        long ffn = 3 * h * c.intermediateSize() * c.expertsPerToken();
        long router = c.isMoe() ? h * c.numExperts() : 0;
        return c.numHiddenLayers() * (attention + ffn + router) + (long) c.vocabSize() * h;
    }

    /** Training FLOPs per token (forward and backward) at sequence length {@code seqLen}. */
    static double trainingFlopsPerToken(ModelConfig c, int seqLen) {
        return 6.0 * activeMatmulParams(c)
                + 12.0 * c.numHiddenLayers() * c.numAttentionHeads() * c.headDim() * seqLen;
    }

    /**
     * The float32 matmul rate the device reaches, in FLOP/s: the best of timed square products over half a second,
     * after half a second of warm-up (a cold CPU measured a third lower: thread pools and clocks spin up). Measured
     * at the start of every run, so that MFU is against this machine as it is now.
     */
    static double measureMatmulPeak(NDManager parent, Device device) {
        int n = device.isGpu() ? 4096 : 1024;
        int reps = device.isGpu() ? 20 : 5;
        try (NDManager m = parent.newSubManager(device)) {
            NDArray a = m.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
            NDArray b = m.randomUniform(-1, 1, new Shape(n, n), DataType.FLOAT32);
            long warmUntil = System.nanoTime() + WARM_UP_NANOS;
            do {
                timedProducts(a, b, reps);
            } while (System.nanoTime() < warmUntil);
            double best = 0;
            long measureUntil = System.nanoTime() + MEASURE_NANOS;
            for (int trial = 0; trial < MIN_TRIALS || System.nanoTime() < measureUntil; trial++) {
                best = Math.max(best, 2.0 * n * n * n * reps / timedProducts(a, b, reps));
            }
            return best;
        }
    }

    private static final long WARM_UP_NANOS = 500_000_000L;
    private static final long MEASURE_NANOS = 500_000_000L;
    private static final int MIN_TRIALS = 5;

    /** Seconds for {@code reps} products a·b, waiting for the device. */
    private static double timedProducts(NDArray a, NDArray b, int reps) {
        long t0 = System.nanoTime();
        NDArray last = null;
        for (int i = 0; i < reps; i++) {
            if (last != null) {
                last.close();
            }
            last = a.matMul(b);
        }
        last.getFloat(0, 0); // waits for the device
        last.close();
        return (System.nanoTime() - t0) / 1e9;
    }
}

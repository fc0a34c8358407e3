package dev.turbosparse.model;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.HfWeightMap;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Random initialisation as transformers' {@code _init_weights} for Mistral/Mixtral: every linear and embedding
 * weight from N(0, initializer_range), every RMSNorm weight 1. Each tensor draws from its own generator, seeded by
 * the run's seed and the tensor's HF name, so the values do not depend on the order tensors are made in, and a
 * tensor can be generated a chunk at a time.
 */
public final class WeightInit {

    private static final ValueLayout.OfFloat FLOAT_LE =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private WeightInit() {}

    /** A generator of one tensor's values, in row-major order. */
    public static final class TensorValues {
        private final RandomGenerator rng;
        private final boolean ones;
        private final double std;

        TensorValues(RandomGenerator rng, boolean ones, double std) {
            this.rng = rng;
            this.ones = ones;
            this.std = std;
        }

        /** Writes the next {@code count} values as little-endian float32 at {@code dst}. */
        public void next(MemorySegment dst, long count) {
            for (long i = 0; i < count; i++) {
                dst.setAtIndex(FLOAT_LE, i, ones ? 1f : (float) (rng.nextGaussian() * std));
            }
        }
    }

    /** The values of one weight of the table. */
    public static TensorValues values(ModelConfig config, HfWeightMap.Entry entry, long seed) {
        long s = seed * 0x9E3779B97F4A7C15L + entry.hfName().hashCode();
        RandomGenerator rng = RandomGeneratorFactory.of("L64X128MixRandom").create(s);
        return new TensorValues(rng, entry.role() == HfWeightMap.Role.NORM, config.initializerRange());
    }
}

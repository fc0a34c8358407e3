package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.cpu.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory read bandwidth as decoding sees it: every thread sums its share of an off-heap buffer far
 * larger than the caches, with the Vector API, as the mat-vec kernels read weights. The best of several passes.
 */
public final class Bandwidth {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private Bandwidth() {}

    /** Bytes per second read by {@code threads} threads over a buffer of {@code bytes}, best of {@code passes}. */
    public static double measure(long bytes, int threads, int passes) {
        long floats = bytes / 4 / (F.length() * 1024L) * (F.length() * 1024L);
        try (Arena arena = Arena.ofShared(); Parallel parallel = new Parallel(threads)) {
            MemorySegment buf = arena.allocate(floats * 4, 64);
            for (long i = 0; i < floats; i += 1024) {
                buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, i); // touch every page before timing
            }
            int chunks = (int) (floats / (F.length() * 1024L));
            double best = 0;
            float[] sink = new float[threads * 16];
            for (int pass = 0; pass < passes; pass++) {
                long t0 = System.nanoTime();
                parallel.forRange(chunks, 1, 1, (from, to) -> {
                    FloatVector a = FloatVector.zero(F);
                    FloatVector b = FloatVector.zero(F);
                    long end = (long) to * F.length() * 1024 * 4;
                    for (long off = (long) from * F.length() * 1024 * 4; off < end; off += 2L * F.length() * 4) {
                        a = a.add(FloatVector.fromMemorySegment(F, buf, off, ByteOrder.LITTLE_ENDIAN));
                        b = b.add(FloatVector.fromMemorySegment(F, buf, off + F.length() * 4L, ByteOrder.LITTLE_ENDIAN));
                    }
                    sink[(from * 16) % sink.length] += a.add(b).lane(0);
                });
                double seconds = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, floats * 4 / seconds);
            }
            if (Float.isNaN(sink[0])) {
                throw new IllegalStateException("unreachable: keeps the sums alive");
            }
            return best;
        }
    }
}

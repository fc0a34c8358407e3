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

    /**
     * Bytes per second read by {@code threads} threads over a buffer of {@code bytes}: the best pass of at least
     * {@code passes}, after the loop is compiled (passes go on for at least two seconds).
     */
    public static double measure(long bytes, int threads, int passes) {
        long block = F.length() * 4L * 1024; // bytes per work item
        long blocks = bytes / block;
        try (Arena arena = Arena.ofShared(); Parallel parallel = new Parallel(threads)) {
            MemorySegment buf = arena.allocate(blocks * block, 64);
            for (long i = 0; i < buf.byteSize(); i += 4096) {
                buf.set(ValueLayout.JAVA_FLOAT, i, (float) ((i * 0x9E3779B1L) & 0xFFFFFF)); // every page touched, each different
            }
            float[] sink = new float[threads];
            for (int i = 0; i < 2000; i++) { // compile the loop before it is timed
                sink[0] += sum(buf, 0, block);
            }
            double best = 0;
            long start = System.nanoTime();
            for (int pass = 0; pass < passes || System.nanoTime() - start < 2_000_000_000L; pass++) {
                long t0 = System.nanoTime();
                parallel.forRange((int) blocks, 1, 1, (from, to) -> {
                    float s = sum(buf, from * block, to * block);
                    sink[from % sink.length] += s;
                });
                best = Math.max(best, blocks * block / ((System.nanoTime() - t0) / 1e9));
            }
            if (Float.isNaN(sink[0])) {
                throw new IllegalStateException("unreachable: keeps the sums alive");
            }
            return best;
        }
    }

    /** The floats of bytes [from, to), summed four vectors at a time. */
    private static float sum(MemorySegment buf, long from, long to) {
        FloatVector a = FloatVector.zero(F);
        FloatVector b = FloatVector.zero(F);
        FloatVector c = FloatVector.zero(F);
        FloatVector d = FloatVector.zero(F);
        long step = F.length() * 4L;
        for (long off = from; off < to; off += 4 * step) {
            a = a.add(FloatVector.fromMemorySegment(F, buf, off, ByteOrder.LITTLE_ENDIAN));
            b = b.add(FloatVector.fromMemorySegment(F, buf, off + step, ByteOrder.LITTLE_ENDIAN));
            c = c.add(FloatVector.fromMemorySegment(F, buf, off + 2 * step, ByteOrder.LITTLE_ENDIAN));
            d = d.add(FloatVector.fromMemorySegment(F, buf, off + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c.add(d)).lane(0);
    }
}

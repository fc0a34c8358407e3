package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.cpu.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory read bandwidth as decoding sees it: every thread sums its share of an off-heap buffer far
 * larger than the caches, with the Vector API, as the mat-vec kernels read weights. The best of several passes.
 */
public final class Bandwidth {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

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

    /**
     * Bytes per second read by {@code threads} threads summing the given segments (a model's mapped weights) as the
     * buffer of {@link #measure(long, int, int)} is summed: the best of at least {@code passes} passes, after the loop
     * is compiled. This is what the memory under the model gives, which need not be what fresh memory gives (pages
     * on another NUMA node than the threads, or not in memory at all). Each segment is read in whole blocks; the
     * bytes past its last block are left out.
     */
    public static double measure(List<MemorySegment> segments, int threads, int passes) {
        long block = F.length() * 4L * 1024;
        List<MemorySegment> blocks = new ArrayList<>();
        for (MemorySegment s : segments) {
            for (long at = 0; at + block <= s.byteSize(); at += block) {
                blocks.add(s.asSlice(at, block));
            }
        }
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException("no block of " + block + " bytes to read in the segments");
        }
        try (Parallel parallel = new Parallel(threads)) {
            int[] sink = new int[threads]; // the sums, kept so that the reads are not optimised away
            for (int i = 0; i < 2000; i++) { // compile the loop before it is timed
                sink[0] += sumInts(blocks.get(i % blocks.size()), block);
            }
            double best = 0;
            long start = System.nanoTime();
            for (int pass = 0; pass < passes || System.nanoTime() - start < 1_000_000_000L; pass++) {
                long t0 = System.nanoTime();
                parallel.forRange(blocks.size(), 1, 1, (from, to) -> {
                    int s = 0;
                    for (int b = from; b < to; b++) {
                        s += sumInts(blocks.get(b), block);
                    }
                    sink[from % sink.length] += s;
                });
                best = Math.max(best, blocks.size() * block / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }

    /**
     * The ints of a segment's first {@code bytes}, summed four vectors at a time: weights are any bits, and integer
     * adds cost the same whatever they are (a float add of subnormals may not).
     */
    private static int sumInts(MemorySegment seg, long bytes) {
        IntVector a = IntVector.zero(I);
        IntVector b = IntVector.zero(I);
        IntVector c = IntVector.zero(I);
        IntVector d = IntVector.zero(I);
        long step = I.length() * 4L;
        for (long off = 0; off < bytes; off += 4 * step) {
            a = a.add(IntVector.fromMemorySegment(I, seg, off, ByteOrder.LITTLE_ENDIAN));
            b = b.add(IntVector.fromMemorySegment(I, seg, off + step, ByteOrder.LITTLE_ENDIAN));
            c = c.add(IntVector.fromMemorySegment(I, seg, off + 2 * step, ByteOrder.LITTLE_ENDIAN));
            d = d.add(IntVector.fromMemorySegment(I, seg, off + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c.add(d)).lane(0);
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

package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.cpu.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory read bandwidth as decoding sees it: every thread sums its share of an off-heap buffer far
 * larger than the caches, with the Vector API. Passes read in two ways, in turn: each thread one stream through its
 * chunks, and each thread four streams a quarter of its chunk apart, as the mat-vec kernels read a matrix's rows. The
 * bandwidth is the best pass of either. On this project's 2-core VM four streams a thread read 15-52% faster than one
 * (docs/BENCHMARKS.md): measured with one alone, the bandwidth was below what decoding itself read at times.
 */
public final class Bandwidth {

    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    /** Bytes per work item of a pass. */
    private static final long BLOCK = I.length() * 4L * 1024;

    private Bandwidth() {}

    /**
     * An off-heap buffer whose read rate is the bandwidth, kept to measure it again and again (before each round of a
     * benchmark, so that each round has the bandwidth of its own moment): every page touched once, each different.
     */
    public static final class Buffer implements AutoCloseable {
        private final Arena arena;
        private final MemorySegment data;

        private Buffer(Arena arena, MemorySegment data) {
            this.arena = arena;
            this.data = data;
        }

        /** A buffer of {@code bytes}, rounded down to whole blocks. */
        public static Buffer allocate(long bytes) {
            Arena arena = Arena.ofShared();
            try {
                MemorySegment buf = arena.allocate(Math.max(BLOCK, bytes / BLOCK * BLOCK), 64);
                for (long i = 0; i < buf.byteSize(); i += 4096) {
                    buf.set(ValueLayout.JAVA_FLOAT, i, (float) ((i * 0x9E3779B1L) & 0xFFFFFF));
                }
                return new Buffer(arena, buf);
            } catch (RuntimeException | Error e) {
                arena.close();
                throw e;
            }
        }

        /**
         * Bytes per second read by {@code threads} threads over the buffer: the best of at least {@code passes}
         * passes of each way of reading, and of as many as fit in {@code leastNanos}, after untimed sums that compile
         * the loops.
         */
        public double measure(int threads, int passes, long leastNanos) {
            return best(List.of(data), threads, passes, leastNanos);
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /**
     * Bytes per second read by {@code threads} threads summing the given segments (a model's mapped weights) as the
     * buffer of {@link Buffer#measure} is summed: the best of at least {@code passes} passes of each way, after the
     * loops are compiled (passes go on for at least a second). This is what the memory under the model gives, which
     * need not be what fresh memory gives (pages on another NUMA node than the threads, or not in memory at all). Each
     * segment is read in whole blocks; the bytes past its last block are left out.
     */
    public static double measure(List<MemorySegment> segments, int threads, int passes) {
        return best(segments, threads, passes, 1_000_000_000L);
    }

    /**
     * The best pass of the threads summing the segments' whole blocks, of at least {@code passes} of each way and a
     * duration: a thread's chunk of blocks in order (one stream), then in fours a quarter of the chunk apart.
     */
    private static double best(List<MemorySegment> segments, int threads, int passes, long leastNanos) {
        List<MemorySegment> blocks = new ArrayList<>();
        for (MemorySegment s : segments) {
            for (long at = 0; at + BLOCK <= s.byteSize(); at += BLOCK) {
                blocks.add(plain(s.asSlice(at, BLOCK)));
            }
        }
        if (blocks.isEmpty()) {
            throw new IllegalArgumentException("no block of " + BLOCK + " bytes to read in the segments");
        }
        try (Parallel parallel = new Parallel(threads)) {
            int[] sink = new int[threads]; // the sums, kept so that the reads are not optimised away
            int n = blocks.size();
            for (int i = 0; i < 2000; i++) { // compile the loops before they are timed
                sink[0] += sum(blocks.get(i % n)) + sum4(blocks.get(i % n), blocks.get((i + 1) % n),
                        blocks.get((i + 2) % n), blocks.get((i + 3) % n));
            }
            double best = 0;
            long start = System.nanoTime();
            for (int pass = 0; pass < 2 * passes || System.nanoTime() - start < leastNanos; pass++) {
                boolean four = pass % 2 == 1;
                long t0 = System.nanoTime();
                parallel.forRange(n, 1, 1, (from, to) -> {
                    int sum = 0;
                    int q = four ? (to - from) / 4 : 0;
                    for (int b = from; b < from + q; b++) {
                        sum += sum4(blocks.get(b), blocks.get(b + q), blocks.get(b + 2 * q), blocks.get(b + 3 * q));
                    }
                    for (int b = from + 4 * q; b < to; b++) {
                        sum += sum(blocks.get(b));
                    }
                    sink[from % sink.length] += sum;
                });
                best = Math.max(best, n * BLOCK / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }

    /**
     * The same memory as a plain native segment of the global scope, whatever it was (the buffer of a shared arena,
     * a read-only mapping of the model's file), so that the summing loops see one kind of segment: fed both kinds,
     * the loop was deoptimized again and again (profile predicates failing at its back edge, JDK 25), and in one
     * run of two the bandwidth measured between the rounds of a benchmark came from the interpreter, at 0.2 GB/s.
     * Only read while its owner is open: within a measurement.
     */
    private static MemorySegment plain(MemorySegment s) {
        return MemorySegment.ofAddress(s.address()).reinterpret(s.byteSize());
    }

    /**
     * The ints of a block, summed four vectors at a time: weights are any bits, and integer adds cost the same
     * whatever they are (a float add of subnormals may not).
     */
    private static int sum(MemorySegment block) {
        IntVector a = IntVector.zero(I);
        IntVector b = IntVector.zero(I);
        IntVector c = IntVector.zero(I);
        IntVector d = IntVector.zero(I);
        long step = I.length() * 4L;
        for (long off = 0; off < BLOCK; off += 4 * step) {
            a = a.add(IntVector.fromMemorySegment(I, block, off, ByteOrder.LITTLE_ENDIAN));
            b = b.add(IntVector.fromMemorySegment(I, block, off + step, ByteOrder.LITTLE_ENDIAN));
            c = c.add(IntVector.fromMemorySegment(I, block, off + 2 * step, ByteOrder.LITTLE_ENDIAN));
            d = d.add(IntVector.fromMemorySegment(I, block, off + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c.add(d)).lane(0);
    }

    /** The ints of four blocks, a vector of each in turn: four streams of reads. */
    private static int sum4(MemorySegment b0, MemorySegment b1, MemorySegment b2, MemorySegment b3) {
        IntVector a = IntVector.zero(I);
        IntVector b = IntVector.zero(I);
        IntVector c = IntVector.zero(I);
        IntVector d = IntVector.zero(I);
        long step = I.length() * 4L;
        for (long off = 0; off < BLOCK; off += step) {
            a = a.add(IntVector.fromMemorySegment(I, b0, off, ByteOrder.LITTLE_ENDIAN));
            b = b.add(IntVector.fromMemorySegment(I, b1, off, ByteOrder.LITTLE_ENDIAN));
            c = c.add(IntVector.fromMemorySegment(I, b2, off, ByteOrder.LITTLE_ENDIAN));
            d = d.add(IntVector.fromMemorySegment(I, b3, off, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c.add(d)).lane(0);
    }
}

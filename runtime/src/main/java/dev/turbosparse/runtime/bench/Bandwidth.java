package dev.turbosparse.runtime.bench;

import dev.turbosparse.runtime.Matrix;
import dev.turbosparse.runtime.cpu.Parallel;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory read bandwidth as decoding sees it: every thread sums its share of an off-heap buffer far
 * larger than the caches, with the Vector API, as the mat-vec kernels read weights. The best of several passes.
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
         * passes, and of as many as fit in {@code leastNanos}, after untimed sums that compile the loop.
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
     * buffer of {@link Buffer#measure} is summed: the best of at least {@code passes} passes, after the loop
     * is compiled (passes go on for at least a second). This is what the memory under the model gives, which need
     * not be what fresh memory gives (pages on another NUMA node than the threads, or not in memory at all). Each
     * segment is read in whole blocks; the bytes past its last block are left out.
     */
    public static double measure(List<MemorySegment> segments, int threads, int passes) {
        return best(segments, threads, passes, 1_000_000_000L);
    }

    /**
     * Bytes per second read by {@code threads} threads summing a seeded random {@code share} of the matrices' rows,
     * four listed rows at a time, in the order of the list (ascending in each matrix): how the sparse modes read
     * the rows of the neurons they keep, which lie apart from each other (docs/RUNTIME.md, "Kernels"). The rows are
     * dealt at random into {@code 1 / share} sets, and a pass reads the sets one after the other, each as one list:
     * every row once, as {@link #measure} reads every page once, and no set finds the one before it in the caches.
     * The best of at least {@code passes} passes, after the loop is compiled (passes go on for at least a second).
     * Each row is read in whole vectors; the bytes past its last one are left out.
     */
    public static double measureRows(List<Matrix> matrices, double share, long seed, int threads, int passes) {
        if (!(share > 0 && share <= 1)) {
            throw new IllegalArgumentException("the share of rows must be in (0, 1], got " + share);
        }
        long vector = I.length() * 4L;
        int sets = (int) Math.round(1 / share);
        SplittableRandom random = new SplittableRandom(seed);
        List<List<MemorySegment>> rows = new ArrayList<>();
        for (int i = 0; i < sets; i++) {
            rows.add(new ArrayList<>());
        }
        for (Matrix m : matrices) {
            long length = m.rowBytes() / vector * vector;
            for (long r = 0; r < m.rows() && length > 0; r++) {
                rows.get(random.nextInt(sets)).add(plain(m.data().asSlice(r * m.rowBytes(), length)));
            }
        }
        long bytes = 0; // what sum4 reads: four times the shortest row of each group
        for (int i = 0; i < sets; i++) {
            List<MemorySegment> set = rows.get(i);
            if (set.size() < 4) {
                throw new IllegalArgumentException("fewer than four rows of at least " + vector + " bytes in a share"
                        + " of " + share + " of the matrices");
            }
            for (int g = 0; g + 4 <= set.size(); g += 4) {
                long shortest = Long.MAX_VALUE;
                for (int j = g; j < g + 4; j++) {
                    shortest = Math.min(shortest, set.get(j).byteSize());
                }
                bytes += 4 * shortest;
            }
        }
        try (Parallel parallel = new Parallel(threads)) {
            int[] sink = new int[threads];
            List<MemorySegment> first = rows.getFirst();
            for (int i = 0; i < 2000; i++) { // compile the loop before it is timed
                int g = 4 * (i % (first.size() / 4));
                sink[0] += sum4(first.get(g), first.get(g + 1), first.get(g + 2), first.get(g + 3));
            }
            double best = 0;
            long start = System.nanoTime();
            for (int pass = 0; pass < passes || System.nanoTime() - start < 1_000_000_000L; pass++) {
                long t0 = System.nanoTime();
                for (List<MemorySegment> set : rows) {
                    parallel.forRange(set.size() / 4, 1, 1, (from, to) -> {
                        int sum = 0;
                        for (int g = 4 * from; g < 4 * to; g += 4) {
                            sum += sum4(set.get(g), set.get(g + 1), set.get(g + 2), set.get(g + 3));
                        }
                        sink[from % sink.length] += sum;
                    });
                }
                best = Math.max(best, bytes / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }

    /** The best pass of the threads summing the segments' whole blocks, of at least {@code passes} and a duration. */
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
            for (int i = 0; i < 2000; i++) { // compile the loop before it is timed
                sink[0] += sum(blocks.get(i % blocks.size()));
            }
            double best = 0;
            long start = System.nanoTime();
            for (int pass = 0; pass < passes || System.nanoTime() - start < leastNanos; pass++) {
                long t0 = System.nanoTime();
                parallel.forRange(blocks.size(), 1, 1, (from, to) -> {
                    int sum = 0;
                    for (int b = from; b < to; b++) {
                        sum += sum(blocks.get(b));
                    }
                    sink[from % sink.length] += sum;
                });
                best = Math.max(best, blocks.size() * BLOCK / ((System.nanoTime() - t0) / 1e9));
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

    /** The ints of four rows (slices of whole vectors) read side by side, as the kernels read four listed rows. */
    private static int sum4(MemorySegment r0, MemorySegment r1, MemorySegment r2, MemorySegment r3) {
        IntVector a = IntVector.zero(I);
        IntVector b = IntVector.zero(I);
        IntVector c = IntVector.zero(I);
        IntVector d = IntVector.zero(I);
        long step = I.length() * 4L;
        long n = Math.min(Math.min(r0.byteSize(), r1.byteSize()), Math.min(r2.byteSize(), r3.byteSize()));
        for (long off = 0; off < n; off += step) {
            a = a.add(IntVector.fromMemorySegment(I, r0, off, ByteOrder.LITTLE_ENDIAN));
            b = b.add(IntVector.fromMemorySegment(I, r1, off, ByteOrder.LITTLE_ENDIAN));
            c = c.add(IntVector.fromMemorySegment(I, r2, off, ByteOrder.LITTLE_ENDIAN));
            d = d.add(IntVector.fromMemorySegment(I, r3, off, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).add(c.add(d)).lane(0);
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
}

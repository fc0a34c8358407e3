package dev.turbosparse.runtime.cpu;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits a range of work (rows of a mat-vec, heads, column slices) over a fixed set of threads: the range is cut into
 * chunks, which the caller and its own daemon threads take in turn until none is left, and the call returns when all
 * are done. A thread that runs slower for a while (its reads land on slower memory, the VM's core is busy elsewhere)
 * takes fewer chunks instead of holding the others up at the end, as it did with one fixed part per thread.
 *
 * <p>The chunks shrink as the range is used up: each is {@code 1 / (2 · threads)} of what is left, but not below the
 * call's grain nor {@code 1 / (16 · threads)} of the range. Large chunks first keep the hand-offs few; small ones last
 * keep short the time one thread waits for another's last chunk at the end of the call: with equal chunks of an eighth
 * of the range, half a chunk on average. The bounds depend only on the range, the grain, the
 * alignment and the number of threads, never on timing, and which thread runs a chunk does not change what it
 * computes.
 *
 * <p>A token's decoding is a few hundred such calls of 0.05 to 1 ms each, so the hand-off has to cost microseconds,
 * not the 20 to 30 of an executor's submit and a future's get (measured on this project's 2-core machine): the
 * threads spin on a generation counter for a while after each call and only then park, and the caller spins for
 * their parts to finish. Between tokens (or once the work stops) they park, using no CPU. With more threads than
 * cores nothing spins.
 */
public final class Parallel implements AutoCloseable {

    /** A part of the range: [from, to). */
    @FunctionalInterface
    public interface Body {
        void run(int from, int to);
    }

    /** How long a thread spins for the next call before it parks, when there are cores enough for every thread. */
    private static final long SPIN_NANOS = 50_000;

    /** The smallest chunk is at least this fraction of the range per thread: {@code n / (threads · 16)}. */
    private static final int SMALLEST_CHUNK_DIVISOR = 16;

    private final int threads;
    /** No spinning with more threads than cores: a spinning thread would hold a core that another one needs. */
    private final long spinNanos;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    /** The next chunk of the call under way to be taken. */
    private final AtomicInteger nextChunk = new AtomicInteger();
    /** Incremented by each call that hands chunks out; a worker takes chunks once per generation. */
    private volatile long generation;
    private volatile boolean closed;
    // the call under way, published by the write of generation
    private Body body;
    /** Chunk c of the call under way is [bounds[c], bounds[c + 1]). */
    private int[] bounds = new int[64];
    private int chunks;
    private volatile Throwable failure;
    private Thread caller;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        this.spinNanos = threads <= Runtime.getRuntime().availableProcessors() ? SPIN_NANOS : 0;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Thread(this::work, "turbosparse-cpu-" + (i + 1));
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, n) in parts of at least {@code grain} items (on one thread when there are not grains
     * enough for two), whose bounds are multiples of {@code align} (but the last). Not reentrant: one call at a time,
     * from one thread at a time.
     */
    public void forRange(int n, int grain, int align, Body body) {
        int parts = Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        if (closed) {
            throw new IllegalStateException("this Parallel is closed");
        }
        this.chunks = cut(n, grain, align);
        nextChunk.set(0);
        this.body = body;
        this.failure = null;
        this.caller = Thread.currentThread();
        pending.set(workers.length);
        generation++; // publishes the fields above to the workers
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        Throwable mine = chunks(body);
        long start = System.nanoTime();
        while (pending.get() != 0) {
            if (System.nanoTime() - start < spinNanos) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, 100_000);
            }
        }
        this.body = null;
        Throwable t = mine != null ? mine : failure;
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
    }

    private void work() {
        long seen = 0;
        while (true) {
            long start = System.nanoTime();
            long g;
            while ((g = generation) == seen) {
                if (closed) {
                    return;
                }
                if (System.nanoTime() - start < spinNanos) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            seen = g;
            Throwable t = chunks(body);
            if (t != null) {
                failure = t;
            }
            if (pending.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }
    }

    /** Cuts [0, n) into {@link #bounds} (see the class comment) and returns the number of chunks. */
    private int cut(int n, int grain, int align) {
        int smallest = threads * SMALLEST_CHUNK_DIVISOR;
        int least = Math.max(Math.max(1, grain), (int) ((n + (long) smallest - 1) / smallest));
        int c = 0;
        for (int from = 0; from < n; c++) {
            if (c + 2 > bounds.length) {
                bounds = Arrays.copyOf(bounds, bounds.length * 2);
            }
            bounds[c] = from;
            int size = Math.max(least, (n - from + 2 * threads - 1) / (2 * threads));
            from = (int) Math.min(n, ((long) from + size + align - 1) / align * align);
        }
        bounds[c] = n;
        return c;
    }

    /** Runs chunks of the call under way until none is left, or one fails: its failure, or null. */
    private Throwable chunks(Body b) {
        int[] at = bounds;
        for (int c; (c = nextChunk.getAndIncrement()) < chunks; ) {
            try {
                b.run(at[c], at[c + 1]);
            } catch (RuntimeException | Error e) {
                return e;
            }
        }
        return null;
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}

package dev.turbosparse.runtime.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits a range of work (rows of a mat-vec, heads, column slices) over a fixed set of threads: the caller runs the
 * first part, its own daemon threads the others, and the call returns when all are done.
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

    private final int threads;
    /** No spinning with more threads than cores: a spinning thread would hold a core that another one needs. */
    private final long spinNanos;
    private final Thread[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    /** Incremented by each call that hands parts out; a worker runs its part once per generation. */
    private volatile long generation;
    private volatile boolean closed;
    // the call under way, published by the write of generation
    private Body body;
    private int n;
    private int step;
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
            int part = i + 1;
            workers[i] = new Thread(() -> work(part), "turbosparse-cpu-" + part);
            workers[i].setDaemon(true);
            workers[i].start();
        }
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, n) in at most {@link #threads} parts of at least {@code grain} items, whose bounds
     * are multiples of {@code align} (but the last). Not reentrant: one call at a time, from one thread at a time.
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
        this.step = ((n + parts - 1) / parts + align - 1) / align * align;
        this.n = n;
        this.body = body;
        this.failure = null;
        this.caller = Thread.currentThread();
        pending.set(workers.length);
        generation++; // publishes the fields above to the workers
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
        Throwable mine = null;
        try {
            body.run(0, Math.min(n, step));
        } catch (RuntimeException | Error e) {
            mine = e;
        }
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

    private void work(int part) {
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
            int from = part * step;
            if (from < n) {
                try {
                    body.run(from, Math.min(n, from + step));
                } catch (RuntimeException | Error e) {
                    failure = e;
                }
            }
            if (pending.decrementAndGet() == 0) {
                LockSupport.unpark(caller);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }
}

package dev.turbosparse.runtime.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits a range of work (rows of a mat-vec, heads, column slices) over a fixed set of threads: the caller runs the
 * first part, pooled daemon threads the others, and the call returns when all are done.
 */
public final class Parallel implements AutoCloseable {

    /** A part of the range: [from, to). */
    @FunctionalInterface
    public interface Body {
        void run(int from, int to);
    }

    private final int threads;
    private final ExecutorService pool;

    public Parallel(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        this.threads = threads;
        AtomicInteger n = new AtomicInteger();
        this.pool = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
            Thread t = new Thread(r, "turbosparse-cpu-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, n) in at most {@link #threads} parts of at least {@code grain} items, whose bounds
     * are multiples of {@code align} (but the last).
     */
    public void forRange(int n, int grain, int align, Body body) {
        int parts = Math.min(threads, Math.max(1, n / Math.max(1, grain)));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        int step = ((n + parts - 1) / parts + align - 1) / align * align;
        List<Future<?>> futures = new ArrayList<>(parts - 1);
        for (int from = step; from < n; from += step) {
            int f = from;
            int t = Math.min(n, from + step);
            futures.add(pool.submit(() -> body.run(f, t)));
        }
        body.run(0, Math.min(n, step));
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}

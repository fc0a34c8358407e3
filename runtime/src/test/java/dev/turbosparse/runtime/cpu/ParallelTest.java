package dev.turbosparse.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelTest {

    @Test
    void everyItemRunsOnceInAlignedPartsOverManyCalls() {
        Random r = new Random(5);
        for (int threads = 1; threads <= 3; threads++) {
            try (Parallel p = new Parallel(threads)) {
                for (int call = 0; call < 2_000; call++) {
                    int n = r.nextInt(500);
                    int grain = 1 + r.nextInt(40);
                    int align = 1 << r.nextInt(5);
                    AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(1, n));
                    p.forRange(n, grain, align, (from, to) -> {
                        assertTrue(from % align == 0, "part starts at " + from + ", not a multiple of " + align);
                        for (int i = from; i < to; i++) {
                            seen.incrementAndGet(i);
                        }
                    });
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, seen.get(i), "item " + i + " of " + n + " (threads " + threads + ")");
                    }
                }
            }
        }
    }

    @Test
    void aSlowPartDoesNotHoldTheOthers() throws InterruptedException {
        try (Parallel p = new Parallel(2)) {
            java.util.Map<Integer, Thread> ranBy = new java.util.concurrent.ConcurrentHashMap<>();
            p.forRange(1000, 10, 1, (from, to) -> {
                ranBy.put(from, Thread.currentThread());
                if (from == 0) {
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            assertTrue(ranBy.size() > 2 && ranBy.size() <= 2 * 16, "chunks: " + ranBy.keySet());
            Thread slow = ranBy.get(0);
            ranBy.forEach((from, t) -> assertTrue(from == 0 || t != slow,
                    "the chunk at " + from + " waited for the thread that slept in the first"));
        }
    }

    @Test
    void chunksShrinkTowardsTheEndAndDoNotDependOnTiming() {
        try (Parallel p = new Parallel(2)) {
            java.util.List<java.util.Set<java.util.List<Integer>>> calls = new java.util.ArrayList<>();
            for (int call = 0; call < 3; call++) {
                java.util.Set<java.util.List<Integer>> parts = java.util.concurrent.ConcurrentHashMap.newKeySet();
                int slowChunk = call; // a different chunk sleeps in each call
                p.forRange(7168, 16, 1, (from, to) -> {
                    parts.add(java.util.List.of(from, to));
                    if (parts.size() == slowChunk + 1) {
                        try {
                            Thread.sleep(20);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                });
                calls.add(parts);
            }
            assertEquals(calls.get(0), calls.get(1), "the chunks of the same call differ with timing");
            assertEquals(calls.get(0), calls.get(2), "the chunks of the same call differ with timing");
            java.util.List<java.util.List<Integer>> sorted = new java.util.ArrayList<>(calls.get(0));
            sorted.sort(java.util.Comparator.comparing(c -> c.get(0)));
            int first = sorted.getFirst().get(1) - sorted.getFirst().get(0);
            int last = sorted.get(sorted.size() - 2).get(1) - sorted.get(sorted.size() - 2).get(0); // before the remainder
            assertEquals(7168 / 4, first, "the first chunk: a quarter of the range with two threads");
            assertEquals(7168 / 32, last, "the smallest chunks: a sixteenth of a thread's share");
            assertTrue(sorted.size() < 20, "chunks: " + sorted.size());
        }
    }

    @Test
    void aFailureInAnyPartReachesTheCallerAndTheNextCallStillWorks() {
        try (Parallel p = new Parallel(2)) {
            for (int failing = 0; failing < 2; failing++) {
                int part = failing;
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.forRange(100, 1, 1, (from, to) -> {
                    if ((from == 0) == (part == 0)) {
                        throw new IllegalStateException("part " + part);
                    }
                }));
                assertEquals("part " + part, e.getMessage());
                int[] sum = new int[1];
                p.forRange(100, 1, 1, (from, to) -> {
                    synchronized (sum) {
                        sum[0] += to - from;
                    }
                });
                assertEquals(100, sum[0]);
            }
        }
    }

    @Test
    void closedThreadsEnd() throws InterruptedException {
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        Parallel p = new Parallel(3);
        p.forRange(10, 1, 1, (from, to) -> { });
        Set<Thread> mine = new HashSet<>(Thread.getAllStackTraces().keySet());
        mine.removeAll(before);
        p.close();
        assertEquals(2, mine.stream().filter(t -> t.getName().startsWith("turbosparse-cpu-")).count());
        for (Thread t : mine) {
            if (t.getName().startsWith("turbosparse-cpu-")) {
                t.join(5_000);
                assertTrue(!t.isAlive(), t.getName() + " still runs after close");
            }
        }
        assertThrows(IllegalStateException.class, () -> p.forRange(10, 1, 1, (from, to) -> { }));
    }
}

package dev.turbosparse.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The pages under memory-mapped weights, through the C library (FFM): how many are in memory now ({@code mincore})
 * and keeping them there ({@code mlock}, what llama.cpp's {@code --mlock} does).
 *
 * <p>Decoding reads every mapped weight page once per token, and a page the kernel has dropped from the page cache
 * comes back from disk. A machine that reclaims cold page cache without memory pressure makes that more than a
 * start-up cost: on the 2-core VM the benchmarks run on, 2 GB model files left alone for about ten minutes lost half
 * of their pages or more (docs/BENCHMARKS.md). Locked pages stay.
 *
 * <p>Both calls want page-aligned ranges: each segment is widened to whole pages, and overlapping ranges (the
 * tensors of one file) are merged first, so each page is asked about, or locked, once. Where the C library has no
 * {@code mincore} or {@code mlock} (not Linux or macOS), {@link #available} is false.
 */
public final class MappedPages {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle MINCORE = find("mincore",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle MLOCK = find("mlock",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle MADVISE = find("madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    /** Linux's MADV_HUGEPAGE: back the range with transparent huge pages. */
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP = find("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_LONG));
    private static final MethodHandle MUNMAP = find("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    /** PROT_READ | PROT_WRITE. */
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    /** Linux's MAP_PRIVATE | MAP_ANONYMOUS. */
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    /** The size of a transparent huge page on x86-64 and most arm64 kernels. */
    public static final long HUGE_PAGE = 2L << 20;
    private static final MethodHandle STRERROR = LINKER.defaultLookup().find("strerror")
            .map(s -> LINKER.downcallHandle(s, FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)))
            .orElse(null);
    private static final MethodHandle GETPAGESIZE = LINKER.defaultLookup().find("getpagesize")
            .map(s -> LINKER.downcallHandle(s, FunctionDescriptor.of(ValueLayout.JAVA_INT)))
            .orElse(null);
    /** Pages asked about per mincore call: 4 GiB of 4 KiB pages, a 1 MiB vector. */
    private static final long PAGES_PER_CALL = 1 << 20;

    private MappedPages() {}

    private static MethodHandle find(String name, FunctionDescriptor fd) {
        SymbolLookup libc = LINKER.defaultLookup();
        return libc.find(name).map(s -> LINKER.downcallHandle(s, fd, Linker.Option.captureCallState("errno")))
                .orElse(null);
    }

    /** Whether this platform's C library has mincore and mlock. */
    public static boolean available() {
        return MINCORE != null && MLOCK != null;
    }

    /** The size of a memory page, in bytes. */
    public static long pageSize() {
        try {
            return GETPAGESIZE == null ? 4096 : (int) GETPAGESIZE.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("getpagesize failed: " + t, t);
        }
    }

    /** A page-aligned range of addresses, [from, to). */
    record Range(long from, long to) {
        long pages(long page) {
            return (to - from) / page;
        }
    }

    /** The segments' pages as merged page-aligned ranges, in address order. */
    static List<Range> ranges(List<MemorySegment> segments, long page) {
        List<Range> raw = new ArrayList<>();
        for (MemorySegment s : segments) {
            if (s.byteSize() == 0) {
                continue;
            }
            long from = Math.floorDiv(s.address(), page) * page;
            long to = Math.ceilDiv(s.address() + s.byteSize(), page) * page;
            raw.add(new Range(from, to));
        }
        raw.sort(Comparator.comparingLong(Range::from));
        List<Range> merged = new ArrayList<>();
        for (Range r : raw) {
            Range last = merged.isEmpty() ? null : merged.getLast();
            if (last != null && r.from() <= last.to()) {
                merged.set(merged.size() - 1, new Range(last.from(), Math.max(last.to(), r.to())));
            } else {
                merged.add(r);
            }
        }
        return merged;
    }

    /** The number of distinct pages under the segments. */
    public static long pages(List<MemorySegment> segments) {
        long page = pageSize();
        return ranges(segments, page).stream().mapToLong(r -> r.pages(page)).sum();
    }

    /**
     * The share of the segments' pages in memory now, from 0 to 1 (1 for no pages at all).
     *
     * @throws IllegalStateException when mincore is missing or fails (a segment not mapped)
     */
    public static double residentShare(List<MemorySegment> segments) {
        if (!available()) {
            throw new IllegalStateException("mincore is not available on " + System.getProperty("os.name"));
        }
        long page = pageSize();
        long total = 0;
        long resident = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment vec = arena.allocate(PAGES_PER_CALL);
            for (Range r : ranges(segments, page)) {
                for (long at = r.from(); at < r.to(); at += PAGES_PER_CALL * page) {
                    long n = Math.min(PAGES_PER_CALL, (r.to() - at) / page);
                    int rc = (int) MINCORE.invokeExact(state, MemorySegment.ofAddress(at), n * page, vec);
                    if (rc != 0) {
                        throw new IllegalStateException(String.format(Locale.ROOT, "mincore of %,d bytes at 0x%x: %s",
                                n * page, at, strerror((int) ERRNO.get(state, 0L))));
                    }
                    for (long i = 0; i < n; i++) {
                        resident += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
                    }
                    total += n;
                }
            }
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mincore failed: " + t, t);
        }
        return total == 0 ? 1 : (double) resident / total;
    }

    /**
     * Locks the segments' pages in memory (reading in those not there yet), until they are unmapped: the kernel no
     * longer drops them from the page cache.
     *
     * @return the bytes locked (whole pages)
     * @throws IllegalStateException naming the cause when the C library refuses: most often the limit on locked
     *     memory ({@code ulimit -l}) is below the model's size
     */
    public static long lock(List<MemorySegment> segments) {
        if (!available()) {
            throw new IllegalStateException("mlock is not available on " + System.getProperty("os.name"));
        }
        long page = pageSize();
        long locked = 0;
        List<Range> ranges = ranges(segments, page);
        long total = ranges.stream().mapToLong(r -> r.to() - r.from()).sum();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            for (Range r : ranges) {
                int rc = (int) MLOCK.invokeExact(state, MemorySegment.ofAddress(r.from()), r.to() - r.from());
                if (rc != 0) {
                    throw new IllegalStateException(String.format(Locale.ROOT,
                            "mlock of %,d MB of weights failed after %,d MB: %s (the limit on locked memory, `ulimit"
                                    + " -l`, must hold the whole model; or there is not enough free memory)",
                            total >> 20, locked >> 20, strerror((int) ERRNO.get(state, 0L))));
                }
                locked += r.to() - r.from();
            }
        } catch (IllegalStateException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mlock failed: " + t, t);
        }
        return locked;
    }

    /**
     * Fresh memory of the process's own, {@code bytes} long and freed when {@code arena} closes, for data about to be
     * written once (weights read in). On Linux it is an anonymous mapping advised for transparent huge pages
     * ({@code madvise(MADV_HUGEPAGE)}) before its first touch, which the kernel then backs with 2 MiB pages where the
     * system's setting allows it ({@code always} or {@code madvise} in /sys/kernel/mm/transparent_hugepage/enabled):
     * one page fault where there were 512, one entry in the address translation caches. {@link Arena#allocate} cannot
     * give that: it zeroes what it allocates, which faults every 4 KiB page in before any advice. Elsewhere, or when
     * the C library refuses the mapping, it is {@code arena.allocate(bytes, 4096)}.
     *
     * @throws OutOfMemoryError when neither way gets the memory
     */
    public static MemorySegment allocateHugePages(long bytes, Arena arena) {
        if (MMAP == null || MUNMAP == null || MADVISE == null || !System.getProperty("os.name", "").startsWith("Linux")
                || bytes <= 0) {
            return arena.allocate(Math.max(bytes, 1), 4096);
        }
        long length = Math.ceilDiv(bytes, HUGE_PAGE) * HUGE_PAGE;
        MemorySegment at;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = call.allocate(CALL_STATE);
            at = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, length, PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS, -1, 0L);
            if (at.address() == -1L) { // MAP_FAILED
                return arena.allocate(bytes, 4096);
            }
            int ignored = (int) MADVISE.invokeExact(state, at, length, MADV_HUGEPAGE); // advice: 4 KiB pages if refused
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + length + " bytes failed: " + t, t);
        }
        return at.reinterpret(bytes, arena, s -> unmap(s.address(), length));
    }

    private static void unmap(long address, long length) {
        try (Arena call = Arena.ofConfined()) {
            int ignored = (int) MUNMAP.invokeExact(call.allocate(CALL_STATE), MemorySegment.ofAddress(address), length);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed: " + t, t);
        }
    }

    private static String strerror(int errno) {
        try {
            if (STRERROR != null) {
                MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
                if (!s.equals(MemorySegment.NULL)) {
                    return s.reinterpret(256).getString(0) + " (errno " + errno + ")";
                }
            }
        } catch (Throwable ignored) {
            // fall through to the number alone
        }
        return "errno " + errno;
    }
}

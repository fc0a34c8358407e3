package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mincore and mlock over a real memory-mapped file. */
class MappedPagesTest {

    @TempDir
    Path dir;

    @BeforeAll
    static void onLinuxOrMac() {
        assumeTrue(MappedPages.available(), "mincore and mlock are not in this platform's C library");
    }

    @Test
    void memoryForWeightsComesInHugePagesWhereTheSystemAllowsThem() throws IOException {
        Path setting = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");
        assumeTrue(Files.isReadable(setting) && !Files.readString(setting).contains("[never]"),
                "no transparent huge pages here");
        long huge = MappedPages.HUGE_PAGE;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = MappedPages.allocateHugePages(4 * huge, arena);
            assertEquals(4 * huge, s.byteSize());
            s.fill((byte) 1); // the first touch: faults the pages in
            long kb = anonHugePagesKb(s.address());
            // all four unless the kernel found no free 2 MiB of physical memory
            assertTrue(kb >= huge >> 10, kb + " kB of huge pages under the 8 MiB allocated");
        }
    }

    /** The AnonHugePages of the mapping in /proc/self/smaps that holds {@code address}. */
    private static long anonHugePagesKb(long address) throws IOException {
        boolean inside = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-');
            if (dash > 0 && line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                long from = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long to = Long.parseUnsignedLong(line.substring(dash + 1, line.indexOf(' ')), 16);
                inside = address >= from && address < to;
            } else if (inside && line.startsWith("AnonHugePages:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no mapping in /proc/self/smaps holds 0x" + Long.toHexString(address));
    }

    @Test
    void overlappingSegmentsAreMergedIntoWholePages() {
        long page = 4096;
        List<MappedPages.Range> r = MappedPages.ranges(List.of(MemorySegment.ofAddress(10_000).reinterpret(100),
                MemorySegment.ofAddress(8_192).reinterpret(4_096), MemorySegment.ofAddress(40_960).reinterpret(1),
                MemorySegment.ofAddress(50_000).reinterpret(0)), page);
        assertEquals(List.of(new MappedPages.Range(8_192, 12_288), new MappedPages.Range(40_960, 45_056)), r);
    }

    @Test
    void aFileNeverTouchedHasNoPageInMemoryUntilItIsWrittenOrLocked() throws IOException {
        long page = MappedPages.pageSize();
        Path file = dir.resolve("holes.bin");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(64 * page); // a sparse file: nothing written, nothing in the page cache
        }
        try (Arena arena = Arena.ofShared();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_WRITE, 0, 64 * page, arena);
            // two tensors sharing a page, as in a GGUF file: the pages are counted once
            List<MemorySegment> tensors = List.of(all.asSlice(0, 10 * page + 5), all.asSlice(10 * page, 54 * page));
            assertEquals(64, MappedPages.pages(tensors));
            assertEquals(0.0, MappedPages.residentShare(tensors));
            for (int p = 0; p < 16; p++) {
                all.set(ValueLayout.JAVA_BYTE, p * page, (byte) 1);
            }
            double share = MappedPages.residentShare(tensors);
            // the 16 pages written, and whatever the kernel brought in with them
            assertTrue(share >= 0.25, "at least the pages written: " + share);
            assertEquals(64 * page, MappedPages.lock(tensors));
            assertEquals(1.0, MappedPages.residentShare(tensors));
        }
    }

    @Test
    void aRangeThatIsNotMappedIsRefusedWithTheReason() {
        long page = MappedPages.pageSize();
        // the first page of the address space is never mapped
        List<MemorySegment> nothing = List.of(MemorySegment.ofAddress(page).reinterpret(page));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> MappedPages.lock(nothing));
        assertTrue(e.getMessage().startsWith("mlock of 0 MB of weights failed after 0 MB: "), e.getMessage());
        assertTrue(e.getMessage().contains("errno"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> MappedPages.residentShare(nothing));
        String where = String.format(java.util.Locale.ROOT, "mincore of %,d bytes at 0x%x: ", page, page);
        assertTrue(e.getMessage().startsWith(where), e.getMessage());
    }
}

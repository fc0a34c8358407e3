package dev.turbosparse.runtime.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.Matrix;
import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rows' read rate that bench runtime sets beside the weights', and the ceiling a mode's reads make of the two. */
class BandwidthTest {

    @Test
    void listedRowsAreReadFromTheMatricesAndABadShareIsRefused() {
        try (Arena arena = Arena.ofShared()) { // read by the threads
            // 1,024 rows of 4 KiB F16, as a 2048-wide up projection's
            Matrix up = new Matrix("up", GgmlType.F16, 1024, 2048, arena.allocate(1024L * 4096, 64));
            double rate = Bandwidth.measureRows(List.of(up, up.rows(0, 512)), 0.125, 7, 2, 2);
            assertTrue(rate > 1e8 && Double.isFinite(rate), "bytes per second: " + rate);

            var bad = assertThrows(IllegalArgumentException.class,
                    () -> Bandwidth.measureRows(List.of(up), 0, 7, 2, 2));
            assertTrue(bad.getMessage().contains("share of rows must be in (0, 1]"), bad.getMessage());
            // eight sets of the rows of 16: some set holds fewer than four
            Matrix small = up.rows(0, 16);
            var few = assertThrows(IllegalArgumentException.class,
                    () -> Bandwidth.measureRows(List.of(small), 0.125, 7, 2, 2));
            assertTrue(few.getMessage().contains("fewer than four rows"), few.getMessage());
        }
    }

    @Test
    void theCeilingReadsTheWholeMatricesAndTheListedRowsEachAtItsRate() {
        // 100 bytes a token, 40 of them listed: 60 at 10 B/s and 40 at 5 B/s take 14 s
        var exact = new DecodeBenchmark.ModeResult(Decoder.Mode.EXACT, 16, 1, 100, 40, 0.1, 1.5, 0.5);
        assertEquals(1 / 14.0, exact.readCeiling(10, 5), 1e-12);
        var dense = new DecodeBenchmark.ModeResult(Decoder.Mode.DENSE, 16, 1, 100, 0, 1, Double.NaN, 0.5);
        assertEquals(0.1, dense.readCeiling(10, Double.NaN), 1e-12);
    }
}

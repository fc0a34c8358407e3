package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.bench.DecodeBenchmark;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bench model and bench runtime on the tiny config: the sparsity asked for is the sparsity exact mode meets, and every
 * mode is measured against the bandwidth. (The figures themselves belong in docs/BENCHMARKS.md.)
 */
class BenchRuntimeCommandTest {

    @TempDir
    Path dir;

    @Test
    void aBenchModelOfSetSparsityIsMeasuredInEveryMode() {
        Path model = dir.resolve("bench-90");
        CliRun r = CliRun.of("bench", "model", "--config", CliRun.root().resolve("configs/models/tiny-mistral-drelu.json")
                .toString(), "--sparsity", "0.9", "--predicted", "0.2", "--out", model.toString());
        assertEquals(0, r.exit(), r.err());
        r = CliRun.of("bench", "runtime", "--model", model.toString(), "--tokens", "24", "--bandwidth-mb", "64",
                "--threads", "2", "--warmup-seconds", "0.5");
        assertEquals(0, r.exit(), r.err());
        // the bandwidth of each round's own moment, measured before it, and the shares against it
        Matcher bw = Pattern.compile("(?m)^bandwidth +(\\d+\\.\\d+) GB/s read \\(2 threads over 64 MB, best of 3 passes"
                + " of one stream a thread and 3 of four, before each round, median of the rounds; (\\d+\\.\\d+)"
                + " before the warm-up\\)$").matcher(r.out());
        assertTrue(bw.find(), r.out());
        // the rounds' measurements read as fast as the one before the warm-up, within this VM's swings: the summing
        // loop, once fed the model's pages too, came out of the interpreter at 0.2 GB/s in one run of two
        assertTrue(Double.parseDouble(bw.group(1)) > 0.1 * Double.parseDouble(bw.group(2)), r.out());
        assertTrue(r.out().matches("(?s).*\ndense .* GB/s = +\\d+\\.\\d% of bandwidth\n.*"), r.out());
        assertTrue(r.out().matches("(?s).*\nweights read +\\d+\\.\\d+ GB/s \\(2 threads summing the model's own mapped"
                + " pages, best of 5 passes of each\\)\n.*"), r.out());
        // rows read, as shares of the neurons: 40% of them are live at 90% zeros, and relu(gate) and relu(up) are each
        // positive for about half of the live ones and a token
        assertArrayEquals(new double[] {100, 100, 100}, shares(r.out(), "dense"), r.out());
        double[] exact = shares(r.out(), "exact");
        assertEquals(100, exact[0], r.out());
        assertTrue(Math.abs(exact[1] - 20) < 5, "exact reads the up rows of the ~20% whose gate is positive: " + r.out());
        assertTrue(Math.abs(exact[2] - 10) < 3, "exact reads the down rows of about 10% of the neurons: " + r.out());
        double[] predicted = shares(r.out(), "predicted");
        assertEquals(20, predicted[0], 0.5, "the gate rows of the 20% predicted: " + r.out());
        assertTrue(Math.abs(predicted[1] - 10) < 4, "up rows of the predicted whose gate is positive: " + r.out());
        assertTrue(predicted[2] > 1 && predicted[2] < predicted[1],
                "of the 20% predicted, about a quarter are not zero: " + r.out());
        assertTrue(r.out().contains("x dense"), r.out());
        // how much of the weights stayed in memory (mincore), which --mlock makes all of them (below)
        assertTrue(r.out().matches("(?s).*\nin memory +\\d+\\.\\d% of the weights' [\\d,]+ pages( \\(the embeddings"
                + " aside\\))? as the rounds began, \\d+\\.\\d% at their end\n.*"), r.out());

        r = CliRun.of("bench", "runtime", "--model", model.toString(), "--tokens", "4", "--bandwidth-mb", "64",
                "--modes", "dense", "--warmup-seconds", "0.2", "--mlock", "--no-mmap", "--format", "json");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().matches("(?s).*--no-mmap: \\d+ MB of weights read into memory in \\d+\\.\\d s.*"), r.err());
        assertTrue(r.out().contains("\"warmup_seconds\":0.2"), r.out());
        assertTrue(r.out().matches("(?s).*\"bandwidth_before_warmup_bytes_per_s\":[0-9.E]+,.*\"bandwidth_share\":[0-9.E]+.*"),
                r.out());
        assertTrue(r.out().contains("\"mlock\":true,\"no_mmap\":true,\"resident_share_start\":1.0,\"resident_share_end\":1.0"),
                r.out());
        assertTrue(r.err().matches("(?s).*--mlock: \\d+ MB of weights locked in memory.*"), r.err());
        CliRun negative = CliRun.of("bench", "runtime", "--model", model.toString(), "--warmup-seconds", "-1");
        assertEquals(1, negative.exit());
        assertTrue(negative.errorLine().contains("--warmup-seconds 0 or more"), negative.errorLine());

        CliRun bad = CliRun.of("bench", "model", "--config", CliRun.root().resolve("configs/models/tiny-mistral-drelu.json")
                .toString(), "--sparsity", "0.5", "--out", dir.resolve("x").toString());
        assertEquals(1, bad.exit());
        assertTrue(bad.errorLine().contains("--sparsity must be in [0.75, 1)"), bad.errorLine());
    }

    @Test
    void aShareAboveTheBandwidthGetsANoteThatNamesItsCause() {
        // 16 tokens in a second, 2 GB a token: 32 GB/s
        DecodeBenchmark.ModeResult dense = new DecodeBenchmark.ModeResult(Decoder.Mode.DENSE, 16, 1, 2e9, 1, 1, 1,
                Double.NaN, 1.194);
        DecodeBenchmark.ModeResult exact = new DecodeBenchmark.ModeResult(Decoder.Mode.EXACT, 16, 0.5, 1e9, 1, 0.2,
                0.1, 2, 1.05);
        assertEquals("dense read 32.00 GB/s, 119.4% of the 26.80 GB/s measured between the rounds (71.08 before the"
                + " warm-up): the machine's bandwidth fell during the run, and the shares of the bandwidth do not"
                + " measure the decoder; run it again",
                BenchCommand.RuntimeBench.beyondBandwidth(List.of(exact, dense), 26.8e9, 71.08e9, 70e9));
        // the bandwidth as before the warm-up, and still exceeded: the buffer is slower than the weights' memory
        assertEquals("exact read 32.00 GB/s, 105.0% of the 30.48 GB/s measured between the rounds (32.00 before the"
                + " warm-up): the buffer read slower than the weights, which were read from the caches or sit in"
                + " faster memory than the buffer (the model's own pages read at 182.11 GB/s), and the shares of the"
                + " bandwidth do not measure the decoder",
                BenchCommand.RuntimeBench.beyondBandwidth(List.of(exact), 30.48e9, 32e9, 182.11e9));
        DecodeBenchmark.ModeResult within = new DecodeBenchmark.ModeResult(Decoder.Mode.DENSE, 16, 1, 2e9, 1, 1, 1,
                Double.NaN, 0.75);
        DecodeBenchmark.ModeResult none = new DecodeBenchmark.ModeResult(Decoder.Mode.DENSE, 16, 1, 2e9, 1, 1, 1,
                Double.NaN, Double.NaN);
        assertNull(BenchCommand.RuntimeBench.beyondBandwidth(List.of(within, none), 42.7e9, 60e9, 65e9));
    }

    /** A mode's shares of gate, up and down rows read, in percent. */
    private static double[] shares(String out, String mode) {
        Matcher m = Pattern.compile("(?m)^" + mode + " .* rows gate +(\\d+\\.\\d+)% up +(\\d+\\.\\d+)% down +(\\d+\\.\\d+)%")
                .matcher(out);
        assertTrue(m.find(), mode + " in " + out);
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2)),
                Double.parseDouble(m.group(3))};
    }
}

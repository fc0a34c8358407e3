package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.eval.report.MetricsCurves;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** plot: curves of metrics.jsonl as PNG or SVG, one per source or layer, chained runs continue on the x axis. */
class PlotCommandTest {

    @TempDir
    Path dir;

    private Path run(String name, String... lines) throws IOException {
        Path run = dir.resolve(name);
        Files.createDirectories(run);
        Files.writeString(run.resolve("metrics.jsonl"), String.join("\n", lines) + "\n");
        return run;
    }

    @Test
    void heldOutLossOfAContinuedRunFollowsItsBase() throws IOException {
        Path base = run("base",
                "{\"step\":0,\"loss\":10.4,\"tokens\":0,\"heldout_loss\":{\"web\":10.4,\"code\":10.5}}",
                "{\"step\":1,\"loss\":9.0,\"tokens\":100}",
                "{\"step\":2,\"loss\":8.0,\"tokens\":200,\"heldout_loss\":{\"web\":8.1,\"code\":7.9}}");
        Path next = run("next",
                "{\"step\":0,\"loss\":9.5,\"tokens\":0,\"heldout_loss\":{\"web\":9.4,\"code\":9.6}}",
                "{\"step\":2,\"loss\":7.5,\"tokens\":200,\"heldout_loss\":{\"web\":7.6,\"code\":7.4}}");
        Path png = dir.resolve("plots/heldout.png");
        CliRun r = CliRun.of("plot", "--run", base + "=swiglu", "--run", next + "=drelu", "--metric", "heldout_loss",
                "--chain", "--out", png.toString());
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(5, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("swiglu web") && lines.get(0).contains("step 0: 10.40000  ->  step 2: 8.10000"),
                lines.get(0));
        assertTrue(lines.get(2).startsWith("drelu web") && lines.get(2).contains("step 2: 9.40000  ->  step 4: 7.60000"),
                "the continued run starts where its base ended: " + lines.get(2));
        byte[] magic = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, magic);
    }

    @Test
    void aSourceKeepsItsColourAcrossRunsAndEachRunHasItsLineStyle() {
        List<double[]> p = List.of(new double[] {0, 1});
        List<MetricsCurves.Style> parts = MetricsCurves.styles(List.of(new MetricsCurves.Curve("a web", "web", 0, p),
                new MetricsCurves.Curve("a code", "code", 0, p), new MetricsCurves.Curve("b web", "web", 1, p),
                new MetricsCurves.Curve("b code", "code", 1, p)));
        assertEquals(List.of(new MetricsCurves.Style(0, 0), new MetricsCurves.Style(1, 0), new MetricsCurves.Style(0, 1),
                new MetricsCurves.Style(1, 1)), parts);
        List<MetricsCurves.Style> numbers = MetricsCurves.styles(List.of(new MetricsCurves.Curve("a", "", 0, p),
                new MetricsCurves.Curve("b", "", 1, p)));
        assertEquals(List.of(new MetricsCurves.Style(0, 0), new MetricsCurves.Style(1, 0)), numbers,
                "one number per run: a colour each, solid");
    }

    @Test
    void sparsityPerLayerAveragesExpertsAndSkipsEmptyOnes() throws IOException {
        Path moe = run("moe",
                "{\"step\":10,\"loss\":7.0,\"tokens\":1000,\"ffn_zero_fraction\":[[0.6,0.8],[0.7,null]]}",
                "{\"step\":20,\"loss\":6.5,\"tokens\":2000,\"ffn_zero_fraction\":[[0.7,0.9],[0.75,0.85]]}");
        Path svg = dir.resolve("zeros.svg");
        CliRun r = CliRun.of("plot", "--run", moe.toString(), "--metric", "ffn_zero_fraction", "--x", "tokens",
                "--out", svg.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("moe layer 0") && r.out().contains("tokens 1,000: 0.70000  ->  tokens 2,000: 0.80000"),
                r.out());
        assertTrue(r.out().contains("moe layer 1") && r.out().contains("tokens 1,000: 0.70000  ->  tokens 2,000: 0.80000"),
                r.out());
        assertTrue(Files.readString(svg).contains("<svg"));
    }

    @Test
    void aMetricNoLineHasIsNamed() throws IOException {
        Path base = run("base", "{\"step\":1,\"loss\":9.0,\"tokens\":100}");
        CliRun r = CliRun.of("plot", "--run", base.toString(), "--metric", "aux_loss", "--out",
                dir.resolve("x.png").toString());
        assertEquals(1, r.exit());
        assertTrue(r.errorLine().endsWith("no line of its metrics.jsonl has 'aux_loss'"), r.errorLine());
    }
}

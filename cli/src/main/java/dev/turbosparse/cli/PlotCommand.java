package dev.turbosparse.cli;

import dev.turbosparse.eval.report.MetricsCurves;
import dev.turbosparse.eval.report.MetricsCurves.Curve;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse plot}: curves of training runs' metrics.jsonl, as PNG or SVG, and their first and last values
 * on stdout.
 */
@Command(name = "plot", mixinStandardHelpOptions = true,
        description = {"Plot a metric of one or more training runs (their metrics.jsonl) against steps or tokens, to"
            + " a PNG or SVG file, and print each curve's first and last points.",
            "A metric that is a map or a list in metrics.jsonl gives one curve per key or index: heldout_loss one per"
                + " source, ffn_zero_fraction one per layer (for experts, their mean). A source or layer keeps its"
                + " colour across runs; each run has its own line style."})
final class PlotCommand implements Callable<Integer> {

    enum Axis { step, tokens }

    @Option(names = "--run", required = true, paramLabel = "PATH[=LABEL]",
            description = "A run folder or its metrics.jsonl (a path or URI), with an optional label. Repeatable.")
    List<String> runs;

    @Option(names = "--metric", defaultValue = "loss", paramLabel = "NAME",
            description = "loss, heldout_loss, ffn_zero_fraction, aux_loss, lr, grad_norm, tokens_per_s or mfu"
                + " (default: ${DEFAULT-VALUE}).")
    String metric;

    @Option(names = "--x", defaultValue = "step", description = "step or tokens (default: ${DEFAULT-VALUE}).")
    Axis axis;

    @Option(names = "--chain", description = "Each run continues the one before on the x axis (a continued"
            + " pretraining after its base): its x values start where the previous run's end.")
    boolean chain;

    @Option(names = "--title", paramLabel = "TEXT", description = "The chart's title (default: the metric).")
    String title;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The chart: FILE.png or FILE.svg.")
    Path out;

    @Override
    public Integer call() throws Exception {
        String name = out.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!name.endsWith(".png") && !name.endsWith(".svg")) {
            throw new Cli.UserError("--out must end with .png or .svg, got " + out);
        }
        List<Curve> curves = new ArrayList<>();
        double offset = 0;
        for (int r = 0; r < runs.size(); r++) {
            String run = runs.get(r);
            int eq = run.lastIndexOf('=');
            String where = eq > 0 ? run.substring(0, eq) : run;
            String label = eq > 0 ? run.substring(eq + 1) : Path.of(where).getFileName().toString();
            List<Curve> own = MetricsCurves.read(where, label, r, metric, axis.name(), chain ? offset : 0);
            if (own.isEmpty()) {
                throw new Cli.UserError(where + ": no line of its metrics.jsonl has '" + metric + "'");
            }
            curves.addAll(own);
            for (Curve c : own) {
                offset = Math.max(offset, c.points().getLast()[0]);
            }
        }
        XYChart chart = new XYChartBuilder().width(960).height(540).title(title != null ? title : metric)
                .xAxisTitle(axis == Axis.step ? "step" : "tokens").yAxisTitle(metric).build();
        chart.getStyler().setMarkerSize(4);
        MetricsCurves.addTo(chart, curves);
        PrintStream o = Output.stdout();
        for (Curve c : curves) {
            double[] first = c.points().getFirst();
            double[] last = c.points().getLast();
            o.printf(Locale.ROOT, "%-28s %4d points  %s %,.0f: %.5f  ->  %s %,.0f: %.5f%n", c.name(), c.points().size(),
                    axis, first[0], first[1], axis, last[0], last[1]);
        }
        Path parent = out.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        if (name.endsWith(".png")) {
            BitmapEncoder.saveBitmap(chart, out.toString(), BitmapEncoder.BitmapFormat.PNG);
        } else {
            VectorGraphicsEncoder.saveVectorGraphic(chart, out.toString(), VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
        }
        o.println("wrote " + out);
        o.flush();
        return 0;
    }
}

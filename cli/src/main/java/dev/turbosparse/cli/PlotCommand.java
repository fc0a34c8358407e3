package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.data.fs.Fs;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.hadoop.fs.FileSystem;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

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

    /**
     * One curve: its name, the part of the metric it shows (a source, a layer; "" for a number), the run it belongs
     * to (0, 1, ...) and its points.
     */
    record Curve(String name, String part, int run, List<double[]> points) {}

    /** Line styles of the runs, in --run order, where colours tell the parts apart. */
    private static final BasicStroke[] RUN_LINES = {SeriesLines.SOLID, SeriesLines.DASH_DASH, SeriesLines.DOT_DOT,
        SeriesLines.DASH_DOT};

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
            List<Curve> own = curves(where, label, r, chain ? offset : 0);
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
        PrintStream o = Output.stdout();
        Color[] colors = chart.getStyler().getSeriesColors();
        List<Style> styles = styles(curves);
        for (int i = 0; i < curves.size(); i++) {
            Curve c = curves.get(i);
            double[] x = c.points().stream().mapToDouble(p -> p[0]).toArray();
            double[] y = c.points().stream().mapToDouble(p -> p[1]).toArray();
            XYSeries s = chart.addSeries(c.name(), x, y);
            s.setMarker(x.length > 60 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
            Color color = colors[styles.get(i).color() % colors.length];
            s.setLineColor(color);
            s.setMarkerColor(color);
            s.setLineStyle(RUN_LINES[styles.get(i).line() % RUN_LINES.length]);
            double[] first = c.points().getFirst();
            double[] last = c.points().getLast();
            o.printf(Locale.ROOT, "%-28s %4d points  %s %,.0f: %.5f  ->  %s %,.0f: %.5f%n", c.name(), x.length, axis,
                    first[0], first[1], axis, last[0], last[1]);
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

    /** A curve's colour and line style, as indexes into the chart's colours and {@link #RUN_LINES}. */
    record Style(int color, int line) {}

    /**
     * A metric with parts (sources, layers) gets one colour per part and one line style per run, so that the same
     * source of two runs is one colour; a plain number gets one colour per run, with solid lines.
     */
    static List<Style> styles(List<Curve> curves) {
        List<String> parts = curves.stream().map(Curve::part).distinct().toList();
        boolean byPart = parts.size() > 1 || !parts.getFirst().isEmpty();
        return curves.stream().map(c -> byPart ? new Style(parts.indexOf(c.part()), c.run())
                : new Style(c.run(), 0)).toList();
    }

    /** The curves of one run: one, or one per key (map metrics) or index (list metrics). */
    private List<Curve> curves(String where, String label, int run, double offset) throws IOException {
        org.apache.hadoop.fs.Path path = Fs.path(where);
        FileSystem fs = Fs.fs(path, Fs.configuration());
        if (fs.getFileStatus(path).isDirectory()) {
            path = new org.apache.hadoop.fs.Path(path, "metrics.jsonl");
        }
        String text = new String(Fs.readAll(fs, path, Integer.MAX_VALUE - 16), StandardCharsets.UTF_8);
        JsonMapper json = JsonMapper.builder().build();
        Map<String, Curve> byName = new LinkedHashMap<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = json.readTree(line);
            } catch (IOException e) {
                throw new Cli.UserError(path + ": line " + lineNo + " is not JSON");
            }
            JsonNode v = n.get(metric);
            JsonNode xNode = n.get(axis.name());
            if (v == null || v.isNull() || xNode == null) {
                continue;
            }
            double x = xNode.asDouble() + offset;
            if (v.isNumber()) {
                add(byName, label, "", run, x, v.asDouble());
            } else if (v.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext();) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (e.getValue().isNumber()) {
                        add(byName, label + " " + e.getKey(), e.getKey(), run, x, e.getValue().asDouble());
                    }
                }
            } else if (v.isArray()) {
                for (int i = 0; i < v.size(); i++) {
                    double value = mean(v.get(i));
                    if (!Double.isNaN(value)) {
                        add(byName, label + " layer " + i, "layer " + i, run, x, value);
                    }
                }
            }
        }
        return new ArrayList<>(byName.values());
    }

    /** A number, or the mean of a list of numbers (experts of a layer; nulls are experts no token reached). */
    private static double mean(JsonNode n) {
        if (n.isNumber()) {
            return n.asDouble();
        }
        double sum = 0;
        int count = 0;
        for (JsonNode e : n) {
            if (e.isNumber()) {
                sum += e.asDouble();
                count++;
            }
        }
        return count == 0 ? Double.NaN : sum / count;
    }

    private static void add(Map<String, Curve> byName, String name, String part, int run, double x, double y) {
        byName.computeIfAbsent(name, k -> new Curve(k, part, run, new ArrayList<>())).points().add(new double[] {x, y});
    }
}

package dev.turbosparse.eval.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.io.InputException;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Curves of a training run's {@code metrics.jsonl} (the trainer's line per step), for {@code turbosparse plot} and the
 * report. A metric that is a number gives one curve; a map (held-out loss per source) one per key; a list (FFN zeros
 * per layer) one per index, the mean of a layer's experts for a mixture of experts.
 */
public final class MetricsCurves {

    /**
     * One curve: its name, the part of the metric it shows (a source, a layer; "" for a number), the run it belongs
     * to (0, 1, ...) and its points (x, y).
     */
    public record Curve(String name, String part, int run, List<double[]> points) {}

    /** A curve's colour and line style, as indexes into the chart's colours and {@link #RUN_LINES}. */
    public record Style(int color, int line) {}

    /** Line styles of the runs, in order, where colours tell the parts apart. */
    private static final BasicStroke[] RUN_LINES = {SeriesLines.SOLID, SeriesLines.DASH_DASH, SeriesLines.DOT_DOT,
        SeriesLines.DASH_DOT};

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private MetricsCurves() {}

    /**
     * The curves of {@code metric} in one run against {@code xField} ({@code step} or {@code tokens}), x shifted by
     * {@code offset}: one, or one per key or index. Empty when no line has the metric.
     *
     * @param where a run folder or its metrics.jsonl, a path or URI on any Hadoop file system
     */
    public static List<Curve> read(String where, String label, int run, String metric, String xField, double offset)
            throws IOException {
        Path path = Fs.path(where);
        FileSystem fs = Fs.fs(path, Fs.configuration());
        if (!fs.exists(path)) {
            throw new InputException(where + ": not found (a run folder holds metrics.jsonl)");
        }
        if (fs.getFileStatus(path).isDirectory()) {
            path = new Path(path, "metrics.jsonl");
            if (!fs.exists(path)) {
                throw new InputException(where + ": no metrics.jsonl in this folder; is it a training run folder?");
            }
        }
        String text = new String(Fs.readAll(fs, path, Integer.MAX_VALUE - 16), StandardCharsets.UTF_8);
        Map<String, Curve> byName = new LinkedHashMap<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (IOException e) {
                throw new InputException(path + ": line " + lineNo + " is not JSON");
            }
            JsonNode v = n.get(metric);
            JsonNode xNode = n.get(xField);
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

    /**
     * A metric with parts (sources, layers) gets one colour per part and one line style per run, so that the same
     * source of two runs is one colour; a plain number gets one colour per run, with solid lines.
     */
    public static List<Style> styles(List<Curve> curves) {
        List<String> parts = curves.stream().map(Curve::part).distinct().toList();
        boolean byPart = parts.size() > 1 || !parts.getFirst().isEmpty();
        return curves.stream().map(c -> byPart ? new Style(parts.indexOf(c.part()), c.run())
                : new Style(c.run(), 0)).toList();
    }

    /** Adds the curves to a chart in the colours and line styles of {@link #styles}. */
    public static void addTo(XYChart chart, List<Curve> curves) {
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
        }
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

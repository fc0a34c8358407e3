package dev.turbosparse.eval.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.eval.report.MetricsCurves.Curve;
import dev.turbosparse.model.io.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The report of one or more models, side by side (a SwiGLU base and its dReLU continuation, say): a summary table
 * of scores and sparsity with the change from the first model to the last, FFN zeros per layer per domain, activated
 * parameters by role, neuron activation-frequency histograms, training curves from metrics.jsonl, and the
 * sparsity-against-perplexity curves. {@link #build} makes one self-contained HTML page (plots embedded as PNG), the
 * PNG copies of its plots, and {@code report.json} with the numbers of its tables.
 */
public final class Report {

    /** What a report is made of: the page, its numbers, and its plots by file name. */
    public record Output(String html, ObjectNode json, Map<String, byte[]> plots) {}

    /** Where an added section goes: before the summary, after it, or at the end of the page. */
    public enum Placement { BEFORE_SUMMARY, AFTER_SUMMARY, END }

    /** A part of an added section. */
    public sealed interface Block permits Paragraph, Table {}

    /** A paragraph of text. */
    public record Paragraph(String text) implements Block {}

    /** A table: a header row, then rows of cells, the first cell of each row its header. */
    public record Table(List<String> header, List<List<String>> rows) implements Block {}

    /**
     * A section the caller adds to the models' report (the demo's checks and decoding speeds, say): its anchor and
     * heading, where it goes, its paragraphs and tables, and its numbers, which report.json holds under its id (none
     * when null).
     */
    public record Section(String id, String title, Placement placement, List<Block> blocks, JsonNode json) {}

    /** How a summary value reads. */
    enum Unit {
        /** a share in [0, 1], shown as a percentage */
        SHARE,
        /** a loss in nats */
        NATS,
        /** a plain number */
        NUMBER,
        /** a count */
        COUNT
    }

    /** One row of the summary: a metric, its value (and stderr) per model label, and which way is better. */
    record Row(String metric, Unit unit, Boolean higherIsBetter, Map<String, Double> values, Map<String, Double> stderr) {}

    private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
    private static final int WIDTH = 960;
    private static final int HEIGHT = 500;
    /** Bins of the activation-frequency histograms, over [0, 1]. */
    static final int BINS = 20;

    private final List<ReportModel> models;
    private final List<String> labels;
    private final Html html = new Html();
    private final Map<String, byte[]> plots = new LinkedHashMap<>();
    private final ObjectNode json = JSON.createObjectNode();

    private final List<Section> sections;
    private final String intro;

    private Report(List<ReportModel> models, String intro, List<Section> sections) {
        this.models = models;
        this.labels = models.stream().map(ReportModel::label).toList();
        this.intro = intro;
        this.sections = List.copyOf(sections);
    }

    /** Builds the report of the models, in the order given (the change is from the first to the last). */
    public static Output build(String title, List<ReportModel> models) throws IOException {
        return build(title, null, models, List.of());
    }

    /**
     * Builds the report of the models with an introduction (a paragraph under the title, or null) and sections of
     * the caller's placed among the report's own.
     */
    public static Output build(String title, String intro, List<ReportModel> models, List<Section> sections)
            throws IOException {
        if (models.isEmpty()) {
            throw new IllegalArgumentException("a report needs at least one model");
        }
        Set<String> seen = new LinkedHashSet<>();
        for (ReportModel m : models) {
            if (!seen.add(m.label())) {
                throw new dev.turbosparse.model.io.InputException("model label '" + m.label() + "' is given twice");
            }
        }
        Set<String> ids = new LinkedHashSet<>(List.of("summary", "sparsity", "activated", "frequencies", "training",
                "threshold"));
        for (Section x : sections) {
            if (!ids.add(x.id())) {
                throw new IllegalArgumentException("section id '" + x.id() + "' is used twice");
            }
        }
        Report r = new Report(models, intro, sections);
        r.json.put("title", title);
        r.labels.forEach(r.json.putArray("models")::add);
        r.page(title);
        r.plots.keySet().forEach(r.json.putArray("plots")::add);
        return new Output(r.html.toString(), r.json, r.plots);
    }

    /**
     * Writes {@code report.html}, {@code report.json} and {@code plots/*.png} into a folder, each file atomically;
     * other files in the folder are left alone.
     */
    public static void write(Output o, Path dir) throws IOException {
        Path plotDir = dir.resolve("plots");
        Files.createDirectories(plotDir);
        for (var p : o.plots().entrySet()) {
            AtomicFiles.write(plotDir.resolve(p.getKey()), p.getValue());
        }
        AtomicFiles.write(dir.resolve("report.json"), JSON.writeValueAsBytes(o.json()));
        AtomicFiles.write(dir.resolve("report.html"), o.html().getBytes(StandardCharsets.UTF_8));
    }

    private void page(String title) throws IOException {
        html.raw("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
                + "<meta charset=\"utf-8\"/>\n<title>" + Html.escape(title) + "</title>\n<style>\n" + CSS + "</style>\n"
                + "</head>\n<body>\n");
        html.element("h1", title);
        if (intro != null) {
            html.paragraph(intro);
        }
        html.paragraph("Models, in order: " + String.join(", ", labels) + (labels.size() > 1
                ? ". The change column is " + labels.getLast() + " minus " + labels.getFirst() + "." : "."));
        StringBuilder nav = new StringBuilder("<nav>");
        navLinks(nav, Placement.BEFORE_SUMMARY);
        nav.append("<a href=\"#summary\">Summary</a> ");
        navLinks(nav, Placement.AFTER_SUMMARY);
        nav.append("<a href=\"#sparsity\">Sparsity per layer</a> <a href=\"#activated\">Activated parameters</a>"
                + " <a href=\"#frequencies\">Activation frequencies</a> <a href=\"#training\">Training</a>"
                + " <a href=\"#threshold\">Sparsity and perplexity</a>");
        navLinks(nav, Placement.END);
        html.raw(nav.toString().stripTrailing() + "</nav>\n");
        added(Placement.BEFORE_SUMMARY);
        summary();
        added(Placement.AFTER_SUMMARY);
        sparsityPerLayer();
        activatedParameters();
        frequencies();
        training();
        thresholdCurves();
        added(Placement.END);
        html.raw("</body>\n</html>\n");
    }

    private void navLinks(StringBuilder nav, Placement where) {
        for (Section x : sections) {
            if (x.placement() == where) {
                nav.append("<a href=\"#").append(Html.escape(x.id())).append("\">").append(Html.escape(x.title()))
                        .append("</a> ");
            }
        }
    }

    /** The caller's sections placed here, and their numbers in report.json. */
    private void added(Placement where) {
        for (Section x : sections) {
            if (x.placement() != where) {
                continue;
            }
            section(Html.escape(x.id()), x.title());
            for (Block b : x.blocks()) {
                switch (b) {
                    case Paragraph p -> html.paragraph(p.text());
                    case Table t -> html.table(t.header(), t.rows());
                }
            }
            if (x.json() != null) {
                json.set(x.id(), x.json());
            }
        }
    }

    // ---- summary ----------------------------------------------------------------------------------------------

    private void summary() {
        List<Row> rows = new ArrayList<>();
        rows.addAll(sparsityRows());
        rows.addAll(perplexityRows());
        rows.addAll(taskRows());
        section("summary", "Summary");
        if (rows.isEmpty()) {
            html.paragraph("No sparsity JSON or results.json was given.");
            return;
        }
        List<String> header = new ArrayList<>();
        header.add("metric");
        header.addAll(labels);
        boolean change = labels.size() > 1;
        if (change) {
            header.add("change");
        }
        List<List<String>> cells = new ArrayList<>();
        ArrayNode out = json.putArray("summary");
        for (Row r : rows) {
            List<String> line = new ArrayList<>();
            line.add(r.metric() + (r.higherIsBetter() == null ? "" : r.higherIsBetter() ? " \u2191" : " \u2193"));
            ObjectNode o = out.addObject();
            o.put("metric", r.metric());
            o.put("unit", r.unit().name().toLowerCase(Locale.ROOT));
            if (r.higherIsBetter() != null) {
                o.put("higher_is_better", r.higherIsBetter());
            }
            ObjectNode values = o.putObject("values");
            ObjectNode errors = o.putObject("stderr");
            for (String label : labels) {
                Double v = r.values().get(label);
                Double se = r.stderr().get(label);
                line.add(v == null ? "\u2014" : format(v, r.unit()) + (se == null ? "" : " \u00b1 " + format(se, r.unit())));
                putNumber(values, label, v);
                if (se != null) {
                    putNumber(errors, label, se);
                }
            }
            if (change) {
                Double a = r.values().get(labels.getFirst());
                Double b = r.values().get(labels.getLast());
                line.add(a == null || b == null ? "\u2014" : signed(b - a, r.unit()));
            }
            cells.add(line);
        }
        html.table(header, cells);
        html.paragraph("\u2191 higher is better, \u2193 lower is better. \u00b1 is the standard error lm-eval reports."
                + " FFN zeros are exact zeros of the intermediate activation, the entries a sparse FFN skips.");
    }

    private List<Row> sparsityRows() {
        List<Row> rows = new ArrayList<>();
        Map<String, Map<String, Double>> zeros = new LinkedHashMap<>();
        Map<String, Double> perToken = new LinkedHashMap<>();
        Map<String, Double> share = new LinkedHashMap<>();
        for (ReportModel m : models) {
            if (m.sparsity() == null) {
                continue;
            }
            zeros.computeIfAbsent("all", k -> new LinkedHashMap<>()).put(m.label(), meanZeros(m.sparsity()));
            JsonNode domains = m.sparsity().path("domains");
            for (Iterator<String> it = domains.fieldNames(); it.hasNext();) {
                String d = it.next();
                zeros.computeIfAbsent(d, k -> new LinkedHashMap<>()).put(m.label(), meanZeros(domains.get(d)));
            }
            JsonNode ap = m.sparsity().path("activated_parameters");
            if (ap.has("per_token")) {
                perToken.put(m.label(), ap.get("per_token").asDouble());
                share.put(m.label(), ap.path("fraction").asDouble());
            }
        }
        zeros.forEach((d, v) -> rows.add(new Row("FFN exact zeros, " + (d.equals("all") ? "all tokens" : d)
                + " (mean of layers)", Unit.SHARE, null, v, Map.of())));
        if (!perToken.isEmpty()) {
            rows.add(new Row("activated parameters per token", Unit.COUNT, null, perToken, Map.of()));
            rows.add(new Row("activated parameters, share of all", Unit.SHARE, null, share, Map.of()));
        }
        return rows;
    }

    /** The mean over layers of a profile's zeros (a layer of experts: its zeros over all of them). */
    public static double meanZeros(JsonNode profile) {
        JsonNode layers = profile.has("layer_zero_fraction") ? profile.get("layer_zero_fraction")
                : profile.get("zero_fraction");
        double sum = 0;
        int n = 0;
        for (JsonNode l : layers) {
            if (l.isNumber()) {
                sum += l.asDouble();
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    private List<Row> perplexityRows() {
        Map<String, Map<String, Double>> loss = new LinkedHashMap<>();
        Map<String, Map<String, Double>> ppl = new LinkedHashMap<>();
        for (ReportModel m : models) {
            JsonNode p = m.results() == null ? null : m.results().get("perplexity");
            if (p == null) {
                continue;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> e = it.next();
                loss.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>()).put(m.label(), e.getValue().path("loss").asDouble());
                ppl.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>()).put(m.label(),
                        e.getValue().path("perplexity").asDouble());
            }
        }
        List<Row> rows = new ArrayList<>();
        loss.forEach((d, v) -> rows.add(new Row("held-out loss, " + d, Unit.NATS, false, v, Map.of())));
        ppl.forEach((d, v) -> rows.add(new Row("held-out perplexity, " + d, Unit.NUMBER, false, v, Map.of())));
        return rows;
    }

    /**
     * A row per task and metric of lm-eval's {@code results} (keys {@code metric,filter}), groups in place of their
     * subtasks (MMLU's 57 subjects show as one row per metric).
     */
    private List<Row> taskRows() {
        Map<String, Row> rows = new LinkedHashMap<>();
        for (ReportModel m : models) {
            if (m.results() == null) {
                continue;
            }
            Set<String> subtasks = new LinkedHashSet<>();
            m.results().path("group_subtasks").forEach(list -> list.forEach(s -> subtasks.add(s.asText())));
            JsonNode results = m.results().path("results");
            for (Iterator<Map.Entry<String, JsonNode>> it = results.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> task = it.next();
                if (subtasks.contains(task.getKey())) {
                    continue;
                }
                for (Iterator<Map.Entry<String, JsonNode>> f = task.getValue().fields(); f.hasNext();) {
                    Map.Entry<String, JsonNode> e = f.next();
                    String key = e.getKey();
                    int comma = key.indexOf(',');
                    if (comma < 0 || !e.getValue().isNumber() || key.substring(0, comma).endsWith("_stderr")) {
                        continue;
                    }
                    String metric = key.substring(0, comma);
                    String filter = key.substring(comma + 1);
                    String name = task.getKey() + " " + metric + (filter.equals("none") ? "" : " (" + filter + ")");
                    // a group (MMLU) has no entry of its own: its subtasks' say
                    JsonNode hib = m.results().path("higher_is_better");
                    JsonNode better = hib.path(task.getKey()).path(metric);
                    JsonNode members = m.results().path("group_subtasks").path(task.getKey());
                    if (better.isMissingNode() && members.size() > 0) {
                        better = hib.path(members.get(0).asText()).path(metric);
                    }
                    Boolean higher = better.isBoolean() ? better.asBoolean() : null;
                    Row row = rows.computeIfAbsent(name, k -> new Row(k, Unit.SHARE, higher, new LinkedHashMap<>(),
                            new LinkedHashMap<>()));
                    row.values().put(m.label(), e.getValue().asDouble());
                    JsonNode se = task.getValue().get(metric + "_stderr," + filter);
                    if (se != null && se.isNumber()) {
                        row.stderr().put(m.label(), se.asDouble());
                    }
                }
            }
        }
        return new ArrayList<>(rows.values());
    }

    // ---- sparsity per layer -------------------------------------------------------------------------------------

    private void sparsityPerLayer() throws IOException {
        section("sparsity", "FFN sparsity per layer");
        List<Curve> curves = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("layer"));
        List<double[]> columns = new ArrayList<>();
        ObjectNode out = json.putObject("zero_fraction");
        for (int i = 0; i < models.size(); i++) {
            ReportModel m = models.get(i);
            if (m.sparsity() == null) {
                continue;
            }
            ObjectNode own = out.putObject(m.label());
            Map<String, JsonNode> profiles = new LinkedHashMap<>();
            profiles.put("all", m.sparsity());
            m.sparsity().path("domains").fields().forEachRemaining(e -> profiles.put(e.getKey(), e.getValue()));
            for (var p : profiles.entrySet()) {
                double[] layers = layerZeros(p.getValue());
                List<double[]> points = new ArrayList<>();
                for (int l = 0; l < layers.length; l++) {
                    if (!Double.isNaN(layers[l])) {
                        points.add(new double[] {l, 100 * layers[l]});
                    }
                }
                curves.add(new Curve(m.label() + " " + p.getKey(), p.getKey(), i, points));
                header.add(m.label() + ", " + p.getKey());
                columns.add(layers);
                ArrayNode a = own.putArray(p.getKey());
                Arrays.stream(layers).forEach(v -> putNumber(a, v));
            }
        }
        if (curves.isEmpty()) {
            html.paragraph("No sparsity JSON was given (turbosparse sparsity --format json).");
            return;
        }
        XYChart chart = chart("Exact zeros of the FFN activation per layer", "layer", "zeros (%)");
        MetricsCurves.addTo(chart, curves);
        chart.getStyler().setXAxisDecimalPattern("0");
        figure("sparsity-per-layer.png", chart, "Exact zeros of the FFN intermediate activation per layer, by model"
                + " (line style) and domain (colour)");
        int layers = columns.stream().mapToInt(c -> c.length).max().orElse(0);
        List<List<String>> rows = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            List<String> row = new ArrayList<>(List.of(Integer.toString(l)));
            for (double[] c : columns) {
                row.add(l < c.length ? format(c[l], Unit.SHARE) : "\u2014");
            }
            rows.add(row);
        }
        html.table(header, rows);
        for (ReportModel m : models) {
            if (m.sparsity() != null && m.sparsity().has("layer_zero_fraction")) {
                expertTable(m);
            }
        }
    }

    /** Zeros per layer of a profile: the layer's own value, or over its experts for a mixture of experts. */
    private static double[] layerZeros(JsonNode profile) {
        JsonNode layers = profile.has("layer_zero_fraction") ? profile.get("layer_zero_fraction")
                : profile.get("zero_fraction");
        double[] out = new double[layers.size()];
        for (int l = 0; l < out.length; l++) {
            out[l] = layers.get(l).isNumber() ? layers.get(l).asDouble() : Double.NaN;
        }
        return out;
    }

    private void expertTable(ReportModel m) {
        JsonNode zf = m.sparsity().get("zero_fraction");
        int experts = zf.get(0).size();
        List<String> header = new ArrayList<>(List.of("layer"));
        for (int e = 0; e < experts; e++) {
            header.add("expert " + e);
        }
        List<List<String>> rows = new ArrayList<>();
        for (int l = 0; l < zf.size(); l++) {
            List<String> row = new ArrayList<>(List.of(Integer.toString(l)));
            for (int e = 0; e < experts; e++) {
                JsonNode v = zf.get(l).get(e);
                long tokens = m.sparsity().path("expert_tokens").path(l).path(e).asLong();
                row.add(v != null && v.isNumber() ? format(v.asDouble(), Unit.SHARE) + " (" + tokens + " tokens)" : "\u2014");
            }
            rows.add(row);
        }
        html.element("h3", m.label() + ": zeros per expert, over the tokens routed to each");
        html.table(header, rows);
    }

    // ---- activated parameters -----------------------------------------------------------------------------------

    private void activatedParameters() {
        section("activated", "Activated parameters per token");
        List<String> roles = List.of("embeddings", "attention", "norms", "router", "ffn_active", "ffn_total",
                "predictors", "per_token", "total", "fraction");
        List<String> header = new ArrayList<>(List.of("part"));
        List<JsonNode> given = new ArrayList<>();
        for (ReportModel m : models) {
            if (m.sparsity() != null && m.sparsity().has("activated_parameters")) {
                header.add(m.label());
                given.add(m.sparsity().get("activated_parameters"));
            }
        }
        if (given.isEmpty()) {
            html.paragraph("No sparsity JSON was given.");
            return;
        }
        List<List<String>> rows = new ArrayList<>();
        for (String role : roles) {
            List<String> row = new ArrayList<>(List.of(role.replace('_', ' ')));
            for (JsonNode ap : given) {
                JsonNode v = ap.get(role);
                row.add(v == null || !v.isNumber() ? "\u2014"
                        : format(v.asDouble(), role.equals("fraction") ? Unit.SHARE : Unit.COUNT));
            }
            rows.add(row);
        }
        html.table(header, rows);
        html.paragraph("A token uses every parameter outside the FFN, and in the FFN the gate row, up row and down"
                + " column of each neuron that is not zero for it (in each expert it is routed to): the paper's"
                + " activated parameters.");
    }

    // ---- activation frequencies ---------------------------------------------------------------------------------

    private void frequencies() throws IOException {
        section("frequencies", "Neuron activation frequencies");
        boolean any = false;
        ObjectNode out = json.putObject("activation_frequency");
        for (ReportModel m : models) {
            if (m.frequencies() == null) {
                continue;
            }
            any = true;
            float[][][] f = m.frequencies().frequencies();
            XYChart chart = chart(m.label() + ": how often each neuron is active", "activation frequency",
                    "neurons (%)");
            List<List<String>> rows = new ArrayList<>();
            ArrayNode layersOut = out.putObject(m.label()).putArray("layers");
            for (int l = 0; l < f.length; l++) {
                float[] all = pooled(f[l]);
                double[] share = histogram(all);
                double[] x = new double[BINS];
                for (int b = 0; b < BINS; b++) {
                    x[b] = (b + 0.5) / BINS;
                }
                chart.addSeries("layer " + l, x, share);
                FrequencyStats s = FrequencyStats.of(all);
                rows.add(List.of(Integer.toString(l), format(all.length, Unit.COUNT), format(s.neverActive(), Unit.SHARE),
                        format(s.median(), Unit.SHARE), format(s.mean(), Unit.SHARE), format(s.hotShare(), Unit.SHARE)));
                ObjectNode lo = layersOut.addObject();
                lo.put("neurons", all.length);
                putNumber(lo, "never_active", s.neverActive());
                putNumber(lo, "median", s.median());
                putNumber(lo, "mean", s.mean());
                putNumber(lo, "hot_share_80", s.hotShare());
                ArrayNode h = lo.putArray("histogram");
                Arrays.stream(share).forEach(v -> putNumber(h, v / 100));
            }
            String tokens = m.frequencies().metadata().getOrDefault("tokens", "?");
            figure(fileName(m.label()) + "-activation-frequency.png", chart, m.label()
                    + ": share of FFN neurons per activation frequency (the share of " + tokens
                    + " profiled tokens for which a neuron is not zero), one line per layer");
            html.table(List.of("layer", "neurons", "never active", "median frequency", "mean frequency",
                    "neurons holding 80% of activations"), rows);
        }
        if (!any) {
            html.paragraph("No activation-frequency file was given (turbosparse sparsity --frequencies).");
        } else {
            html.paragraph("The fewer neurons hold most activations, the more a hot-first order (export --reorder) and a"
                    + " hot/cold split (PowerInfer) gain. A dense SwiGLU FFN has every neuron at frequency 1.");
        }
    }

    /** A layer's frequencies over all its experts, leaving out experts no token reached (NaN). */
    private static float[] pooled(float[][] experts) {
        int n = 0;
        for (float[] e : experts) {
            if (e.length > 0 && !Float.isNaN(e[0])) {
                n += e.length;
            }
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] e : experts) {
            if (e.length > 0 && !Float.isNaN(e[0])) {
                System.arraycopy(e, 0, out, at, e.length);
                at += e.length;
            }
        }
        return out;
    }

    /** The share of neurons (%) in each of {@link #BINS} equal bins over [0, 1]; 1 falls in the last. */
    static double[] histogram(float[] frequencies) {
        double[] h = new double[BINS];
        for (float f : frequencies) {
            h[Math.min(BINS - 1, Math.max(0, (int) (f * BINS)))]++;
        }
        for (int b = 0; b < BINS; b++) {
            h[b] = frequencies.length == 0 ? 0 : 100 * h[b] / frequencies.length;
        }
        return h;
    }

    /**
     * Summary statistics of a layer's activation frequencies: the share of neurons never active, the median and mean
     * frequency, and the smallest share of neurons (the most frequent first) that hold 80% of all activations.
     */
    record FrequencyStats(double neverActive, double median, double mean, double hotShare) {
        static FrequencyStats of(float[] f) {
            if (f.length == 0) {
                return new FrequencyStats(Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            float[] sorted = f.clone();
            Arrays.sort(sorted);
            double total = 0;
            int never = 0;
            for (float v : sorted) {
                total += v;
                never += v == 0 ? 1 : 0;
            }
            int n = sorted.length;
            double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
            double hot = Double.NaN;
            if (total > 0) {
                double sum = 0;
                for (int i = n - 1; i >= 0; i--) {
                    sum += sorted[i];
                    if (sum >= 0.8 * total - 1e-9 * total) {
                        hot = (double) (n - i) / n;
                        break;
                    }
                }
            }
            return new FrequencyStats((double) never / n, median, total / n, hot);
        }
    }

    // ---- training -----------------------------------------------------------------------------------------------

    private void training() throws IOException {
        section("training", "Training curves");
        boolean anyRun = models.stream().anyMatch(m -> m.run() != null);
        if (!anyRun) {
            html.paragraph("No training run was given (a run folder with metrics.jsonl).");
            return;
        }
        record Metric(String field, String title, String axis) {}
        List<Metric> metrics = List.of(new Metric("loss", "Training loss", "loss (nats)"),
                new Metric("heldout_loss", "Held-out loss per source", "loss (nats)"),
                new Metric("ffn_zero_fraction", "Exact FFN zeros per layer (held-out)", "zeros (share)"));
        for (Metric metric : metrics) {
            List<Curve> curves = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) {
                ReportModel m = models.get(i);
                if (m.run() != null) {
                    curves.addAll(MetricsCurves.read(m.run(), m.label(), i, metric.field(), "step", 0));
                }
            }
            if (curves.isEmpty()) {
                continue;
            }
            XYChart chart = chart(metric.title(), "step", metric.axis());
            MetricsCurves.addTo(chart, curves);
            figure("training-" + metric.field().replace('_', '-') + ".png", chart, metric.title()
                    + " from metrics.jsonl, by model (line style)");
        }
    }

    // ---- threshold curves ---------------------------------------------------------------------------------------

    private void thresholdCurves() throws IOException {
        section("threshold", "Sparsity against perplexity");
        XYChart chart = chart("Held-out perplexity against FFN zeros", "zeros of the FFN activation (%)",
                "perplexity");
        List<List<String>> rows = new ArrayList<>();
        ObjectNode out = json.putObject("threshold_curve");
        for (ReportModel m : models) {
            JsonNode curve = m.sparsity() == null ? null : m.sparsity().get("threshold_curve");
            if (curve == null || curve.isEmpty()) {
                continue;
            }
            List<double[]> points = new ArrayList<>();
            ArrayNode own = out.putArray(m.label());
            for (JsonNode p : curve) {
                double zeros = p.path("mean_zero_fraction").asDouble(Double.NaN);
                double ppl = p.path("perplexity").asDouble(Double.NaN);
                if (!Double.isNaN(zeros) && !Double.isNaN(ppl)) {
                    points.add(new double[] {100 * zeros, ppl});
                }
                String target = p.path("target").isNumber() ? format(p.get("target").asDouble(), Unit.SHARE) : "as it is";
                rows.add(List.of(m.label(), target, format(zeros, Unit.SHARE),
                        format(p.path("mean_loss").asDouble(Double.NaN), Unit.NATS), format(ppl, Unit.NUMBER)));
                ObjectNode o = own.addObject();
                o.set("target", p.path("target"));
                putNumber(o, "zero_fraction", zeros);
                putNumber(o, "mean_loss", p.path("mean_loss").asDouble(Double.NaN));
                putNumber(o, "perplexity", ppl);
            }
            chart.addSeries(m.label(), points.stream().mapToDouble(p -> p[0]).toArray(),
                    points.stream().mapToDouble(p -> p[1]).toArray());
        }
        if (rows.isEmpty()) {
            html.paragraph("No threshold curve was given (turbosparse sparsity --data URI --curve 0.5,0.8,0.9).");
            return;
        }
        figure("threshold-curve.png", chart, "Held-out perplexity when magnitude thresholds force more zeros"
                + " (CATS/TEAL style), one line per model; the first point of each is the model as it is");
        html.table(List.of("model", "target", "zeros reached", "mean held-out loss", "perplexity"), rows);
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private void section(String id, String title) {
        html.raw("<h2 id=\"" + id + "\">" + Html.escape(title) + "</h2>\n");
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(x).yAxisTitle(y).build();
        chart.getStyler().setMarkerSize(5);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        return chart;
    }

    /** Renders a chart to PNG, keeps it as a plot file and embeds it in the page. */
    private void figure(String file, XYChart chart, String caption) throws IOException {
        byte[] png = BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
        plots.put(file, png);
        html.image(png, caption);
    }

    /** A label as a file-name part: letters, digits, '-' and '_' kept, anything else '_'. */
    static String fileName(String label) {
        return label.replaceAll("[^A-Za-z0-9_-]", "_");
    }

    static String format(double v, Unit unit) {
        if (Double.isNaN(v)) {
            return "\u2014";
        }
        return switch (unit) {
            case SHARE -> String.format(Locale.ROOT, "%.2f%%", 100 * v);
            case NATS -> String.format(Locale.ROOT, "%.4f", v);
            case NUMBER -> String.format(Locale.ROOT, "%.2f", v);
            case COUNT -> String.format(Locale.ROOT, "%,.0f", v);
        };
    }

    /** A change, signed; a share's change is in percentage points. */
    static String signed(double v, Unit unit) {
        String s = switch (unit) {
            case SHARE -> String.format(Locale.ROOT, "%+.2f pp", 100 * v);
            case NATS -> String.format(Locale.ROOT, "%+.4f", v);
            case NUMBER -> String.format(Locale.ROOT, "%+.2f", v);
            case COUNT -> String.format(Locale.ROOT, "%+,.0f", v);
        };
        return s.replace('-', '\u2212');
    }

    private static void putNumber(ObjectNode o, String key, Double v) {
        if (v == null || !Double.isFinite(v)) {
            o.putNull(key);
        } else {
            o.put(key, v);
        }
    }

    private static void putNumber(ArrayNode a, double v) {
        if (Double.isFinite(v)) {
            a.add(v);
        } else {
            a.addNull();
        }
    }

    private static final String CSS = """
            body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
            h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
            nav a { margin-right: 1em; }
            table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
            th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left; }
            thead th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
            figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
            figcaption { font-size: 0.85em; color: #555; }
            """;
}

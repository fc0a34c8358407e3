package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.eval.report.Report;
import dev.turbosparse.eval.report.ReportModel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The demo's report: the models' report (summary, sparsity per layer, activated parameters, frequencies, training,
 * sparsity against perplexity) with the demo's own sections: what the run shows (each claim against its measured
 * numbers), decoding speed per mode, the paper's published figures beside this run's, and the stages.
 */
final class DemoReport {

    static final List<String> MODES = List.of("dense", "exact", "predicted");
    /** The report's layout: a new one makes a complete demo write its report again. */
    static final int VERSION = 2;
    static final String BASE = "SwiGLU base";
    static final String DRELU = "dReLU";
    /** The dReLU model's mean held-out loss may exceed the base's by this much (nats) for the claim to hold. */
    static final double LOSS_MARGIN = 0.05;
    /** "Far above": the dReLU model's FFN exact zeros exceed the base's by at least this share. */
    static final double SPARSITY_GAP = 0.5;

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private DemoReport() {}

    static void write(Path dir, DemoCommand.Plan plan, List<DemoStages.Outcome> stages) throws IOException {
        ReportModel base = ReportModel.read(BASE, dir.resolve("profile/swiglu.sparsity.json"),
                dir.resolve("eval/swiglu.results.json"), null, dir.resolve("swiglu").toString());
        ReportModel drelu = ReportModel.read(DRELU, dir.resolve("profile/drelu.sparsity.json"),
                dir.resolve("eval/drelu.results.json"), dir.resolve("profile/drelu.frequencies.safetensors"),
                dir.resolve("drelu").toString());
        JsonNode benchDrelu = read(dir.resolve("bench/drelu.json"));
        JsonNode benchBase = read(dir.resolve("bench/swiglu.json"));
        JsonNode predictors = read(dir.resolve("drelu-predictors/predictors.json"));
        long baseTokens = lastTokens(dir.resolve("swiglu/metrics.jsonl"));
        long dreluTokens = lastTokens(dir.resolve("drelu/metrics.jsonl"));

        double zerosBase = Report.meanZeros(base.sparsity());
        double zerosDrelu = Report.meanZeros(drelu.sparsity());
        double lossBase = meanLoss(base.results());
        double lossDrelu = meanLoss(drelu.results());
        double dense = mode(benchDrelu, "dense").path("tokens_per_s").asDouble();
        double exact = mode(benchDrelu, "exact").path("tokens_per_s").asDouble();
        double predicted = mode(benchDrelu, "predicted").path("tokens_per_s").asDouble();
        double exactSpeedup = mode(benchDrelu, "exact").path("speedup_over_dense").asDouble();
        double predictedSpeedup = mode(benchDrelu, "predicted").path("speedup_over_dense").asDouble();

        List<Report.Section> sections = new ArrayList<>();
        sections.add(checks(zerosBase, zerosDrelu, lossBase, lossDrelu, dense, exact, predicted, exactSpeedup,
                predictedSpeedup));
        sections.add(decoding(dir, benchDrelu, benchBase, predictors));
        sections.add(paper(drelu.sparsity(), zerosDrelu, dreluTokens, baseTokens, exactSpeedup, predictedSpeedup));
        sections.add(run(plan, stages));
        String intro = "Made by `turbosparse demo" + (plan.name().equals("quick") ? " --quick" : "") + "` on "
                + Runtime.getRuntime().availableProcessors() + " cores: a small SwiGLU Mistral pretrained from random"
                + " weights on the bundled web/code/math sample (" + String.format(Locale.ROOT, "%,d", baseTokens)
                + " tokens), then continued with dReLU in place of SwiGLU (" + String.format(Locale.ROOT, "%,d",
                        dreluTokens) + " more tokens). Every number on this page comes from this run, except those of"
                + " the section on the paper's figures, which are the paper's."
                + (plan.name().equals("quick") ? " This is the --quick demo: a tiny model trained for a few steps, to"
                        + " show the whole path working; its losses and speeds are not meant to show the paper's point."
                        : "");
        Report.Output o = Report.build("turbosparse demo: SwiGLU base vs dReLU", intro, List.of(base, drelu),
                sections);
        Report.write(o, dir);
    }

    // ---- the claims ---------------------------------------------------------------------------------------------

    private static Report.Section checks(double zerosBase, double zerosDrelu, double lossBase, double lossDrelu,
            double dense, double exact, double predicted, double exactSpeedup, double predictedSpeedup) {
        ArrayNode json = JSON.createArrayNode();
        List<List<String>> rows = new ArrayList<>();
        check(json, rows, "sparsity", String.format(Locale.ROOT, "The dReLU model's FFN exact zeros are far above the"
                + " base's (by at least %.0f points)", 100 * SPARSITY_GAP),
                String.format(Locale.ROOT, "%s vs %s (mean of layers, all held-out tokens)", pct(zerosDrelu),
                        pct(zerosBase)), zerosDrelu - zerosBase >= SPARSITY_GAP);
        check(json, rows, "loss", String.format(Locale.ROOT, "Its held-out loss is within %.2f nats of the base's",
                LOSS_MARGIN), String.format(Locale.ROOT, "%.4f vs %.4f nats (mean of domains): %+.4f", lossDrelu,
                        lossBase, lossDrelu - lossBase), lossDrelu - lossBase <= LOSS_MARGIN);
        check(json, rows, "exact_faster", "Exact decoding is faster than dense",
                String.format(Locale.ROOT, "%.1f vs %.1f tokens/s: %.2fx", exact, dense, exactSpeedup),
                exactSpeedup > 1);
        check(json, rows, "predicted_faster", "Predicted decoding is faster than dense",
                String.format(Locale.ROOT, "%.1f vs %.1f tokens/s: %.2fx", predicted, dense, predictedSpeedup),
                predictedSpeedup > 1);
        return new Report.Section("checks", "What this run shows", Report.Placement.BEFORE_SUMMARY, List.of(
                new Report.Table(List.of("claim", "measured", "holds"), rows),
                new Report.Paragraph("The speeds are the dReLU model's, decoded by turbosparse's runtime from the same"
                        + " sparse GGUF file in each mode, in turn, in the same run (the decoding section): tokens/s of"
                        + " each mode's median round, and the speed-up as the median of the rounds' own ratios.")), json);
    }

    private static void check(ArrayNode json, List<List<String>> rows, String id, String statement, String measured,
            boolean met) {
        ObjectNode c = json.addObject();
        c.put("id", id);
        c.put("statement", statement);
        c.put("measured", measured);
        c.put("met", met);
        rows.add(List.of(statement, measured, met ? "yes" : "no"));
    }

    // ---- decoding -------------------------------------------------------------------------------------------------

    private static Report.Section decoding(Path dir, JsonNode drelu, JsonNode base, JsonNode predictors)
            throws IOException {
        ObjectNode json = JSON.createObjectNode();
        List<List<String>> rows = new ArrayList<>();
        ArrayNode modes = json.putArray("modes");
        for (JsonNode m : base.path("modes")) {
            rows.add(speedRow(BASE + ", " + m.path("mode").asText(), m, modes, BASE));
        }
        for (JsonNode m : drelu.path("modes")) {
            rows.add(speedRow(DRELU + ", " + m.path("mode").asText(), m, modes, DRELU));
        }
        json.put("threads", drelu.path("threads").asInt());
        json.put("tokens", drelu.path("tokens").asInt());
        json.put("rounds", drelu.path("rounds").asInt());
        json.put("bandwidth_bytes_per_s", drelu.path("bandwidth_bytes_per_s").asDouble());
        List<Report.Block> blocks = new ArrayList<>();
        blocks.add(new Report.Table(List.of("model, mode", "tokens/s", "vs dReLU dense", "weight MB per token",
                "down rows read", "share of bandwidth"), rows));
        blocks.add(new Report.Paragraph(String.format(Locale.ROOT, "After %.0f s of untimed decoding in every mode (the"
                + " JIT compiles the decoder), each mode decoded %d tokens after %d of warm-up, %d rounds in turn (the"
                + " median round is shown; a speed-up is the median of the rounds' own ratios), with %d threads, on F16"
                + " GGUF files. Dense reads every"
                + " weight; exact computes the gate first and reads up and down only for neurons whose relu(gate) is"
                + " positive (the same logits as dense); predicted lets the predictors pick the neurons, so that the"
                + " gate rows of the rest are skipped too (approximate). The machine read %.1f GB/s in the same run.",
                drelu.path("warmup_seconds").asDouble(), drelu.path("tokens").asInt(), drelu.path("warmup").asInt(),
                drelu.path("rounds").asInt(), drelu.path("threads").asInt(),
                drelu.path("bandwidth_bytes_per_s").asDouble() / 1e9)));
        if (predictors != null) {
            JsonNode p = predictors.path("perplexity");
            ObjectNode pj = json.putObject("predictors");
            for (String key : List.of("rank", "recall_target", "mean_recall", "mean_precision", "mean_predicted_share",
                    "mean_active_share")) {
                pj.set(key, predictors.path(key));
            }
            String ppl = "";
            if (p.has("dense")) {
                pj.put("dense_loss", p.path("dense").path("loss").asDouble());
                pj.put("predicted_loss", p.path("predicted").path("loss").asDouble());
                ppl = String.format(Locale.ROOT, " On held-out data the runtime's loss is %.4f nats dense and %.4f"
                        + " predicted (%+.4f).", p.path("dense").path("loss").asDouble(),
                        p.path("predicted").path("loss").asDouble(), p.path("loss_change").asDouble());
            }
            blocks.add(new Report.Paragraph(String.format(Locale.ROOT, "The predictors (rank %d, one per layer) keep"
                    + " %s of the active neurons on held-out data (target %s) with a precision of %s: they pick %s of"
                    + " the neurons, where %s are active.%s", predictors.path("rank").asInt(),
                    pct(predictors.path("mean_recall").asDouble()), pct(predictors.path("recall_target").asDouble()),
                    pct(predictors.path("mean_precision").asDouble()),
                    pct(predictors.path("mean_predicted_share").asDouble()),
                    pct(predictors.path("mean_active_share").asDouble()), ppl)));
        }
        List<List<String>> texts = new ArrayList<>();
        ObjectNode tj = json.putObject("continuations");
        String dense = null;
        for (String mode : MODES) {
            Path f = dir.resolve("decode/" + mode + ".txt");
            String text = Files.readString(f, StandardCharsets.UTF_8).strip();
            if (mode.equals("dense")) {
                dense = text;
            }
            tj.put(mode, text);
            texts.add(List.of(mode, text, mode.equals("dense") ? "\u2014" : text.equals(dense) ? "yes" : "no"));
        }
        blocks.add(new Report.Paragraph("The same prompt continued in each mode, sampled at temperature 0.8 from the"
                + " 40 likeliest tokens with the same seed (the prompt included). Exact mode computes dense's logits, so"
                + " it draws the same text."));
        blocks.add(new Report.Table(List.of("mode", "text", "same as dense"), texts));
        return new Report.Section("decoding", "Decoding with the runtime", Report.Placement.AFTER_SUMMARY, blocks, json);
    }

    private static List<String> speedRow(String label, JsonNode m, ArrayNode json, String model) {
        ObjectNode o = json.addObject();
        o.put("model", model);
        o.put("mode", m.path("mode").asText());
        o.put("tokens_per_s", m.path("tokens_per_s").asDouble());
        o.put("bytes_per_token", m.path("bytes_per_token").asDouble());
        o.put("down_rows_share", m.path("down_rows_share").asDouble());
        o.put("bandwidth_share", m.path("bandwidth_share").asDouble());
        String speedup = "\u2014";
        if (model.equals(DRELU) && m.has("speedup_over_dense")) {
            o.put("speedup_over_dense", m.path("speedup_over_dense").asDouble());
            speedup = String.format(Locale.ROOT, "%.2fx", m.path("speedup_over_dense").asDouble());
        }
        return List.of(label, String.format(Locale.ROOT, "%.1f", m.path("tokens_per_s").asDouble()), speedup,
                String.format(Locale.ROOT, "%.2f", m.path("bytes_per_token").asDouble() / 1e6),
                pct(m.path("down_rows_share").asDouble()), pct(m.path("bandwidth_share").asDouble()));
    }

    // ---- the paper ------------------------------------------------------------------------------------------------

    private static Report.Section paper(JsonNode sparsity, double zeros, long dreluTokens, long baseTokens,
            double exactSpeedup, double predictedSpeedup) {
        JsonNode ap = sparsity.path("activated_parameters");
        List<List<String>> rows = new ArrayList<>();
        rows.add(List.of("FFN exact zeros per layer, dReLU model",
                "about 90% (TurboSparse-Mistral-7B, profiled on FineWeb); about 85% per expert (TurboSparse-Mixtral-47B)",
                pct(zeros)));
        rows.add(List.of("activated parameters per token",
                "2.5 B of Mistral-7B's 7.2 B; 4.3 B of Mixtral-47B's 46.7 B",
                String.format(Locale.ROOT, "%,d of %,d (%s)", ap.path("per_token").asLong(), ap.path("total").asLong(),
                        pct(ap.path("fraction").asDouble()))));
        rows.add(List.of("training tokens of the dReLU continuation", "150 B",
                String.format(Locale.ROOT, "%,d (after %,d of pretraining)", dreluTokens, baseTokens)));
        rows.add(List.of("decoding speed-up, CPU only",
                "2.08\u20132.28x (PowerInfer with the TurboSparse models against llama.cpp with the originals)",
                String.format(Locale.ROOT, "exact %.2fx, predicted %.2fx (turbosparse's runtime, dReLU model, against"
                        + " its own dense mode)", exactSpeedup, predictedSpeedup)));
        rows.add(List.of("decoding speed-up, elsewhere",
                "up to 4.64x with a GPU and the CPU together; 22.2x for Mixtral-47B on a phone with PowerInfer-2, where"
                        + " the model does not fit in memory", "not measured (no GPU here)"));
        ObjectNode json = JSON.createObjectNode();
        json.put("source", "Song et al. (2024), Turbo Sparse: Achieving LLM SOTA Performance with Minimal Activated"
                + " Parameters, arXiv:2406.05955");
        ObjectNode fig = json.putObject("published");
        fig.put("mistral_7b_ffn_zero_fraction", 0.90);
        fig.put("mixtral_47b_expert_zero_fraction", 0.85);
        fig.put("mistral_7b_activated_parameters", 2.5e9);
        fig.put("mixtral_47b_activated_parameters", 4.3e9);
        fig.put("training_tokens", 150e9);
        fig.put("cpu_speedup_min", 2.08);
        fig.put("cpu_speedup_max", 2.28);
        return new Report.Section("paper", "The paper's figures, for context", Report.Placement.END, List.of(
                new Report.Paragraph("The middle column holds figures published in Song et al. (2024), Turbo Sparse:"
                        + " Achieving LLM SOTA Performance with Minimal Activated Parameters (arXiv:2406.05955), for"
                        + " 7 B and 47 B models continued on 150 B tokens; none of them was measured here. The right"
                        + " column is this run's. A model of this size trained on this few tokens is not expected to"
                        + " reach the paper's figures; they show what the pipeline is for."),
                new Report.Table(List.of("figure", "the paper (published)", "this run (measured)"), rows)), json);
    }

    // ---- the run --------------------------------------------------------------------------------------------------

    private static Report.Section run(DemoCommand.Plan plan, List<DemoStages.Outcome> stages) {
        ArrayNode json = JSON.createArrayNode();
        List<List<String>> rows = new ArrayList<>();
        double total = 0;
        for (DemoStages.Outcome o : stages) {
            ObjectNode s = json.addObject();
            s.put("stage", o.name());
            s.put("what", o.what());
            s.put("seconds", Math.round(o.secondsWhenRun() * 10) / 10.0);
            s.put("complete_before", o.skipped());
            total += o.secondsWhenRun();
            rows.add(List.of(o.name(), o.what(), DemoStages.clock(o.secondsWhenRun()),
                    o.skipped() ? "complete before, verified" : "ran"));
        }
        rows.add(List.of("report", "write the report", "\u2014", "ran"));
        return new Report.Section("stages", "The run's stages", Report.Placement.END, List.of(
                new Report.Paragraph(String.format(Locale.ROOT, "The %s demo; the stages before this report took %s."
                        + " A stage that was complete before (from an interrupted or earlier run) shows the time it"
                        + " took then.", plan.name(), DemoStages.clock(total))),
                new Report.Table(List.of("stage", "what", "time", "in this run"), rows)), json);
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    private static JsonNode read(Path file) throws IOException {
        return Files.isRegularFile(file) ? JSON.readTree(file.toFile()) : null;
    }

    private static long lastTokens(Path metrics) throws IOException {
        long tokens = 0;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                tokens = Math.max(tokens, JSON.readTree(line).path("tokens").asLong());
            }
        }
        return tokens;
    }

    static double meanLoss(JsonNode results) {
        double sum = 0;
        int n = 0;
        for (JsonNode d : results.path("perplexity")) {
            sum += d.path("loss").asDouble();
            n++;
        }
        return sum / n;
    }

    private static JsonNode mode(JsonNode bench, String mode) {
        for (JsonNode m : bench.path("modes")) {
            if (m.path("mode").asText().equals(mode)) {
                return m;
            }
        }
        throw new IllegalStateException("the benchmark has no " + mode + " mode");
    }

    private static String pct(double share) {
        return String.format(Locale.ROOT, "%.1f%%", 100 * share);
    }
}

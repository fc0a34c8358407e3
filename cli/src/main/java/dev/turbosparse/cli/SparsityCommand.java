package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.data.mixture.DomainRows;
import dev.turbosparse.eval.sparsity.NeuronProfile;
import dev.turbosparse.eval.sparsity.SparsityProfiler;
import dev.turbosparse.eval.sparsity.SparsityReport;
import dev.turbosparse.eval.sparsity.ThresholdCurve;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.tokenizer.Tokenizer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse sparsity}: how sparse a model's FFN activations are, per layer and expert. The JSON form of
 * {@code --tokens} is a contract the team's checks rely on: {@code {"zero_fraction":[...per layer...], ...}}.
 */
@Command(name = "sparsity", mixinStandardHelpOptions = true,
        description = {"Measure the exact zeros of a model's FFN activation per layer (and expert), each neuron's"
            + " activation frequency, and the parameters a token activates.",
            "Profile an explicit token sequence (--tokens) or the held-out sequences of prepared data (--data,"
                + " per source). --format json prints {\"zero_fraction\":[per layer, or per layer a list per expert],"
                + " ...}."})
final class SparsityCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(SparsityCommand.class);

    enum Format { json, text }

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face checkpoint folder, or a GGUF file.")
    Path model;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--tokens", split = ",", paramLabel = "IDS", required = true,
                description = "Comma-separated token ids of one sequence, e.g. 1,22557,1526.")
        long[] tokens;

        @Option(names = "--data", paramLabel = "URI", required = true,
                description = "A data folder written by prepare (any Hadoop FS URI): its sources' held-out sequences.")
        String data;
    }

    @Option(names = "--sources", split = ",", paramLabel = "NAMES",
            description = "With --data: the sources to profile (default: every source prepared there).")
    List<String> sources = List.of();

    @Option(names = "--max-tokens", defaultValue = "65536", paramLabel = "N",
            description = "With --data: held-out tokens per source (default: ${DEFAULT-VALUE}).")
    long maxTokens;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "N",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--frequencies", paramLabel = "FILE",
            description = "Also write each neuron's activation frequency to FILE (safetensors, one F32 vector per"
                + " layer or expert; the input of hot-first neuron ordering).")
    Path frequencies;

    @Option(names = "--curve", split = ",", paramLabel = "SHARES",
            description = "With --data: also the threshold curve, e.g. 0.5,0.7,0.8,0.9: zero the activation's"
                + " entries below per-layer magnitude thresholds calibrated to each share (on half of each source's"
                + " held-out rows), and measure the zeros reached and the held-out loss (on the other half).")
    double[] curve;

    @Option(names = "--format", defaultValue = "text",
            description = "json or text (default: ${DEFAULT-VALUE}).")
    Format format;

    @Override
    public Integer call() throws Exception {
        if (batch < 1) {
            throw new Cli.UserError("--batch must be at least 1, got " + batch);
        }
        if (maxTokens < 1) {
            throw new Cli.UserError("--max-tokens must be at least 1, got " + maxTokens);
        }
        if (input.tokens != null && !sources.isEmpty()) {
            throw new Cli.UserError("--sources goes with --data, not with --tokens");
        }
        if (curve != null && input.data == null) {
            throw new Cli.UserError("--curve needs held-out data: give --data");
        }
        if (frequencies != null && !frequencies.getFileName().toString().endsWith(".safetensors")) {
            throw new Cli.UserError("--frequencies must name a .safetensors file, got " + frequencies);
        }
        Models.ModelPath source = Models.resolve(model);
        ModelConfig config = source.config();
        // every input is checked before the model loads (minutes, for a large one)
        List<DomainRows.Domain> read = List.of();
        double[] targets = null;
        if (input.tokens != null) {
            if (input.tokens.length == 0) {
                throw new Cli.UserError("--tokens: give at least one token id");
            }
            source.checkTokens(input.tokens);
        } else {
            Path tokenizer = source.gguf() ? null : source.path().resolve(Tokenizer.FILE_NAME);
            if (tokenizer == null) {
                LOG.warn("{}: a GGUF model; the data's tokenizer is not checked against it", source.path());
            } else if (!Files.exists(tokenizer)) {
                throw new Cli.UserError(source.path() + ": has no " + Tokenizer.FILE_NAME + " to check the data's"
                        + " tokenizer against");
            }
            read = DomainRows.heldout(input.data, sources, maxTokens, tokenizer, config.vocabSize(),
                    Fs.configuration());
            if (curve != null) {
                targets = curve.clone();
                java.util.Arrays.sort(targets);
                ThresholdCurve.check(read, targets);
            }
        }
        if (frequencies != null && frequencies.toAbsolutePath().getParent() != null) {
            Files.createDirectories(frequencies.toAbsolutePath().getParent());
        }
        Map<String, NeuronProfile> domains = new LinkedHashMap<>();
        NeuronProfile all;
        List<ThresholdCurve.Point> points = List.of();
        try (NDManager manager = NDManager.newBaseManager(); CausalLM lm = source.load(manager)) {
            all = SparsityProfiler.emptyProfile(lm);
            if (input.tokens != null) {
                int[] ids = java.util.Arrays.stream(input.tokens).mapToInt(Math::toIntExact).toArray();
                SparsityProfiler.profile(lm, ids, 1, ids.length, 1, all, null);
            } else {
                for (DomainRows.Domain d : read) {
                    NeuronProfile p = SparsityProfiler.emptyProfile(lm);
                    long total = (long) d.rows() * (d.width() - 1);
                    try (Progress bar = Progress.count("profile " + d.name(), total, "tokens")) {
                        SparsityProfiler.profile(lm, d.inputs(), d.rows(), d.width() - 1, batch, p, bar::stepTo);
                    }
                    all.add(p);
                    domains.put(d.name(), p);
                }
                if (targets != null) {
                    points = ThresholdCurve.run(lm, read, targets, batch, m -> LOG.info("threshold curve: {}", m));
                }
            }
        }
        ObjectNode report = SparsityReport.json(model.toString(), config, all, domains);
        if (!points.isEmpty()) {
            SparsityReport.putCurve(report, points);
        }
        if (frequencies != null) {
            ActivationFrequencies.write(frequencies, config, all, input.tokens != null ? "--tokens"
                    : input.data + " " + String.join(",", domains.keySet()));
        }
        PrintStream out = Output.stdout();
        if (format == Format.json) {
            out.println(JsonMapper.builder().build().writeValueAsString(report));
        } else {
            writeText(out, report, domains.keySet());
        }
        out.flush();
        return 0;
    }

    /** A table: a row per layer, a column per domain (and all); then the activated parameters. */
    static void writeText(PrintStream out, ObjectNode r, Iterable<String> domains) {
        boolean moe = r.has("layer_zero_fraction");
        String key = moe ? "layer_zero_fraction" : "zero_fraction";
        out.printf(Locale.ROOT, "%s: %s, %,d tokens%n", r.get("model").asText(), r.get("ffn_activation").asText(),
                r.get("tokens").asLong());
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-6s", "layer"));
        for (String d : domains) {
            head.append(String.format(Locale.ROOT, " %9s", d));
        }
        head.append(String.format(Locale.ROOT, " %9s", "all"));
        out.println(head + (moe ? "   (zeros over all experts; per expert in --format json)" : "   (exact zeros)"));
        JsonNode all = r.get(key);
        for (int l = 0; l < all.size(); l++) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-6d", l));
            for (String d : domains) {
                row.append(percent(r.get("domains").get(d).get(key).get(l)));
            }
            out.println(row.append(percent(all.get(l))));
        }
        JsonNode a = r.get("activated_parameters");
        out.printf(Locale.ROOT, "activated parameters per token: %,d of %,d (%.1f%%): embeddings %,d, attention %,d,"
                + " norms %,d, router %,d, FFN %,d of %,d%n", a.get("per_token").asLong(), a.get("total").asLong(),
                100 * a.get("fraction").asDouble(), a.get("embeddings").asLong(), a.get("attention").asLong(),
                a.get("norms").asLong(), a.get("router").asLong(), a.get("ffn_active").asLong(),
                a.get("ffn_total").asLong());
        if (r.has("threshold_curve")) {
            out.println("threshold curve (second half of each source's held-out rows):");
            out.printf(Locale.ROOT, "%-8s %9s %10s %11s   %s%n", "target", "zeros", "mean loss", "perplexity",
                    "loss per source");
            for (JsonNode p : r.get("threshold_curve")) {
                StringBuilder per = new StringBuilder();
                p.get("loss").properties().forEach(e -> per.append(String.format(Locale.ROOT, "%s %.4f  ", e.getKey(),
                        e.getValue().asDouble())));
                out.printf(Locale.ROOT, "%-8s %8.2f%% %10.4f %11.2f   %s%n", p.get("target").isNull() ? "none"
                        : p.get("target").asText(), 100 * p.get("mean_zero_fraction").asDouble(),
                        p.get("mean_loss").asDouble(), p.get("perplexity").asDouble(), per.toString().trim());
            }
        }
    }

    private static String percent(JsonNode v) {
        return v.isNull() ? String.format(Locale.ROOT, " %9s", "-")
                : String.format(Locale.ROOT, " %8.2f%%", 100 * v.asDouble());
    }
}

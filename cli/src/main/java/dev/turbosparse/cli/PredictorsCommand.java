package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.DomainRows;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeLoader;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.trainer.PredictorTrainer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse predictors}: trains the activation predictors of a dReLU model and measures what they cost: recall
 * and precision per FFN, and held-out perplexity of the runtime's predicted mode against its dense mode.
 */
@Command(name = "predictors", mixinStandardHelpOptions = true,
        description = {"Train the activation predictors of a dReLU or ReGLU model: per layer (per expert for Mixtral)"
            + " a low-rank MLP fc2(relu(fc1(r))) from the residual before the FFN's norm to a score per neuron,"
            + " trained on the prepared data's training sequences; each FFN's threshold is set on held-out sequences"
            + " to keep --recall of its active neurons.",
            "Writes the model with its predictors to --out (TurboSparse's names, sparse_threshold in config.json;"
                + " `export --format gguf --sparse` carries them) and reports recall, precision and the share of"
                + " neurons predicted per FFN, and the runtime's held-out perplexity with --mode predicted against"
                + " --mode dense (also in --out/predictors.json)."})
final class PredictorsCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A dReLU (or ReGLU) checkpoint folder.")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "URI",
            description = "A data folder written by prepare (any Hadoop FS URI).")
    String data;

    @Option(names = "--sources", split = ",", paramLabel = "NAMES",
            description = "The sources to use (default: every source prepared there).")
    List<String> sources = List.of();

    @Option(names = "--rank", defaultValue = "0", paramLabel = "R",
            description = "The predictors' hidden size (default: hidden_size / 4, at least 16).")
    int rank;

    @Option(names = "--tokens", defaultValue = "16384", paramLabel = "N",
            description = "Training tokens per source (default: ${DEFAULT-VALUE}).")
    long tokens;

    @Option(names = "--heldout-tokens", defaultValue = "4096", paramLabel = "N",
            description = "Held-out tokens per source, to set the thresholds and measure (default: ${DEFAULT-VALUE}).")
    long heldoutTokens;

    @Option(names = "--epochs", defaultValue = "4", description = "Passes over the training tokens (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "256", description = "Tokens per step (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "3e-3", description = "Adam's learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--recall", defaultValue = "0.99",
            description = "The share of active neurons each threshold keeps on held-out data (default: ${DEFAULT-VALUE}).")
    double recall;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the initial weights and the order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--eval-tokens", defaultValue = "2048", paramLabel = "N",
            description = "Held-out tokens per source for the perplexity of predicted against dense; 0 skips it"
                + " (default: ${DEFAULT-VALUE}).")
    long evalTokens;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads of the runtime (default: the machine's cores).")
    Integer threads;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The checkpoint folder to write.")
    Path out;

    @Option(names = "--force", description = "Replace --out if it exists.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        Path folder = Models.checkpointFolder(model);
        Cli.refuseToReplace(out, force, folder);
        ModelConfig c = ConfigIO.read(folder);
        int r = rank > 0 ? rank : Math.max(16, c.hiddenSize() / 4);
        if (evalTokens < 0) {
            throw new Cli.UserError("--eval-tokens must be 0 or positive, got " + evalTokens);
        }
        PredictorTrainer.Options o;
        try {
            o = new PredictorTrainer.Options(r, tokens, heldoutTokens, epochs, batch, lr, recall, seed, sources);
        } catch (IllegalArgumentException e) {
            throw new Cli.UserError(e.getMessage());
        }
        PredictorTrainer.Result result;
        Progress[] bar = {null};
        try {
            result = PredictorTrainer.train(folder, data, o, out, new PredictorTrainer.Progress() {
                @Override
                public void phase(String what) {
                    if (bar[0] == null) {
                        org.apache.logging.log4j.LogManager.getLogger(PredictorsCommand.class).info("predictors: {}", what);
                    } else {
                        bar[0].message(what);
                    }
                }

                @Override
                public void steps(long done, long total) {
                    if (bar[0] == null) {
                        bar[0] = Progress.count("predictors", total, "steps");
                    }
                    bar[0].stepTo(done);
                }
            });
        } finally {
            if (bar[0] != null) {
                bar[0].close();
            }
        }
        ObjectNode report = report(result, c);
        if (evalTokens > 0) {
            perplexity(report, c);
        }
        AtomicFiles.write(out.resolve("predictors.json"), JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT)
                .build().writeValueAsBytes(report));
        print(report);
        return 0;
    }

    private ObjectNode report(PredictorTrainer.Result result, ModelConfig c) {
        ObjectNode o = JsonMapper.builder().build().createObjectNode();
        o.put("model", model.toString());
        o.put("rank", result.rank());
        o.put("recall_target", recall);
        o.put("train_tokens", result.trainTokens());
        o.put("heldout_tokens", result.heldoutTokens());
        ArrayNode ffns = o.putArray("ffns");
        double rec = 0;
        double prec = 0;
        double predicted = 0;
        double active = 0;
        for (PredictorTrainer.FfnResult f : result.ffns()) {
            ObjectNode one = ffns.addObject();
            one.put("layer", f.layer());
            if (c.isMoe()) {
                one.put("expert", f.expert());
            }
            one.put("active_share", f.activeShare());
            one.put("predicted_share", f.predictedShare());
            one.put("recall", f.recall());
            one.put("precision", f.precision());
            one.put("threshold", f.threshold());
            one.put("final_loss", f.finalLoss());
            rec += f.recall();
            prec += f.precision();
            predicted += f.predictedShare();
            active += f.activeShare();
        }
        int n = result.ffns().size();
        o.put("mean_recall", rec / n);
        o.put("mean_precision", prec / n);
        o.put("mean_predicted_share", predicted / n);
        o.put("mean_active_share", active / n);
        return o;
    }

    /** Held-out perplexity of the runtime in dense and predicted mode, on the checkpoint just written. */
    private void perplexity(ObjectNode report, ModelConfig c) {
        List<DomainRows.Domain> domains = DomainRows.heldout(data, sources, evalTokens,
                Files.isRegularFile(out.resolve("tokenizer.json")) ? out.resolve("tokenizer.json") : null,
                c.vocabSize(), Fs.configuration());
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        ObjectNode ppl = report.putObject("perplexity");
        long total = domains.stream().mapToLong(d -> (long) d.rows() * (d.width() - 1)).sum() * 2;
        try (RuntimeModel m = RuntimeLoader.load(out);
                Progress bar = Progress.count("perplexity dense and predicted", total, "tokens")) {
            long[] done = {0};
            for (Decoder.Mode mode : new Decoder.Mode[] {Decoder.Mode.DENSE, Decoder.Mode.PREDICTED}) {
                try (Decoder d = new Decoder(m, mode, domains.getFirst().width() - 1, n, Float.NaN)) {
                    double nll = 0;
                    long count = 0;
                    for (DomainRows.Domain dom : domains) {
                        for (int row = 0; row < dom.rows(); row++) {
                            d.reset();
                            for (int t = 0; t < dom.width() - 1; t++) {
                                float[] logits = d.forward(dom.tokens()[row * dom.width() + t]);
                                nll += nll(logits, dom.tokens()[row * dom.width() + t + 1]);
                                count++;
                                bar.stepTo(++done[0]);
                            }
                        }
                    }
                    ObjectNode one = ppl.putObject(mode.name().toLowerCase(Locale.ROOT));
                    one.put("loss", nll / count);
                    one.put("perplexity", Math.exp(nll / count));
                    one.put("neuron_share", d.neuronShare());
                    one.put("tokens", count);
                }
            }
        }
        double dense = ppl.get("dense").get("loss").asDouble();
        double predicted = ppl.get("predicted").get("loss").asDouble();
        ppl.put("loss_change", predicted - dense);
    }

    private static double nll(float[] logits, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return Math.log(sum) + max - logits[target];
    }

    private void print(ObjectNode r) {
        PrintStream o = Output.stdout();
        o.printf(Locale.ROOT, "predictors of rank %d, trained on %,d tokens, thresholds on %,d held-out tokens for"
                + " recall %.3f%n", r.get("rank").asInt(), r.get("train_tokens").asLong(), r.get("heldout_tokens").asLong(),
                recall);
        for (var f : r.get("ffns")) {
            o.printf(Locale.ROOT, "layer %2d%s  active %6.2f%%  predicted %6.2f%%  recall %6.2f%%  precision %6.2f%%%n",
                    f.get("layer").asInt(), f.has("expert") ? String.format(Locale.ROOT, " expert %d", f.get("expert").asInt()) : "",
                    100 * f.get("active_share").asDouble(), 100 * f.get("predicted_share").asDouble(),
                    100 * f.get("recall").asDouble(), 100 * f.get("precision").asDouble());
        }
        if (r.has("perplexity")) {
            var p = r.get("perplexity");
            o.printf(Locale.ROOT, "held-out: dense loss %.4f (perplexity %.2f), predicted %.4f (%.2f, %.2f%% of FFN"
                    + " neurons computed): %+.4f nats%n", p.get("dense").get("loss").asDouble(),
                    p.get("dense").get("perplexity").asDouble(), p.get("predicted").get("loss").asDouble(),
                    p.get("predicted").get("perplexity").asDouble(), 100 * p.get("predicted").get("neuron_share").asDouble(),
                    p.get("loss_change").asDouble());
        }
        o.println("predictors: " + out + " (report in " + out.resolve("predictors.json") + ")");
        o.flush();
    }
}

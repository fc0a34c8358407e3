package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.prepare.SourcePlan;
import dev.turbosparse.trainer.Recipe;
import dev.turbosparse.trainer.Trainer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code turbosparse train RECIPE [--set key.path=value ...] [--resume]}: continued pretraining as a recipe says.
 * The recipe's {@code output} is the run folder; {@code <output>/metrics.jsonl} gets one line per step.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train as a recipe (configs/*.yaml) says: the start model (an HF checkpoint with its FFN"
            + " activation swapped, or random weights), the data mixture (prepared first if needed), AdamW with"
            + " warmup and cosine decay, accumulation, clipping, held-out loss per domain, checkpoints.",
            "The run folder is the recipe's 'output' (any Hadoop FileSystem URI): recipe.resolved.yaml,"
                + " metrics.jsonl (one JSON line per step), checkpoints/step-N/ and final/.",
            "A killed run continues with --resume from its latest committed checkpoint, on the identical data"
                + " stream."})
final class TrainCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "RECIPE", description = "The recipe (YAML).")
    Path recipe;

    @Option(names = "--set", paramLabel = "KEY.PATH=VALUE",
            description = "Overrides a recipe key, e.g. --set optimizer.lr=1e-4 --set steps=100. Repeatable.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--resume", description = "Continue the run in the recipe's output from its latest committed"
            + " checkpoint (a folder without one starts afresh). Without it, an output that holds a run is refused.")
    boolean resume;

    @Override
    public Integer call() throws Exception {
        Recipe r = Recipe.read(recipe, overrides);
        Trainer.Result result;
        try (Bars bars = new Bars()) {
            result = Trainer.run(r, resume, Fs.configuration(), bars);
        }
        PrintStream out = Output.stdout();
        out.printf(Locale.ROOT, "trained %,d steps (%,d tokens, %d skipped)%s%n", result.step(), result.tokens(),
                result.skippedSteps(), Double.isFinite(result.loss())
                        ? String.format(Locale.ROOT, "; last training loss %.4f", result.loss()) : "");
        if (!result.heldoutLoss().isEmpty()) {
            StringBuilder b = new StringBuilder("held-out loss:");
            result.heldoutLoss().forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %.4f", k, v)));
            out.println(b);
        }
        out.println("final model: " + result.finalModel());
        out.println("metrics: " + new org.apache.hadoop.fs.Path(Fs.path(r.output()), "metrics.jsonl"));
        out.flush();
        return 0;
    }

    /** Progress bars: preparing each source, loading the model, the steps (with the latest loss). */
    private static final class Bars implements Trainer.Listener, AutoCloseable {
        private Progress bar;

        private void replace(Progress next) {
            if (bar != null) {
                bar.close();
            }
            bar = next;
        }

        @Override
        public void source(SourcePlan plan) {
            replace(Progress.bytes("prepare " + plan.name(), plan.bytes()));
        }

        @Override
        public void progress(SourcePlan plan, long bytes) {
            bar.stepTo(bytes);
        }

        @Override
        public void done(SourcePlan plan, Manifest manifest, boolean reused) {
            replace(null);
        }

        @Override
        public void loading(long total) {
            replace(Progress.count("load model", total, "parameters"));
        }

        @Override
        public void loaded(long done) {
            if (bar != null) {
                bar.stepTo(done);
            }
        }

        @Override
        public void started(long fromStep, long totalSteps) {
            replace(Progress.count("train", totalSteps, "steps", fromStep));
        }

        @Override
        public void stepped(long step, ObjectNode metrics) {
            StringBuilder m = new StringBuilder("loss ").append(metrics.path("loss").asText());
            if (metrics.has("heldout_loss")) {
                m.append(", held-out ").append(metrics.get("heldout_loss").toString());
            }
            m.append(", ").append(metrics.path("tokens_per_s").asText()).append(" tok/s");
            // The message first: stepTo may print the bar, which should show this step's loss.
            bar.message(m.toString());
            bar.stepTo(step);
        }

        @Override
        public void close() {
            replace(null);
        }
    }
}

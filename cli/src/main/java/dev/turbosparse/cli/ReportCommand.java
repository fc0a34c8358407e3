package dev.turbosparse.cli;

import dev.turbosparse.eval.report.Report;
import dev.turbosparse.eval.report.ReportModel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse report}: one self-contained HTML page comparing models, from what the other commands wrote. */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Write a report comparing models (a SwiGLU base and its dReLU continuation, say) from what"
            + " sparsity, eval, sparsity --frequencies and train wrote: report.html (one self-contained page: a summary"
            + " table with the change from the first model to the last, FFN zeros per layer and domain, activated"
            + " parameters, activation-frequency histograms, training curves, sparsity against perplexity),"
            + " report.json (its numbers) and plots/*.png.",
            "Each --model LABEL starts a model; the options after it belong to it:",
            "  report --model swiglu --sparsity base.json --results base-results.json --run out/mini-swiglu \\",
            "         --model drelu --sparsity drelu.json --results drelu-results.json --frequencies freq.safetensors"
                + " --out report"},
        sortOptions = false)
final class ReportCommand implements Callable<Integer> {

    /** One model and its files. */
    static final class ModelFiles {
        @Option(names = "--model", required = true, paramLabel = "LABEL",
                description = "Starts a model: its label in the report.")
        String label;

        @Option(names = "--sparsity", paramLabel = "FILE",
                description = "Its `sparsity --format json` output (with --data for domains, --curve for the curve).")
        Path sparsity;

        @Option(names = "--results", paramLabel = "FILE", description = "Its results.json from `eval`.")
        Path results;

        @Option(names = "--frequencies", paramLabel = "FILE",
                description = "Its activation frequencies from `sparsity --frequencies`.")
        Path frequencies;

        @Option(names = "--run", paramLabel = "DIR", description = "Its training run folder (metrics.jsonl), a path or URI.")
        String run;
    }

    @ArgGroup(exclusive = false, multiplicity = "1..*")
    List<ModelFiles> models;

    @Option(names = "--title", paramLabel = "TEXT", description = "The report's title (default: the labels compared).")
    String title;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "The folder to write report.html, report.json and plots/ into (other files are left alone).")
    Path out;

    @Override
    public Integer call() throws Exception {
        List<ReportModel> read = new ArrayList<>();
        for (ModelFiles m : models) {
            read.add(ReportModel.read(m.label, m.sparsity, m.results, m.frequencies, m.run));
        }
        String t = title != null ? title
                : "turbosparse report: " + String.join(" vs ", read.stream().map(ReportModel::label).toList());
        Report.Output o = Report.build(t, read);
        Report.write(o, out);
        PrintStream stdout = Output.stdout();
        stdout.println(out.resolve("report.html") + ": " + o.plots().size() + " plots (" + out.resolve("plots")
                + "), numbers in " + out.resolve("report.json"));
        stdout.flush();
        return 0;
    }
}

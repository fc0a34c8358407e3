package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.MixtureConfig;
import dev.turbosparse.data.mixture.MixtureReport;
import dev.turbosparse.data.mixture.MixtureSampler;
import dev.turbosparse.data.mixture.MixtureSpec;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse mixture}: draw sequences from prepared sources by weight and report the realised token
 * proportions and epochs. The JSON form is a contract: {@code {"proportions":{"web":...},"epochs":{"web":...}}}.
 */
@Command(name = "mixture", mixinStandardHelpOptions = true,
        description = {"Draw --sequences sequences from prepared sources by weight, as training would, and report"
            + " the realised token proportions per source and the epochs used (above 1: repeated data).",
            "--format json prints {\"proportions\":{...},\"epochs\":{...}}."})
final class MixtureCommand implements Callable<Integer> {

    enum Format { json, text }

    @Option(names = "--data", paramLabel = "URI", description = "Where the sources were prepared.")
    String data;

    @Option(names = "--weights", paramLabel = "NAME=W,...",
            description = "Weights per source, e.g. web=0.7,code=0.2,math=0.1 (normalised; each > 0).")
    String weights;

    @Option(names = "--config", paramLabel = "FILE",
            description = "A mixture definition (configs/mixtures/*.yaml) giving the data, weights and temperature;"
                + " --data and --weights override it.")
    java.nio.file.Path config;

    @Option(names = "--sequences", required = true, paramLabel = "N", description = "Sequences to draw.")
    long sequences;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--temperature", paramLabel = "T",
            description = "Targets are w^(1/T), normalised: above 1 flattens the mixture (default: 1, or the config's).")
    Double temperature;

    @Option(names = "--format", defaultValue = "text", description = "json or text (default: ${DEFAULT-VALUE}).")
    Format format;

    @Override
    public Integer call() throws Exception {
        if (sequences < 1) {
            throw new Cli.UserError("--sequences must be at least 1, got " + sequences);
        }
        MixtureSpec spec;
        if (config != null) {
            MixtureConfig c = MixtureConfig.read(config);
            data = data != null ? data : c.data();
            MixtureSpec fromConfig = c.spec();
            double t = temperature != null ? temperature : fromConfig.temperature();
            spec = weights != null ? MixtureSpec.parse(weights, t) : new MixtureSpec(fromConfig.weights(), t);
        } else if (data == null || weights == null) {
            throw new Cli.UserError("give --data and --weights (or a --config with them)");
        } else {
            spec = MixtureSpec.parse(weights, temperature != null ? temperature : 1.0);
        }
        MixtureSampler sampler = MixtureSampler.open(data, spec, seed, Fs.configuration());
        int batch = (int) Math.min(sequences, 1024);
        int[] buffer = new int[batch * sampler.width()];
        try (Progress progress = Progress.count("mixture", sequences, "sequences")) {
            for (long done = 0; done < sequences;) {
                int n = (int) Math.min(batch, sequences - done);
                sampler.next(n, buffer, null);
                done += n;
                progress.stepTo(done);
            }
        }
        MixtureReport report = sampler.report();
        PrintStream out = Output.stdout();
        if (format == Format.json) {
            JsonMapper m = JsonMapper.builder().build();
            ObjectNode root = m.createObjectNode();
            ObjectNode p = root.putObject("proportions");
            ObjectNode e = root.putObject("epochs");
            report.sources().forEach((name, s) -> {
                p.put(name, s.proportion());
                e.put(name, s.epochs());
            });
            out.println(m.writeValueAsString(root));
        } else {
            out.printf("%-10s %8s %10s %12s %14s %10s%n", "source", "target", "realised", "sequences", "tokens", "epochs");
            report.sources().forEach((name, s) -> out.printf(Locale.ROOT, "%-10s %8.4f %10.4f %,12d %,14d %10.3f%n",
                    name, s.target(), s.proportion(), s.sequences(), s.tokens(), s.epochs()));
            out.printf(Locale.ROOT, "%,d sequences of %d tokens; largest deviation from a target %.5f%n",
                    report.sequences(), sampler.width(), report.maxDeviation());
        }
        out.flush();
        return 0;
    }
}

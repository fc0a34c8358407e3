package dev.turbosparse.cli;

import dev.turbosparse.data.bench.DataBenchmark;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.MixtureConfig;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.apache.hadoop.conf.Configuration;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse bench}: measurements of the real code paths on this machine (docs/BENCHMARKS.md). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure the real code paths on this machine; docs/BENCHMARKS.md records the figures.",
        subcommands = {BenchCommand.Data.class})
final class BenchCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    /** {@code turbosparse bench data}: prepare against the raw tokenizer, and the sampler. */
    @Command(name = "data", mixinStandardHelpOptions = true,
            description = {"Prepare the sources of a mixture definition end to end and compare its throughput with"
                + " the raw tokenizer encoding the same documents in the same run; then draw batches from the"
                + " prepared data and report the sampler's throughput."})
    static final class Data implements Callable<Integer> {

        @Option(names = "--config", defaultValue = "configs/mixtures/demo.yaml", paramLabel = "FILE",
                description = "The mixture whose sources are measured (default: ${DEFAULT-VALUE}).")
        Path config;

        @Option(names = "--seq-len", paramLabel = "N", description = "Sequence length (default: the config's).")
        Integer seqLen;

        @Option(names = "--sources", split = ",", paramLabel = "NAME", description = "Measure only these sources"
                + " of the config (default: all).")
        java.util.List<String> sources;

        @Option(names = "--batch", defaultValue = "32", paramLabel = "B", description = "Sequences per sampled batch.")
        int batch;

        @Option(names = "--seconds", defaultValue = "3", description = "How long to sample (default: ${DEFAULT-VALUE}).")
        double seconds;

        @Override
        public Integer call() throws Exception {
            MixtureConfig c = MixtureConfig.read(config);
            Configuration conf = Fs.configuration();
            Path scratch = Files.createTempDirectory("turbosparse-bench-");
            DataBenchmark.Result r;
            try (Tokenizer tok = Preparer.loadTokenizer(c.tokenizer(), conf)) {
                java.util.Map<String, String> inputs = new java.util.LinkedHashMap<>(c.inputs());
                if (sources != null) {
                    for (String s : sources) {
                        if (!inputs.containsKey(s)) {
                            throw new Cli.UserError("--sources: '" + s + "' is not a source of " + config + " ("
                                    + inputs.keySet() + ")");
                        }
                    }
                    inputs.keySet().retainAll(sources);
                }
                r = DataBenchmark.run(inputs, tok, seqLen != null ? seqLen : c.seqLen(), scratch.toString(), batch,
                        seconds, conf);
            } finally {
                Cli.deleteTree(scratch);
            }
            PrintStream o = Output.stdout();
            o.printf(Locale.ROOT, "corpus           %,d documents, %,d characters, %,d tokens (%s)%n", r.documents(),
                    r.characters(), r.tokens(), config);
            o.printf(Locale.ROOT, "raw tokenizer    %,.0f tokens/s (%.2f s, batches of up to 1,024 documents / 1 Mi chars)%n",
                    r.rawTokensPerSecond(), r.rawSeconds());
            o.printf(Locale.ROOT, "prepare          %,.0f tokens/s (%.2f s end to end: read, tokenize, pack, write)%n",
                    r.prepareTokensPerSecond(), r.prepareSeconds());
            o.printf(Locale.ROOT, "prepare / raw    %.1f%% (goal: at least 80%%)%n", 100 * r.prepareShareOfRaw());
            o.printf(Locale.ROOT, "sampler          %,.0f tokens/s (%,d tokens in %.2f s, batches of %d; goal: 10,000,000)%n",
                    r.samplerTokensPerSecond(), r.sampledTokens(), r.sampleSeconds(), batch);
            o.printf(Locale.ROOT, "shard loading    %,.0f tokens/s (%,d MB of shards read, verified and decoded in %.2f s;"
                    + " once per shard and epoch)%n", r.shardLoadTokensPerSecond(), r.shardBytes() / 1_000_000,
                    r.loadSeconds());
            o.printf("cores            %d%n", Runtime.getRuntime().availableProcessors());
            o.flush();
            return 0;
        }
    }
}

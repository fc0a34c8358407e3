package dev.turbosparse.cli;

import dev.turbosparse.data.corpus.CorpusFormat;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.MixtureConfig;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.prepare.PrepareJob;
import dev.turbosparse.data.prepare.PrepareSettings;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.data.prepare.SourcePlan;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.hadoop.conf.Configuration;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse prepare}: corpora into packed token shards, one folder per named source. */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = {"Tokenize named corpora and pack them into sequences of seq-len + 1 tokens, written as Arrow IPC"
            + " shards with a manifest.json per source (tokenizer sha256, counts, shard checksums, skipped records).",
            "Inputs and output are paths or Hadoop FileSystem URIs (file://, hdfs://). JSONL (.jsonl[.gz|.zst], text"
                + " in --text-field), Parquet (a string column) and folders of text or source files (one file, one"
                + " document) are read; the format is detected from the file names unless --format says it.",
            "A re-run reuses what is complete and verified; a crash loses nothing."})
final class PrepareCommand implements Callable<Integer> {

    @Option(names = "--input", paramLabel = "NAME=URI",
            description = "A source: its name (web, code, math, ...) and where its files are. Repeat for more.")
    Map<String, String> inputs = new LinkedHashMap<>();

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.json, or a folder with it (and tokenizer_config.json).")
    String tokenizer;

    @Option(names = "--seq-len", paramLabel = "N", description = "Tokens per training sequence.")
    Integer seqLen;

    @Option(names = "--out", paramLabel = "URI", description = "Where the prepared sources go.")
    String out;

    @Option(names = "--config", paramLabel = "FILE",
            description = "A mixture definition (configs/mixtures/*.yaml) giving the inputs, tokenizer, seq-len and"
                + " output; the options above override it.")
    java.nio.file.Path config;

    @Option(names = "--format", paramLabel = "FORMAT", description = "jsonl, parquet or text (default: detected).")
    String format;

    @Option(names = "--text-field", defaultValue = "text", paramLabel = "NAME",
            description = "The JSONL field or Parquet column with the text (default: ${DEFAULT-VALUE}).")
    String textField;

    @Option(names = "--include", paramLabel = "GLOB", description = "Read only files matching it, e.g. '**.py'.")
    List<String> include = List.of();

    @Option(names = "--exclude", paramLabel = "GLOB", description = "Leave out files matching it, e.g. '**/tests/**'.")
    List<String> exclude = List.of();

    @Option(names = "--heldout", defaultValue = "0.01", paramLabel = "FRACTION",
            description = "Share of documents kept apart for evaluation (default: ${DEFAULT-VALUE}).")
    double heldout;

    @Option(names = "--shard-sequences", defaultValue = "0", paramLabel = "N",
            description = "Sequences per shard; 0 for shards of about 64 MiB (default).")
    int shardSequences;

    @Option(names = "--bos", negatable = true,
            description = "Start each document with BOS (default: as tokenizer_config.json says).")
    Boolean bos;

    @Option(names = "--no-eos", description = "Do not end each document with EOS (the separator of packed documents).")
    boolean noEos;

    @Option(names = "--strict", description = "Fail at the first unusable record (file:line) instead of counting it.")
    boolean strict;

    @Option(names = "--keep-tokens", description = "Keep the intermediate token files (a later run with another"
            + " --seq-len reuses them).")
    boolean keepTokens;

    @Option(names = "--force", description = "Prepare again even sources whose manifest matches.")
    boolean force;

    @Option(names = "--mapreduce", description = "Run as a Hadoop MapReduce job with the Hadoop configuration found"
            + " on the classpath (HADOOP_CONF_DIR): on YARN when it says mapreduce.framework.name=yarn, else with the"
            + " local runner. The output is the same as without it. See jobs/README.md.")
    boolean mapreduce;

    @Option(names = "--files-per-map", defaultValue = "1", paramLabel = "N",
            description = "With --mapreduce: input files each map task tokenizes (default: ${DEFAULT-VALUE}).")
    int filesPerMap;

    @Override
    public Integer call() throws Exception {
        if (config != null) {
            MixtureConfig c = MixtureConfig.read(config);
            inputs = inputs.isEmpty() ? c.inputs() : inputs;
            tokenizer = tokenizer != null ? tokenizer : c.tokenizer();
            seqLen = seqLen != null ? seqLen : c.seqLen();
            out = out != null ? out : c.data();
            if (c.heldout() != null && !heldoutGiven()) {
                heldout = c.heldout();
            }
        }
        if (inputs.isEmpty() || tokenizer == null || seqLen == null || out == null) {
            throw new Cli.UserError("give --input NAME=URI, --tokenizer, --seq-len and --out (or a --config with them)");
        }
        PrepareSettings settings = new PrepareSettings(seqLen, format == null ? null : CorpusFormat.of(format),
                textField, include, exclude, bos, !noEos, heldout, shardSequences, strict, keepTokens, force);
        Configuration conf = Fs.configuration();
        Map<String, Manifest> manifests;
        if (mapreduce) {
            if (filesPerMap < 1) {
                throw new Cli.UserError("--files-per-map must be at least 1, got " + filesPerMap);
            }
            conf.setInt(PrepareJob.KEY_FILES_PER_MAP, filesPerMap);
            manifests = PrepareJob.run(inputs, tokenizer, out, settings, conf);
        } else {
            try (Tokenizer tok = Preparer.loadTokenizer(tokenizer, conf)) {
                manifests = new Preparer(conf, settings, out, tok, new ProgressListener()).prepare(inputs);
            }
        }
        PrintStream o = Output.stdout();
        o.printf("%-10s %10s %14s %10s %7s %9s %8s%n", "source", "documents", "tokens", "sequences", "shards",
                "held out", "skipped");
        manifests.forEach((name, m) -> o.printf(Locale.ROOT, "%-10s %,10d %,14d %,10d %7d %,9d %,8d%n", name,
                m.documents(), m.tokens(), m.sequences(), m.shards().size(), m.heldout().sequences(),
                m.skipped().records()));
        o.println("prepared under " + Fs.path(out) + " (manifest.json per source)");
        o.flush();
        return 0;
    }

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    private boolean heldoutGiven() {
        return spec.commandLine().getParseResult().hasMatchedOption("--heldout");
    }

    /** One progress bar per source, over its input bytes. */
    private static final class ProgressListener implements Preparer.Listener {
        private Progress bar;

        @Override
        public void source(SourcePlan plan) {
            bar = Progress.bytes("prepare " + plan.name(), plan.bytes());
        }

        @Override
        public void progress(SourcePlan plan, long bytes) {
            bar.stepTo(bytes);
        }

        @Override
        public void done(SourcePlan plan, Manifest manifest, boolean reused) {
            bar.close();
        }
    }
}

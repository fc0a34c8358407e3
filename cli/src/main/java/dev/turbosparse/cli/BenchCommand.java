package dev.turbosparse.cli;

import dev.turbosparse.data.bench.DataBenchmark;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.MixtureConfig;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.model.tokenizer.Tokenizer;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.MappedPages;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.bench.Bandwidth;
import dev.turbosparse.runtime.bench.BenchModel;
import dev.turbosparse.runtime.bench.DecodeBenchmark;

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
        subcommands = {BenchCommand.Data.class, BenchCommand.RuntimeBench.class, BenchCommand.Model.class})
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

    /** {@code turbosparse bench runtime}: decoding speed of one model in every FFN mode, against the memory bandwidth. */
    @Command(name = "runtime", mixinStandardHelpOptions = true,
            description = {"Decode the same token sequence with the runtime in each FFN mode (dense, exact, predicted)"
                + " on one model in one run, and measure the machine's memory read bandwidth in the same run.",
                "Reports per mode: decode tokens/s, weight bytes read per token, the share of FFN neurons computed,"
                    + " the bandwidth those make and its fraction of the measured one, and the speed-up over dense."})
    static final class RuntimeBench implements Callable<Integer> {

        @Option(names = "--model", required = true, paramLabel = "PATH", description = "A GGUF file or HF folder.")
        Path model;

        @Option(names = "--modes", defaultValue = "dense,exact,predicted", split = ",", paramLabel = "MODES",
                description = "FFN modes to measure (default: ${DEFAULT-VALUE}; modes the model cannot run are left"
                    + " out with a note).")
        java.util.List<String> modes;

        @Option(names = "--warmup", defaultValue = "4",
                description = "Tokens decoded first in each mode and round, not timed (default: ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--warmup-seconds", defaultValue = "12", paramLabel = "S",
                description = "Before the first round, decode in every mode in turn, untimed, for this long, so that"
                    + " the JIT has compiled the decoder (default: ${DEFAULT-VALUE}; 0: no such warm-up).")
        double warmupSeconds;

        @Option(names = "--tokens", defaultValue = "16", description = "Tokens timed per mode (default: ${DEFAULT-VALUE}).")
        int tokens;

        @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: the machine's cores).")
        Integer threads;

        @Option(names = "--bandwidth-mb", defaultValue = "2048", paramLabel = "MB",
                description = "Buffer read to measure the bandwidth (default: ${DEFAULT-VALUE}).")
        long bandwidthMb;

        @Option(names = "--seed", defaultValue = "1", description = "Seed of the token ids (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--rounds", defaultValue = "1", paramLabel = "R",
                description = "Measure the modes R times in turn and report each mode's median round, and its"
                    + " speed-up over dense as the median of the rounds' own ratios (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--mlock", description = RuntimeEngine.MLOCK_HELP)
        boolean mlock;

        @Option(names = "--no-mmap", description = RuntimeEngine.NO_MMAP_HELP)
        boolean noMmap;

        enum Format { text, json }

        @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
        Format format;

        /**
         * The bandwidth before each round: the best of this many passes over the buffer of each way of reading it
         * ({@link Bandwidth}), and of as many as fit in {@link #ROUND_NANOS}. Measured once before the rounds, it was
         * 122% of dense's rate in one run on this VM.
         */
        static final int ROUND_PASSES = 3;

        static final long ROUND_NANOS = 300_000_000L;

        /** Below this share of the bandwidth, the read rate of the model's own pages gets a note. */
        static final double SLOW_PAGES = 0.7;

        /** The least share of the weights' pages in memory for figures that are not partly disk reads. */
        static final double RESIDENT_ENOUGH = 0.99;

        @Override
        public Integer call() throws Exception {
            int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            if (n < 1 || tokens < 1 || warmup < 0 || rounds < 1 || bandwidthMb < 64
                    || !(warmupSeconds >= 0 && warmupSeconds <= 3600)) {
                throw new Cli.UserError("--threads, --tokens and --rounds must be at least 1, --warmup and"
                        + " --warmup-seconds 0 or more (--warmup-seconds at most 3600), --bandwidth-mb at least 64");
            }
            java.util.List<Decoder.Mode> wanted = new java.util.ArrayList<>();
            for (String m : modes) {
                try {
                    wanted.add(Decoder.Mode.valueOf(m.trim().toUpperCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new Cli.UserError("--modes: '" + m + "' is not dense, exact or predicted");
                }
            }
            PrintStream o = Output.stdout();
            java.util.List<String> notes = new java.util.ArrayList<>();
            try (RuntimeModel m = RuntimeEngine.load(Models.resolve(model).path(), noMmap)) {
                java.util.List<Decoder.Mode> run = new java.util.ArrayList<>();
                for (Decoder.Mode mode : wanted) {
                    boolean ok = mode == Decoder.Mode.DENSE || m.config().activation().zeroGateMeansZeroOutput()
                            && (mode == Decoder.Mode.EXACT || m.hasPredictors());
                    if (ok) {
                        run.add(mode);
                    } else {
                        notes.add(mode.name().toLowerCase(Locale.ROOT) + " left out: the model "
                                + (mode == Decoder.Mode.PREDICTED && m.config().activation().zeroGateMeansZeroOutput()
                                        ? "has no predictors" : "is " + m.config().activation().paperName()));
                    }
                }
                if (run.isEmpty()) {
                    throw new Cli.UserError("none of --modes " + modes + " runs on " + model);
                }
                RuntimeEngine.lock(m, mlock);
                // the pages the rounds read again and again: not the embeddings' (a row a token) unless tied
                java.util.List<java.lang.foreign.MemorySegment> pages = new java.util.ArrayList<>(m.weightSegments());
                if (m.lmHead() != m.embeddings()) {
                    pages.remove(m.embeddings().data());
                }
                double before;
                double weightsRead;
                double[] resident = {Double.NaN, Double.NaN}; // when the rounds began, when they ended
                DecodeBenchmark.Result result;
                try (Bandwidth.Buffer buffer = Bandwidth.Buffer.allocate(bandwidthMb << 20)) {
                    before = buffer.measure(n, 5, 2_000_000_000L);
                    weightsRead = Bandwidth.measure(pages, n, 5);
                    if (weightsRead < SLOW_PAGES * before) {
                        notes.add(String.format(Locale.ROOT, "the model's own pages read at %.2f GB/s, %.0f%%"
                                + " of the %.2f GB/s fresh memory read: the memory under the model is slow, and"
                                + " decoding is bound by it (docs/BENCHMARKS.md, \"Pages in memory\")%s", weightsRead / 1e9,
                                100 * weightsRead / before, before / 1e9,
                                noMmap ? "" : "; --no-mmap reads the weights into memory of the process's own"));
                    }
                    // The warm-up in seconds, then the rounds in tokens: one bar for both gave the rounds' ETA the
                    // warm-up's seconds too (45 minutes on the first token of a one-minute run).
                    long warmupTotal = (long) Math.ceil(warmupSeconds);
                    long roundsTotal = (long) rounds * run.size() * (warmup + tokens);
                    Progress[] bar = {warmupTotal > 0 ? Progress.count("bench runtime warm-up", warmupTotal, "s") : null};
                    try {
                        long[] done = {0};
                        result = DecodeBenchmark.run(m, run, warmup, tokens, rounds, warmupSeconds, n, seed,
                                () -> buffer.measure(n, ROUND_PASSES, ROUND_NANOS),
                                new DecodeBenchmark.Listener() {
                                    @Override
                                    public void token(Decoder.Mode mode, int i, int total) {
                                        bar[0].message(mode.name().toLowerCase(Locale.ROOT));
                                        bar[0].stepTo(++done[0]);
                                    }

                                    @Override
                                    public void warming(double seconds) {
                                        bar[0].stepTo(Math.min((long) seconds, warmupTotal));
                                    }

                                    @Override
                                    public void timingBegins() {
                                        resident[0] = residentShare(pages);
                                        if (bar[0] != null) {
                                            bar[0].close();
                                            bar[0] = null;
                                        }
                                        bar[0] = Progress.count("bench runtime", roundsTotal, "tokens");
                                    }
                                });
                    } finally {
                        if (bar[0] != null) {
                            bar[0].close();
                        }
                    }
                }
                resident[1] = residentShare(pages);
                java.util.List<DecodeBenchmark.ModeResult> results = result.modes();
                double bandwidth = result.bandwidth();
                double least = Math.min(resident[0], resident[1]);
                if (least < RESIDENT_ENOUGH) {
                    notes.add(String.format(Locale.ROOT, "%.1f%% of the weights' pages were not in memory during the"
                            + " rounds: the figures may include reads from disk%s", 100 * (1 - least),
                            mlock ? "" : "; --mlock keeps them in"));
                }
                String beyond = beyondBandwidth(results, bandwidth, before, weightsRead);
                if (beyond != null) {
                    notes.add(beyond);
                }
                if (format == Format.json) {
                    o.println(json(m, n, bandwidth, before, weightsRead, resident, results, notes));
                    o.flush();
                    return 0;
                }
                notes.forEach(note -> o.println("(" + note + ")"));
                o.printf(Locale.ROOT, "model            %s (%s, %,d MB of weights, %d threads)%n", model,
                        m.config().activation().paperName(), m.weightBytes() >> 20, n);
                o.printf(Locale.ROOT, "bandwidth        %.2f GB/s read (%d threads over %d MB, best of %d passes of"
                        + " one stream a thread and %d of four, before each round, median of the rounds; %.2f before"
                        + " the warm-up)%n", bandwidth / 1e9, n, bandwidthMb, ROUND_PASSES, ROUND_PASSES, before / 1e9);
                o.printf(Locale.ROOT, "weights read     %.2f GB/s (%d threads summing the model's own %s pages,"
                        + " best of 5 passes of each)%n", weightsRead / 1e9, n,
                        noMmap ? "in-memory (--no-mmap)" : "mapped");
                if (!Double.isNaN(resident[0])) {
                    o.printf(Locale.ROOT, "in memory        %.1f%% of the weights' %,d pages%s as the rounds"
                            + " began, %.1f%% at their end%s%n", 100 * resident[0], MappedPages.pages(pages),
                            m.lmHead() != m.embeddings() ? " (the embeddings aside)" : "", 100 * resident[1],
                            mlock ? " (locked)" : "");
                }
                for (DecodeBenchmark.ModeResult r : results) {
                    o.printf(Locale.ROOT, "%-10s %8.2f tok/s  %8.1f MB/token  rows gate %5.1f%% up %5.1f%% down %6.2f%%"
                            + "  %6.2f GB/s = %5.1f%% of bandwidth%s%n", r.mode().name().toLowerCase(Locale.ROOT),
                            r.tokensPerSecond(), r.bytesPerToken() / 1e6, 100 * r.gateShare(), 100 * r.upShare(),
                            100 * r.neuronShare(), r.bytesPerSecond() / 1e9,
                            100 * r.bandwidthShare(), Double.isNaN(r.speedupOverDense())
                                    || r.mode() == Decoder.Mode.DENSE ? ""
                                    : String.format(Locale.ROOT, "  %.2fx dense", r.speedupOverDense()));
                }
            }
            o.flush();
            return 0;
        }

        /**
         * A note when a mode read faster than the bandwidth measured between the rounds (its share above 100%), with
         * what explains it: the rounds' bandwidth well below the one measured before the warm-up means the machine
         * slowed during the run (on this project's VM it fell from 71 to 29 GB/s within a run, and dense's share read
         * 119%); otherwise the buffer itself read slower than the weights, which were either read from the caches (a
         * model small beside them) or sit in faster memory than the buffer (on this VM one JVM's buffer read slowly
         * in every pass), and the model's own pages' rate ({@code weightsRead}) is given to tell which. Null when no
         * share is above 100%.
         */
        static String beyondBandwidth(java.util.List<DecodeBenchmark.ModeResult> results, double bandwidth,
                double before, double weightsRead) {
            DecodeBenchmark.ModeResult top = null;
            for (DecodeBenchmark.ModeResult r : results) {
                if (r.bandwidthShare() > 1 && (top == null || r.bandwidthShare() > top.bandwidthShare())) {
                    top = r;
                }
            }
            if (top == null) {
                return null;
            }
            boolean fell = bandwidth < FELL * before;
            return String.format(Locale.ROOT, "%s read %.2f GB/s, %.1f%% of the %.2f GB/s measured between the rounds"
                    + " (%.2f before the warm-up): %s, and the shares of the bandwidth do not measure the decoder%s",
                    top.mode().name().toLowerCase(Locale.ROOT), top.bytesPerSecond() / 1e9,
                    100 * top.bandwidthShare(), bandwidth / 1e9, before / 1e9,
                    fell ? "the machine's bandwidth fell during the run"
                            : String.format(Locale.ROOT, "the buffer read slower than the weights, which were read from"
                                    + " the caches or sit in faster memory than the buffer (the model's own pages read"
                                    + " at %.2f GB/s)", weightsRead / 1e9),
                    fell ? "; run it again" : "");
        }

        /** Below this share of the bandwidth before the warm-up, the rounds' bandwidth has fallen. */
        static final double FELL = 0.8;

        /** The share of the pages in memory (mincore), NaN where the platform cannot tell. */
        private static double residentShare(java.util.List<java.lang.foreign.MemorySegment> pages) {
            return MappedPages.available() ? MappedPages.residentShare(pages) : Double.NaN;
        }

        /** The figures as one JSON object: the model, the bandwidth, and a row per mode. */
        private String json(RuntimeModel m, int n, double bandwidth, double before, double weightsRead,
                double[] resident,
                java.util.List<DecodeBenchmark.ModeResult> results, java.util.List<String> notes) throws Exception {
            var mapper = com.fasterxml.jackson.databind.json.JsonMapper.builder().build();
            var root = mapper.createObjectNode();
            root.put("model", model.toString());
            root.put("ffn_activation", m.config().activation().paperName());
            root.put("weight_bytes", m.weightBytes());
            root.put("threads", n);
            root.put("tokens", tokens);
            root.put("warmup", warmup);
            root.put("warmup_seconds", warmupSeconds);
            root.put("rounds", rounds);
            root.put("bandwidth_bytes_per_s", bandwidth);
            root.put("bandwidth_before_warmup_bytes_per_s", before);
            root.put("weights_read_bytes_per_s", weightsRead);
            root.put("mlock", mlock);
            root.put("no_mmap", noMmap);
            if (!Double.isNaN(resident[0])) {
                root.put("resident_share_start", resident[0]);
                root.put("resident_share_end", resident[1]);
            }
            var modesOut = root.putArray("modes");
            for (DecodeBenchmark.ModeResult r : results) {
                var one = modesOut.addObject();
                one.put("mode", r.mode().name().toLowerCase(Locale.ROOT));
                one.put("tokens_per_s", r.tokensPerSecond());
                one.put("bytes_per_token", r.bytesPerToken());
                one.put("gate_rows_share", r.gateShare());
                one.put("up_rows_share", r.upShare());
                one.put("down_rows_share", r.neuronShare());
                one.put("bytes_per_s", r.bytesPerSecond());
                one.put("bandwidth_share", r.bandwidthShare());
                if (!Double.isNaN(r.speedupOverDense())) {
                    one.put("speedup_over_dense", r.speedupOverDense());
                }
            }
            notes.forEach(root.putArray("notes")::add);
            return mapper.writeValueAsString(root);
        }
    }

    /** {@code turbosparse bench model}: a random dReLU model of set FFN sparsity, with predictors, for benchmarks. */
    @Command(name = "model", mixinStandardHelpOptions = true,
            description = {"Write a random dReLU model (a config.json's shape) whose FFN sparsity is set: about 75% of"
                + " a random dReLU FFN is zero for a token, and dead neurons (zero gate rows) add to it. Its"
                + " predictors select a set share of the neurons, so that predicted mode computes that many: what"
                + " speed depends on. Export it with `export --format gguf --sparse` for the runtime."})
    static final class Model implements Callable<Integer> {

        @Option(names = "--config", required = true, paramLabel = "FILE", description = "A dReLU config.json"
                + " (e.g. configs/models/mistral-1b-proportions.json).")
        Path config;

        @Option(names = "--sparsity", required = true, paramLabel = "S",
                description = "The FFN zero share aimed at, in [0.75, 1).")
        double sparsity;

        @Option(names = "--predicted", paramLabel = "P",
                description = "The share of neurons the predictors select (default: 1.25 times the active share).")
        Double predicted;

        @Option(names = "--rank", defaultValue = "16", description = "The predictors' rank (default: ${DEFAULT-VALUE}).")
        int rank;

        @Option(names = "--dtype", defaultValue = "f16", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--seed", defaultValue = "1", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "The checkpoint folder to write.")
        Path out;

        @Override
        public Integer call() throws Exception {
            if (Files.exists(out)) {
                throw new Cli.UserError(out + ": exists; give another folder");
            }
            dev.turbosparse.model.config.ModelConfig c = dev.turbosparse.model.config.ConfigIO.read(config);
            dev.turbosparse.model.safetensors.DType type = dev.turbosparse.model.safetensors.DType.parseWeightType(dtype);
            double p = predicted != null ? predicted : Math.min(1, 1.25 * (1 - sparsity));
            long bytes = dev.turbosparse.model.nn.HfWeightMap.entries(c).stream()
                    .mapToLong(e -> e.numel() * type.bytes()).sum();
            dev.turbosparse.model.io.AtomicFiles.writeFolder(out, staging -> {
                try (Progress bar = Progress.bytes("bench model " + out.getFileName(), bytes)) {
                    BenchModel.write(c, sparsity, p, rank, type, seed, staging, bar::stepTo);
                }
            });
            Output.stdout().printf(Locale.ROOT, "%s: dReLU, %.0f%% FFN zeros aimed at, predictors selecting %.1f%%%n",
                    out, 100 * sparsity, 100 * p);
            Output.stdout().flush();
            return 0;
        }
    }
}

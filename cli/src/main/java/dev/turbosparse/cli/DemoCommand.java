package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.io.AtomicFiles;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse demo [--quick] --out DIR}: the paper's pipeline end to end on the bundled corpora, each stage
 * resumable, ending in {@code DIR/report.html} and {@code DIR/report.json}.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the Turbo Sparse pipeline end to end on the bundled web/code/math sample: prepare it,"
            + " pretrain a small SwiGLU Mistral, continue it with dReLU, profile the sparsity and held-out loss of both,"
            + " train the dReLU model's activation predictors, export GGUF files, decode and benchmark in dense, exact"
            + " and predicted modes, and write one report comparing the two models (DIR/report.html, with its numbers"
            + " in DIR/report.json), beside the paper's published figures.",
            "Every stage is resumable: run the same command again after an interruption and it skips what is complete"
                + " and verified (stages/*.json hold each stage's output digests), and training continues from its"
                + " last checkpoint.",
            "About 17 minutes on 2 cores; --quick trains a tiny model for a few steps instead (about 2 minutes)."})
final class DemoCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(DemoCommand.class);

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The demo's folder (made if absent).")
    Path out;

    @Option(names = "--quick", description = "A tiny model and a few steps: the whole path in about 2 minutes, to see"
            + " it work (its models are barely trained).")
    boolean quick;

    @Option(names = "--configs", paramLabel = "DIR",
            description = "The configs folder with the demo's recipes (default: the installation's configs/).")
    Path configs;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU threads of the decoding runtime (default: the machine's cores).")
    Integer threads;

    /**
     * The two sizes of the demo: the base's config.json (null: the recipe's), recipe overrides of the two trainings,
     * held-out tokens per domain and the threshold curve's targets for profile and eval, the predictors' options, the
     * benchmark's tokens, warm-up and rounds, the tokens the decode stage draws, and each stage's expected seconds on
     * 2 cores (for the estimate of the time left).
     */
    record Plan(String name, String modelConfig, List<String> swigluSets, List<String> dreluSets, long heldoutTokens,
            String curve, List<String> predictorArgs, int benchTokens, int benchWarmup, int benchRounds,
            double benchWarmupSeconds, int generateTokens, Map<String, Double> expectedSeconds) {}

    static final Plan FULL = new Plan("full", null, List.of(), List.of(), 4096, "0.5,0.7,0.9",
            List.of("--tokens", "8192", "--heldout-tokens", "2048", "--epochs", "2", "--eval-tokens", "1024"), 128, 32,
            9, 12, 48, expected(5, 540, 320, 70, 22, 52, 2, 5, 38, 2));

    static final Plan QUICK = new Plan("quick", "models/tiny-mistral-swiglu.json",
            List.of("steps=30", "micro_batch=2", "schedule.warmup_steps=3", "checkpoint.every=10", "eval.every=15",
                    "eval.sequences=4"),
            List.of("steps=20", "micro_batch=2", "schedule.warmup_steps=2", "checkpoint.every=10", "eval.every=10",
                    "eval.sequences=4", "sparsity_every=10"),
            2048, "0.5,0.9", List.of("--tokens", "4096", "--heldout-tokens", "2048", "--epochs", "2",
                    "--eval-tokens", "512"), 64, 16, 3, 1, 24, expected(6, 30, 21, 11, 7, 8, 1, 2, 9, 1));

    private static Map<String, Double> expected(double... seconds) {
        String[] names = {"prepare", "pretrain", "continue", "profile", "eval", "predictors", "export", "decode",
            "bench", "report"};
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) {
            m.put(names[i], seconds[i]);
        }
        return m;
    }

    /** The prompt the decode stage continues in each mode, sampled with the same seed. */
    static final String PROMPT = "The Linux kernel";

    @Override
    public Integer call() throws Exception {
        Plan plan = quick ? QUICK : FULL;
        Path cfg = configsFolder();
        Path swigluRecipe = need(cfg.resolve("demo-swiglu.yaml"));
        Path dreluRecipe = need(cfg.resolve("demo-drelu.yaml"));
        Path mixture = need(cfg.resolve("mixtures/demo.yaml"));
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1) {
            throw new Cli.UserError("--threads must be at least 1, got " + n);
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new Cli.UserError(out + ": exists and is not a folder");
        }
        Files.createDirectories(out);
        checkPlan(plan);
        Path dir = out.toAbsolutePath().normalize();
        String d = dir.toString();
        String threadsArg = Integer.toString(n);
        DemoStages stages = new DemoStages(dir, plan.expectedSeconds());
        long t0 = System.nanoTime();

        String data = d + "/data";
        String held = Long.toString(plan.heldoutTokens());

        stage(stages, "prepare", "prepare the bundled web/code/math sample", List.of("data"), List.of("data"),
                List.of(mixture), true, List.of(new Cmd("logs/prepare.txt", "prepare", "--config", mixture.toString(),
                        "--out", data)));

        List<String> pretrain = new ArrayList<>(List.of("train", swigluRecipe.toString(), "--set", "output=" + d
                + "/swiglu", "--set", "data.prepared=" + data, "--resume"));
        if (plan.modelConfig() != null) {
            pretrain.addAll(List.of("--set", "model.config=" + modelConfig(cfg, plan)));
        }
        plan.swigluSets().forEach(s -> pretrain.addAll(List.of("--set", s)));
        stage(stages, "pretrain", "pretrain a small SwiGLU Mistral from random weights", List.of("swiglu"),
                List.of("swiglu/final", "swiglu/metrics.jsonl"), List.of(swigluRecipe, modelConfig(cfg, plan)), true,
                List.of(new Cmd("logs/pretrain.txt", pretrain)));

        List<String> cont = new ArrayList<>(List.of("train", dreluRecipe.toString(), "--set", "output=" + d + "/drelu",
                "--set", "data.prepared=" + data, "--set", "model.base=" + d + "/swiglu/final", "--resume"));
        plan.dreluSets().forEach(s -> cont.addAll(List.of("--set", s)));
        stage(stages, "continue", "continue it with dReLU in place of SwiGLU", List.of("drelu"),
                List.of("drelu/final", "drelu/metrics.jsonl"), List.of(dreluRecipe), true,
                List.of(new Cmd("logs/continue.txt", cont)));

        List<Cmd> profile = new ArrayList<>();
        for (String m : List.of("swiglu", "drelu")) {
            List<String> args = new ArrayList<>(List.of("sparsity", "--model", d + "/" + m + "/final", "--data", data,
                    "--max-tokens", held, "--curve", plan.curve(), "--format", "json"));
            if (m.equals("drelu")) {
                args.addAll(List.of("--frequencies", d + "/profile/drelu.frequencies.safetensors"));
            }
            profile.add(new Cmd("profile/" + m + ".sparsity.json", args));
        }
        stage(stages, "profile", "profile the FFN sparsity of both on held-out data", List.of("profile"),
                List.of("profile"), List.of(), false, profile);

        List<Cmd> eval = new ArrayList<>();
        for (String m : List.of("swiglu", "drelu")) {
            eval.add(new Cmd("logs/eval-" + m + ".txt", "eval", "--model", d + "/" + m + "/final", "--data", data,
                    "--max-tokens", held, "--out", d + "/eval/" + m + ".results.json"));
        }
        stage(stages, "eval", "measure the held-out loss of both per domain", List.of("eval"), List.of("eval"),
                List.of(), false, eval);

        List<String> predictors = new ArrayList<>(List.of("predictors", "--model", d + "/drelu/final", "--data",
                data, "--threads", threadsArg, "--out", d + "/drelu-predictors", "--force"));
        predictors.addAll(plan.predictorArgs());
        stage(stages, "predictors", "train the dReLU model's activation predictors", List.of("drelu-predictors"),
                List.of("drelu-predictors"), List.of(), false, List.of(new Cmd("logs/predictors.txt", predictors)));

        stage(stages, "export", "export GGUF files (the dReLU model sparse, neurons hot-first; the base dense)",
                List.of("gguf"), List.of("gguf"), List.of(), false, List.of(
                        new Cmd("logs/export-drelu.txt", "export", "--model", d + "/drelu-predictors", "--format",
                                "gguf", "--sparse", "--dtype", "f16", "--reorder",
                                d + "/profile/drelu.frequencies.safetensors", "--out", d + "/gguf/drelu.sparse.gguf"),
                        new Cmd("logs/export-swiglu.txt", "export", "--model", d + "/swiglu/final", "--format", "gguf",
                                "--dtype", "f16", "--out", d + "/gguf/swiglu.gguf")));

        List<Cmd> decode = new ArrayList<>();
        for (String mode : DemoReport.MODES) {
            decode.add(new Cmd("decode/" + mode + ".txt", "generate", "--model", d + "/gguf/drelu.sparse.gguf",
                    "--tokenizer", d + "/drelu/final", "--engine", "runtime", "--mode", mode, "--chat", "off",
                    "--threads", threadsArg, "--max-tokens", Integer.toString(plan.generateTokens()),
                    "--temperature", "0.8", "--top-k", "40", "--seed", "1", "--prompt", PROMPT));
        }
        stage(stages, "decode", "decode a prompt with the runtime in dense, exact and predicted modes",
                List.of("decode"), List.of("decode"), List.of(), false, decode);

        List<String> common = List.of("--format", "json", "--threads", threadsArg, "--tokens",
                Integer.toString(plan.benchTokens()), "--warmup", Integer.toString(plan.benchWarmup()), "--rounds",
                Integer.toString(plan.benchRounds()), "--warmup-seconds", Double.toString(plan.benchWarmupSeconds()),
                "--bandwidth-mb", "512");
        List<String> benchDrelu = new ArrayList<>(List.of("bench", "runtime", "--model", d + "/gguf/drelu.sparse.gguf"));
        benchDrelu.addAll(common);
        List<String> benchBase = new ArrayList<>(List.of("bench", "runtime", "--model", d + "/gguf/swiglu.gguf",
                "--modes", "dense"));
        benchBase.addAll(common);
        stage(stages, "bench", "benchmark decoding: dense, exact and predicted against the base", List.of("bench"),
                List.of("bench"), List.of(), false,
                List.of(new Cmd("bench/drelu.json", benchDrelu), new Cmd("bench/swiglu.json", benchBase)));

        stages.run("report", "write the report", List.of("report.html", "report.json", "plots"),
                List.of("report.html", "report.json"), List.of(), "report " + DemoReport.VERSION, false,
                () -> DemoReport.write(dir, plan, stages.outcomes()));

        double seconds = (System.nanoTime() - t0) / 1e9;
        JsonNode report = JsonMapper.builder().build().readTree(dir.resolve("report.json").toFile());
        PrintStream o = Output.stdout();
        long skipped = stages.outcomes().stream().filter(DemoStages.Outcome::skipped).count();
        o.printf(Locale.ROOT, "demo (%s) finished in %s%s%n", plan.name(), DemoStages.clock(seconds),
                skipped == 0 ? "" : " (" + skipped + " of " + stages.outcomes().size() + " stages were complete)");
        for (JsonNode c : report.path("checks")) {
            o.printf(Locale.ROOT, "  %s %s%n", c.path("met").asBoolean() ? "[met]    " : "[not met]",
                    c.path("statement").asText());
        }
        o.println("report: " + dir.resolve("report.html") + " (numbers in " + dir.resolve("report.json") + ")");
        o.flush();
        return 0;
    }

    /** A turbosparse command line of a stage, and the file of the demo's folder its result goes to. */
    record Cmd(String resultFile, List<String> args) {
        Cmd(String resultFile, String... args) {
            this(resultFile, List.of(args));
        }
    }

    /**
     * A stage that runs turbosparse commands in this process, one after the other. The command lines are part of
     * the stage's inputs, with the demo's folder written as DIR (so that a moved folder is still complete).
     */
    private void stage(DemoStages stages, String name, String what, List<String> owned, List<String> outputs,
            List<Path> configs, boolean resumable, List<Cmd> commands) throws Exception {
        String d = out.toAbsolutePath().normalize().toString();
        StringBuilder how = new StringBuilder();
        for (Cmd c : commands) {
            how.append(c.resultFile()).append(" <- turbosparse");
            c.args().forEach(a -> how.append(' ').append(a.replace(d, "DIR")));
            how.append('\n');
        }
        stages.run(name, what, owned, outputs, configs, how.toString(), resumable, () -> {
            for (Cmd c : commands) {
                command(name, c);
            }
        });
    }

    /** Runs a turbosparse command in this process; its result goes to a file of the demo's folder. */
    private void command(String stage, Cmd cmd) throws Exception {
        String[] args = cmd.args().toArray(String[]::new);
        LOG.debug("demo stage {}: turbosparse {}", stage, String.join(" ", args));
        Output.Captured c = Output.capture(() -> Turbosparse.run(args));
        if (c.exitCode() == 0) {
            Path target = out.toAbsolutePath().resolve(cmd.resultFile());
            Files.createDirectories(target.getParent());
            AtomicFiles.write(target, c.stdout());
        } else {
            throw new Cli.UserError("stage '" + stage + "' failed (`turbosparse " + args[0] + "`, its reason above);"
                    + " run the demo again to continue from this stage");
        }
    }

    /** DIR/demo.json says which plan made the folder; another plan's folder is refused rather than mixed. */
    private void checkPlan(Plan plan) throws Exception {
        Path file = out.resolve("demo.json");
        JsonMapper json = JsonMapper.builder().build();
        if (Files.isRegularFile(file)) {
            String was = json.readTree(file.toFile()).path("plan").asText();
            if (!was.equals(plan.name())) {
                throw new Cli.UserError(out + ": holds a " + was + " demo" + (was.equals("quick") ? " (--quick)" : "")
                        + "; give another --out, or remove it to start over");
            }
            return;
        }
        try (var s = Files.list(out)) {
            if (s.findAny().isPresent()) {
                throw new Cli.UserError(out + ": is not empty and holds no demo; give an empty or new folder");
            }
        }
        ObjectNode o = json.createObjectNode();
        o.put("plan", plan.name());
        AtomicFiles.write(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(o)
                .getBytes(StandardCharsets.UTF_8));
    }

    private Path configsFolder() {
        if (configs != null) {
            if (!Files.isDirectory(configs)) {
                throw new Cli.UserError("--configs " + configs + ": not a folder");
            }
            return configs.toAbsolutePath().normalize();
        }
        String home = System.getProperty("turbosparse.home");
        Path guess = home != null ? Path.of(home, "configs") : Path.of("configs");
        if (!Files.isRegularFile(guess.resolve("demo-swiglu.yaml"))) {
            throw new Cli.UserError("cannot find the demo's recipes (" + guess.toAbsolutePath().resolve("demo-swiglu.yaml")
                    + "); run bin/turbosparse from the repository, or give --configs DIR");
        }
        return guess.toAbsolutePath().normalize();
    }

    /** The base's config.json: the plan's, else the recipe's (configs/models/demo-mistral-swiglu.json). */
    private static Path modelConfig(Path cfg, Plan plan) {
        return need(cfg.resolve(plan.modelConfig() != null ? plan.modelConfig() : "models/demo-mistral-swiglu.json"));
    }

    private static Path need(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Cli.UserError(file + ": not found (the demo's configs folder is incomplete)");
        }
        return file;
    }
}

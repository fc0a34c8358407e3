package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.DomainRows;
import dev.turbosparse.eval.tasks.EvalResults;
import dev.turbosparse.eval.tasks.TaskRunner;
import dev.turbosparse.eval.tasks.Tasks;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.LmLoss;
import dev.turbosparse.model.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse eval}: held-out perplexity per domain and benchmark scores, written as lm-eval-shaped
 * {@code results.json}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Score a model: held-out perplexity per domain (--data) and benchmark tasks as"
            + " lm-evaluation-harness defines them (--task NAME=PATH, reading the dataset's published files).",
            "Tasks: arc_challenge, arc_easy, hellaswag, mmlu, truthfulqa_mc1, truthfulqa_mc2, winogrande, gsm8k, piqa,"
                + " sciq, openbookqa. Shots default to the Turbo Sparse paper's (ARC-C 25, HellaSwag 10, MMLU 5,"
                + " Winogrande 5, GSM8K 8, others 0).",
            "Writes results.json in lm-eval's shape to --out and prints a summary."})
final class EvalCommand implements Callable<Integer> {

    private static final org.apache.logging.log4j.Logger LOG =
            org.apache.logging.log4j.LogManager.getLogger(EvalCommand.class);

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face checkpoint folder, or a GGUF file (then give --tokenizer).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "tokenizer.json or its folder (default: the model folder's).")
    Path tokenizer;

    @Option(names = "--task", paramLabel = "NAME=PATH",
            description = "A task and the folder (or file) of its dataset as published, e.g."
                + " arc_challenge=ARC-V1-Feb2018-2/ARC-Challenge. Repeatable.")
    List<String> tasks = new ArrayList<>();

    @Option(names = "--shots", paramLabel = "N",
            description = "Few-shot examples for every task (default: each task's paper setting).")
    Integer shots;

    @Option(names = "--limit", defaultValue = "0", paramLabel = "N",
            description = "Evaluate the first N examples of each (sub)task only; 0 for all (default).")
    int limit;

    @Option(names = "--seed", defaultValue = "1234", paramLabel = "S",
            description = "Few-shot sampling seed (default: ${DEFAULT-VALUE}, lm-eval's).")
    long seed;

    @Option(names = "--batch", defaultValue = "8", paramLabel = "N",
            description = "Sequences per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--data", paramLabel = "URI",
            description = "Prepared data (any Hadoop FS URI): held-out loss and perplexity per source.")
    String data;

    @Option(names = "--sources", split = ",", paramLabel = "NAMES",
            description = "With --data: the sources to evaluate (default: all).")
    List<String> sources = List.of();

    @Option(names = "--max-tokens", defaultValue = "65536", paramLabel = "N",
            description = "With --data: held-out tokens per source (default: ${DEFAULT-VALUE}).")
    long maxTokens;

    @Option(names = "--out", required = true, paramLabel = "FILE",
            description = "Where to write results.json.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (batch < 1 || limit < 0 || (shots != null && shots < 0) || seed < 0) {
            throw new Cli.UserError("--batch must be at least 1 and --limit, --shots and --seed not negative");
        }
        if (tasks.isEmpty() && data == null) {
            throw new Cli.UserError("nothing to evaluate: give --task NAME=PATH and/or --data URI");
        }
        Models.ModelPath source = Models.resolve(model);
        ModelConfig config = source.config();
        Path tokenizerPath = tokenizer != null ? tokenizer : source.gguf() ? null : source.path();
        if (tokenizerPath == null) {
            throw new Cli.UserError(model + ": a GGUF model; give --tokenizer (the model's tokenizer.json)");
        }
        // every input is read and checked before the model loads
        Map<Tasks.Task, List<Tasks.Subtask>> read = new LinkedHashMap<>();
        Map<Tasks.Task, Integer> taskShots = new LinkedHashMap<>();
        for (String spec : tasks) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new Cli.UserError("--task: expected NAME=PATH, got '" + spec + "'");
            }
            Tasks.Task task;
            try {
                task = Tasks.byName(spec.substring(0, eq));
            } catch (IllegalArgumentException e) {
                throw new Cli.UserError("--task: " + e.getMessage());
            }
            int n = shots != null && task.hasFewshotSplit() ? shots : task.paperShots();
            if (shots != null && !task.hasFewshotSplit() && shots > 0) {
                LOG.warn("{} has no few-shot split and is evaluated 0-shot, as lm-eval does", task.name());
            }
            read.put(task, task.reader().read(Path.of(spec.substring(eq + 1)), n > 0));
            taskShots.put(task, n);
        }
        try (Tokenizer tok = Tokenizer.load(tokenizerPath)) {
            if (tok.vocabSize() > config.vocabSize()) {
                throw new Cli.UserError(tok.file() + ": the tokenizer has " + tok.vocabSize() + " tokens, but "
                        + source.path() + " has vocab_size " + config.vocabSize() + "; they do not belong together");
            }
            List<DomainRows.Domain> domains = data == null ? List.of()
                    : DomainRows.heldout(data, sources, maxTokens, tok.file(), config.vocabSize(), Fs.configuration());
            TaskRunner.Options options = new TaskRunner.Options(0, limit, seed, batch);
            EvalResults results = new EvalResults(source.path().toString(), options);
            StringBuilder summary = new StringBuilder();
            try (NDManager manager = NDManager.newBaseManager(); CausalLM lm = source.load(manager)) {
                for (DomainRows.Domain d : domains) {
                    double loss;
                    try (Progress bar = Progress.count("perplexity " + d.name(), d.rows(), "sequences")) {
                        loss = LmLoss.meanOverRows(lm, new ParameterStore(manager, false), d.tokens(), d.rows(),
                                d.width(), batch, null);
                        bar.stepTo(d.rows());
                    }
                    long tokens = (long) d.rows() * (d.width() - 1);
                    results.addPerplexity(d.name(), loss, tokens);
                    summary.append(String.format(Locale.ROOT, "%-28s loss %.4f  perplexity %.2f  (%,d tokens)%n",
                            "held-out " + d.name(), loss, Math.exp(loss), tokens));
                }
                for (var e : read.entrySet()) {
                    Tasks.Task task = e.getKey();
                    TaskRunner.Options o = new TaskRunner.Options(taskShots.get(task), limit, seed, batch);
                    List<TaskRunner.SubtaskResult> done = new ArrayList<>();
                    long work = e.getValue().stream().mapToLong(s -> TaskRunner.work(task, s, o)).sum();
                    try (Progress bar = Progress.count(task.name() + " (" + o.shots() + "-shot)", work,
                            task.kind() == Tasks.Kind.GENERATE ? "examples" : "requests")) {
                        long before = 0;
                        for (Tasks.Subtask s : e.getValue()) {
                            long offset = before;
                            done.add(TaskRunner.run(lm, tok, task, s, o, n -> bar.stepTo(offset + n)));
                            before += TaskRunner.work(task, s, o);
                        }
                    }
                    results.add(new EvalResults.TaskOutcome(task, o.shots(), done,
                            e.getValue().stream().map(s -> s.docs().size()).toList()));
                    var r = results.json().get("results").get(task.name());
                    r.properties().forEach(m -> {
                        if (m.getValue().isNumber() && !m.getKey().contains("_stderr")) {
                            var se = r.get(m.getKey().replaceFirst(",", "_stderr,"));
                            summary.append(String.format(Locale.ROOT, "%-28s %-28s %.4f ± %s%n", task.name(),
                                    m.getKey(), m.getValue().asDouble(), se == null || !se.isNumber() ? "N/A"
                                            : String.format(Locale.ROOT, "%.4f", se.asDouble())));
                        }
                    });
                }
            }
            if (out.toAbsolutePath().getParent() != null) {
                Files.createDirectories(out.toAbsolutePath().getParent());
            }
            AtomicFiles.write(out, (JsonMapper.builder().build().writerWithDefaultPrettyPrinter()
                    .writeValueAsString(results.json()) + "\n").getBytes(StandardCharsets.UTF_8));
            java.io.PrintStream o = Output.stdout();
            o.print(summary);
            o.println("results: " + out);
            o.flush();
        }
        return 0;
    }
}

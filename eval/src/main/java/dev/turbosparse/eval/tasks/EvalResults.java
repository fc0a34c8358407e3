package dev.turbosparse.eval.tasks;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Map;

/**
 * {@code results.json} in lm-evaluation-harness's shape: {@code results} per task (and group) with keys
 * {@code "<metric>,<filter>"} and {@code "<metric>_stderr,<filter>"} ({@code "N/A"} where a stderr is undefined),
 * {@code groups} and {@code group_subtasks} for MMLU, {@code configs}, {@code versions}, {@code n-shot},
 * {@code higher_is_better}, {@code n-samples} and {@code config}. Held-out perplexity per domain, which lm-eval
 * computes differently (rolling windows over documents), goes in its own {@code perplexity} object.
 */
public final class EvalResults {

    /** lm-eval's task versions (the YAML's {@code metadata.version}) of the definitions followed here. */
    private static final Map<String, Double> VERSIONS = Map.ofEntries(Map.entry("arc_challenge", 1.0),
            Map.entry("arc_easy", 1.0), Map.entry("hellaswag", 1.0), Map.entry("mmlu", 2.0),
            Map.entry("truthfulqa_mc1", 2.0), Map.entry("truthfulqa_mc2", 3.0), Map.entry("winogrande", 1.0),
            Map.entry("gsm8k", 3.0), Map.entry("piqa", 1.0), Map.entry("sciq", 1.0), Map.entry("openbookqa", 1.0));

    /** The outcome of one task: its subtasks' results and the examples each had before --limit. */
    public record TaskOutcome(Tasks.Task task, int shots, List<TaskRunner.SubtaskResult> subtasks, List<Integer> original) {}

    private final ObjectNode root;

    public EvalResults(String model, TaskRunner.Options options) {
        root = JsonMapper.builder().build().createObjectNode();
        root.putObject("results");
        root.putObject("groups");
        root.putObject("group_subtasks");
        root.putObject("configs");
        root.putObject("versions");
        root.putObject("n-shot");
        root.putObject("higher_is_better");
        root.putObject("n-samples");
        ObjectNode config = root.putObject("config");
        config.put("model", "turbosparse");
        config.put("model_args", "pretrained=" + model);
        config.put("batch_size", options.batch());
        if (options.limit() > 0) {
            config.put("limit", options.limit());
        } else {
            config.putNull("limit");
        }
        config.put("bootstrap_iters", 0);
        config.put("fewshot_seed", options.seed());
        config.put("dtype", "float32");
    }

    /** Adds a task's results (and, for MMLU, the group: size-weighted mean, pooled stderr). */
    public void add(TaskOutcome o) {
        ObjectNode results = (ObjectNode) root.get("results");
        for (int i = 0; i < o.subtasks().size(); i++) {
            TaskRunner.SubtaskResult s = o.subtasks().get(i);
            String name = o.subtasks().size() > 1 ? s.name() : o.task().name();
            ObjectNode r = results.putObject(name);
            r.put("alias", o.subtasks().size() > 1 ? " - " + s.name().replaceFirst("^mmlu_", "") : name);
            s.scores().forEach((key, score) -> put(r, key, score));
            meta(name, o, s.n(), o.original().get(i));
        }
        if (o.subtasks().size() > 1) {
            ObjectNode g = ((ObjectNode) root.get("groups")).putObject(o.task().name());
            g.put("alias", o.task().name());
            int[] sizes = o.subtasks().stream().mapToInt(TaskRunner.SubtaskResult::n).toArray();
            for (String key : o.subtasks().getFirst().scores().keySet()) {
                double[] values = o.subtasks().stream().mapToDouble(s -> s.scores().get(key).value()).toArray();
                double[] stderrs = o.subtasks().stream().mapToDouble(s -> s.scores().get(key).stderr()).toArray();
                double weighted = 0;
                int total = 0;
                for (int i = 0; i < values.length; i++) {
                    weighted += values[i] * sizes[i];
                    total += sizes[i];
                }
                put(g, key, new TaskRunner.Score(weighted / total, Metrics.pooledStderr(stderrs, sizes), total));
            }
            ((ObjectNode) root.get("results")).set(o.task().name(), g.deepCopy());
            var list = ((ObjectNode) root.get("group_subtasks")).putArray(o.task().name());
            o.subtasks().forEach(s -> list.add(s.name()));
            ((ObjectNode) root.get("n-shot")).put(o.task().name(), o.shots());
        }
    }

    private void meta(String name, TaskOutcome o, int effective, int original) {
        ObjectNode cfg = ((ObjectNode) root.get("configs")).putObject(name);
        cfg.put("task", name);
        cfg.put("output_type", o.task().kind() == Tasks.Kind.GENERATE ? "generate_until" : "multiple_choice");
        cfg.put("num_fewshot", o.shots());
        cfg.put("fewshot_sampler", o.task().firstNFewshot() ? "first_n" : "default");
        cfg.put("target_delimiter", TaskRunner.TARGET_DELIMITER);
        cfg.put("fewshot_delimiter", TaskRunner.FEWSHOT_DELIMITER);
        cfg.put("dataset_files", o.task().layout());
        ((ObjectNode) root.get("versions")).put(name, VERSIONS.getOrDefault(o.task().name(), 1.0));
        ((ObjectNode) root.get("n-shot")).put(name, o.shots());
        ObjectNode hib = ((ObjectNode) root.get("higher_is_better")).putObject(name);
        o.subtasks().getFirst().scores().keySet().forEach(k -> hib.put(k.substring(0, k.indexOf(',')), true));
        ObjectNode n = ((ObjectNode) root.get("n-samples")).putObject(name);
        n.put("original", original);
        n.put("effective", effective);
    }

    private static void put(ObjectNode r, String key, TaskRunner.Score s) {
        int comma = key.indexOf(',');
        r.put(key, s.value());
        String stderrKey = key.substring(0, comma) + "_stderr" + key.substring(comma);
        if (Double.isNaN(s.stderr())) {
            r.put(stderrKey, "N/A");
        } else {
            r.put(stderrKey, s.stderr());
        }
    }

    /** Adds the held-out loss and perplexity of a domain. */
    public void addPerplexity(String domain, double meanLoss, long tokens) {
        ObjectNode p = root.has("perplexity") ? (ObjectNode) root.get("perplexity") : root.putObject("perplexity");
        ObjectNode d = p.putObject(domain);
        d.put("loss", meanLoss);
        d.put("perplexity", Math.exp(meanLoss));
        d.put("tokens", tokens);
    }

    public ObjectNode json() {
        return root;
    }
}

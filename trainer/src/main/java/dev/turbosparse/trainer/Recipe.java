package dev.turbosparse.trainer;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A training recipe (YAML in {@code configs/}): the model to start from, the activation to swap in, the data mixture,
 * and the optimisation settings. Read strictly: an unknown key, a wrong type or an impossible value is refused with
 * its key path. {@code --set a.b=c} overrides are applied before checking. Relative paths are taken from the
 * recipe's folder.
 */
@JsonPropertyOrder({"name", "model", "data", "seq_len", "micro_batch", "grad_accumulation", "steps", "tokens",
    "optimizer", "schedule", "grad_clip", "seed", "precision", "threads", "devices", "checkpoint", "eval",
    "sparsity_every", "max_bad_steps", "output"})
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Recipe(
        @JsonProperty("name") String name,
        @JsonProperty(value = "model", required = true) Model model,
        @JsonProperty(value = "data", required = true) Data data,
        @JsonProperty(value = "seq_len", required = true) int seqLen,
        @JsonProperty(value = "micro_batch", required = true) int microBatch,
        @JsonProperty("grad_accumulation") Integer gradAccumulation,
        @JsonProperty("steps") Long steps,
        @JsonProperty("tokens") Double tokens,
        @JsonProperty(value = "optimizer", required = true) Optimizer optimizer,
        @JsonProperty("schedule") Schedule schedule,
        @JsonProperty("grad_clip") Double gradClip,
        @JsonProperty("seed") Long seed,
        @JsonProperty("precision") String precision,
        @JsonProperty("threads") Integer threads,
        @JsonProperty("devices") List<String> devices,
        @JsonProperty("checkpoint") Checkpoint checkpoint,
        @JsonProperty("eval") Eval eval,
        @JsonProperty("sparsity_every") Integer sparsityEvery,
        @JsonProperty("max_bad_steps") Integer maxBadSteps,
        @JsonProperty(value = "output", required = true) String output) {

    /**
     * Where the weights come from: an HF checkpoint ({@code base}, any Hadoop FS URI), or {@code init: random} with
     * a config.json and a tokenizer; the FFN activation to swap in, if any; for Mixtral, the weight of the router
     * load-balancing loss (the config's {@code router_aux_loss_coef} when absent).
     */
    @JsonPropertyOrder({"base", "init", "config", "tokenizer", "activation", "router_aux_loss_coef"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Model(@JsonProperty("base") String base, @JsonProperty("init") String init,
            @JsonProperty("config") String config, @JsonProperty("tokenizer") String tokenizer,
            @JsonProperty("activation") String activation,
            @JsonProperty("router_aux_loss_coef") Double routerAuxLossCoef) {}

    /**
     * The data: a mixture definition ({@code configs/mixtures/*.yaml}; its sources are prepared first unless they
     * are ready), or the URI of sources prepared before (then {@code weights} are needed); optional overrides of the
     * weights, the temperature and the held-out share.
     */
    @JsonPropertyOrder({"mixture", "prepared", "weights", "temperature", "heldout", "prepare"})
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Data(@JsonProperty("mixture") String mixture, @JsonProperty("prepared") String prepared,
            @JsonProperty("weights") Map<String, Double> weights, @JsonProperty("temperature") Double temperature,
            @JsonProperty("heldout") Double heldout, @JsonProperty("prepare") Boolean prepare) {}

    /** AdamW: decoupled weight decay, none on norm weights. */
    @JsonPropertyOrder({"lr", "betas", "eps", "weight_decay"})
    public record Optimizer(@JsonProperty(value = "lr", required = true) double lr,
            @JsonProperty("betas") List<Double> betas, @JsonProperty("eps") Double eps,
            @JsonProperty("weight_decay") Double weightDecay) {}

    /** The learning-rate schedule: linear warmup, then cosine down to {@code min_lr}, or constant. */
    @JsonPropertyOrder({"kind", "warmup_steps", "min_lr"})
    public record Schedule(@JsonProperty("kind") String kind, @JsonProperty("warmup_steps") Long warmupSteps,
            @JsonProperty("min_lr") Double minLr) {}

    @JsonPropertyOrder({"every", "keep"})
    public record Checkpoint(@JsonProperty("every") Long every, @JsonProperty("keep") Integer keep) {}

    /** Held-out loss per domain every {@code every} steps, over {@code sequences} sequences of each. */
    @JsonPropertyOrder({"every", "sequences"})
    public record Eval(@JsonProperty("every") Long every, @JsonProperty("sequences") Integer sequences) {}

    static final YAMLMapper YAML = YAMLMapper.builder()
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .build();

    // ---- resolved values with defaults ----

    public int accumulation() {
        return gradAccumulation == null ? 1 : gradAccumulation;
    }

    public long seedValue() {
        return seed == null ? 0 : seed;
    }

    public double clip() {
        return gradClip == null ? 1.0 : gradClip;
    }

    public int threadCount() {
        return threads == null ? Runtime.getRuntime().availableProcessors() : threads;
    }

    public List<String> deviceNames() {
        return devices == null || devices.isEmpty() ? List.of("cpu") : devices;
    }

    public long checkpointEvery() {
        return checkpoint == null || checkpoint.every() == null ? 0 : checkpoint.every();
    }

    public int checkpointKeep() {
        return checkpoint == null || checkpoint.keep() == null ? 2 : checkpoint.keep();
    }

    public long evalEvery() {
        return eval == null || eval.every() == null ? 0 : eval.every();
    }

    public int evalSequences() {
        return eval == null || eval.sequences() == null ? 16 : eval.sequences();
    }

    public int sparsityInterval() {
        return sparsityEvery == null ? 0 : sparsityEvery;
    }

    public int badStepLimit() {
        return maxBadSteps == null ? 5 : maxBadSteps;
    }

    public double beta1() {
        return optimizer.betas() == null ? 0.9 : optimizer.betas().get(0);
    }

    public double beta2() {
        return optimizer.betas() == null ? 0.95 : optimizer.betas().get(1);
    }

    public double eps() {
        return optimizer.eps() == null ? 1e-8 : optimizer.eps();
    }

    public double weightDecay() {
        return optimizer.weightDecay() == null ? 0.0 : optimizer.weightDecay();
    }

    public String scheduleKind() {
        return schedule == null || schedule.kind() == null ? "constant" : schedule.kind();
    }

    public long warmupSteps() {
        return schedule == null || schedule.warmupSteps() == null ? 0 : schedule.warmupSteps();
    }

    public double minLr() {
        return schedule == null || schedule.minLr() == null ? optimizer.lr() : schedule.minLr();
    }

    /** Sequences one optimiser step trains on: micro_batch per device x devices x grad_accumulation. */
    public long sequencesPerStep() {
        return (long) microBatch * deviceNames().size() * accumulation();
    }

    /**
     * Tokens one optimiser step trains on: sequences per step x seq_len (each packed sequence holds seq_len + 1
     * tokens: the inputs and, shifted by one, the targets).
     */
    public long tokensPerStep() {
        return sequencesPerStep() * seqLen;
    }

    /** Whether the data's sources are prepared (or checked to be) before training. */
    public boolean prepareData() {
        return data.mixture() != null && (data.prepare() == null || data.prepare());
    }

    /** Optimiser steps of the run: {@code steps}, or the token budget over the tokens per step. */
    public long totalSteps() {
        return steps != null ? steps : (long) Math.ceil(tokens / tokensPerStep());
    }

    public FfnActivation swapTo() {
        return model.activation() == null ? null : FfnActivation.byName(model.activation());
    }

    // ---- reading ----

    /**
     * Reads a recipe, applies {@code key.path=value} overrides, and checks it.
     *
     * @throws InputException naming the file and the key path of the first problem
     */
    public static Recipe read(Path file, List<String> overrides) {
        JsonNode tree;
        try {
            tree = YAML.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new InputException(file + ": not found");
        } catch (JacksonException e) {
            throw new InputException(file + ": not valid YAML: " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new InputException(file + ": cannot read: " + e.getMessage());
        }
        if (!(tree instanceof ObjectNode root)) {
            throw new InputException(file + ": a recipe is a mapping of keys to values");
        }
        for (String o : overrides == null ? List.<String>of() : overrides) {
            set(file, root, o);
        }
        Recipe r;
        try {
            r = YAML.treeToValue(root, Recipe.class);
        } catch (JsonMappingException e) {
            String path = e.getPath().stream().map(x -> x.getFieldName() != null ? x.getFieldName() : "[" + x.getIndex() + "]")
                    .collect(Collectors.joining("."));
            String msg = firstLine(e.getOriginalMessage());
            if (msg.startsWith("Unrecognized field")) {
                msg = "unknown key";
            } else if (msg.startsWith("Missing required creator property")) {
                int a = msg.indexOf('\'');
                String key = msg.substring(a + 1, msg.indexOf('\'', a + 1));
                if (!path.equals(key) && !path.endsWith("." + key)) {
                    path = (path.isEmpty() ? "" : path + ".") + key;
                }
                msg = "is required";
            }
            throw new InputException(file + ": key '" + path.replace(".[", "[") + "': " + msg);
        } catch (JacksonException e) {
            throw new InputException(file + ": " + firstLine(e.getOriginalMessage()));
        }
        r = r.resolvePaths(file.toAbsolutePath().getParent());
        r.check(file);
        return r;
    }

    /** Keys whose values are paths or URIs. */
    static final java.util.Set<String> PATH_KEYS = java.util.Set.of("model.base", "model.config", "model.tokenizer",
            "data.mixture", "data.prepared", "output");

    /** Applies {@code a.b.c=value} to the tree; the value is read as YAML ({@code 3e-4}, {@code true}, {@code [1, 2]}). */
    static void set(Path file, ObjectNode root, String assignment) {
        int eq = assignment.indexOf('=');
        if (eq <= 0) {
            throw new InputException("--set '" + assignment + "': expected key.path=value");
        }
        String[] keys = assignment.substring(0, eq).trim().split("\\.");
        JsonNode value;
        try {
            value = YAML.readTree(assignment.substring(eq + 1));
        } catch (JacksonException e) {
            throw new InputException("--set '" + assignment + "': the value is not valid YAML");
        }
        if (value == null || value.isMissingNode()) {
            value = YAML.getNodeFactory().nullNode();
        }
        String key = String.join(".", keys);
        if (PATH_KEYS.contains(key) && value.isTextual()) {
            // a path on the command line is relative to where the command runs, not to the recipe
            value = YAML.getNodeFactory().textNode(resolve(Path.of("").toAbsolutePath(), value.asText()));
        }
        ObjectNode node = root;
        for (int i = 0; i < keys.length - 1; i++) {
            JsonNode child = node.get(keys[i]);
            if (child == null || child.isNull()) {
                child = node.putObject(keys[i]);
            }
            if (!(child instanceof ObjectNode o)) {
                throw new InputException("--set '" + assignment + "': key '" + String.join(".", java.util.Arrays.copyOf(keys, i + 1))
                        + "' is not a mapping in " + file);
            }
            node = o;
        }
        node.set(keys[keys.length - 1], value);
    }

    private Recipe resolvePaths(Path base) {
        Model m = new Model(resolve(base, model.base()), model.init(), resolve(base, model.config()),
                resolve(base, model.tokenizer()), model.activation(), model.routerAuxLossCoef());
        Data d = new Data(resolve(base, data.mixture()), resolve(base, data.prepared()), data.weights(),
                data.temperature(), data.heldout(), data.prepare());
        return new Recipe(name, m, d, seqLen, microBatch, gradAccumulation, steps, tokens, optimizer, schedule,
                gradClip, seed, precision, threads, devices, checkpoint, eval, sparsityEvery, maxBadSteps,
                resolve(base, output));
    }

    static String resolve(Path base, String p) {
        if (p == null || p.contains("://") || Path.of(p).isAbsolute()) {
            return p;
        }
        return base.resolve(p).normalize().toString();
    }

    /** Impossible values, refused with their key path. */
    void check(Path file) {
        String f = file + ": ";
        if (model.base() == null && model.init() == null) {
            throw new InputException(f + "key 'model': give 'base' (an HF checkpoint) or 'init: random' with 'config'");
        }
        if (model.base() != null && model.init() != null) {
            throw new InputException(f + "key 'model': 'base' and 'init' exclude each other");
        }
        if (model.init() != null) {
            if (!"random".equals(model.init())) {
                throw new InputException(f + "key 'model.init': the only initialisation is 'random', got '" + model.init() + "'");
            }
            if (model.config() == null || model.tokenizer() == null) {
                throw new InputException(f + "key 'model': 'init: random' needs 'config' (a config.json) and 'tokenizer'");
            }
        } else if (model.config() != null) {
            throw new InputException(f + "key 'model.config': only with 'init: random' (a base checkpoint has its own)");
        }
        if (model.activation() != null) {
            try {
                FfnActivation.byName(model.activation());
            } catch (IllegalArgumentException e) {
                throw new InputException(f + "key 'model.activation': " + e.getMessage());
            }
        }
        if ((data.mixture() == null) == (data.prepared() == null)) {
            throw new InputException(f + "key 'data': give 'mixture' (a mixture definition) or 'prepared' (the URI of"
                    + " prepared sources), one of the two");
        }
        if (data.prepared() != null && data.weights() == null) {
            throw new InputException(f + "key 'data.weights': needed with 'data.prepared' (e.g. {web: 0.7, code: 0.2,"
                    + " math: 0.1})");
        }
        if (data.prepared() != null && (data.heldout() != null || data.prepare() != null)) {
            throw new InputException(f + "keys 'data.heldout' and 'data.prepare' go with 'data.mixture': prepared"
                    + " data is used as it is");
        }
        if (data.heldout() != null && !(data.heldout() >= 0 && data.heldout() <= 0.5)) {
            throw new InputException(f + "key 'data.heldout': a share of documents between 0 and 0.5, got " + data.heldout());
        }
        if (model.routerAuxLossCoef() != null && !(model.routerAuxLossCoef() >= 0)) {
            throw new InputException(f + "key 'model.router_aux_loss_coef': must not be negative, got "
                    + model.routerAuxLossCoef());
        }
        positive(f, "seq_len", seqLen);
        positive(f, "micro_batch", microBatch);
        if (gradAccumulation != null) {
            positive(f, "grad_accumulation", gradAccumulation);
        }
        if ((steps == null) == (tokens == null)) {
            throw new InputException(f + "give exactly one of 'steps' and 'tokens' (the training budget)");
        }
        if (steps != null && steps < 1) {
            throw new InputException(f + "key 'steps': must be at least 1, got " + steps);
        }
        if (tokens != null && !(tokens >= tokensPerStep())) {
            throw new InputException(f + "key 'tokens': must be at least one step's " + tokensPerStep() + " tokens, got "
                    + tokens);
        }
        if (!(optimizer.lr() > 0) || Double.isInfinite(optimizer.lr())) {
            throw new InputException(f + "key 'optimizer.lr': must be a positive number, got " + optimizer.lr());
        }
        if (optimizer.betas() != null) {
            if (optimizer.betas().size() != 2) {
                throw new InputException(f + "key 'optimizer.betas': must be [beta1, beta2], got " + optimizer.betas());
            }
            for (int i = 0; i < 2; i++) {
                Double b = optimizer.betas().get(i);
                if (b == null || !(b >= 0 && b < 1)) {
                    throw new InputException(f + "key 'optimizer.betas[" + i + "]': must be in [0, 1), got " + b);
                }
            }
        }
        if (!(eps() > 0)) {
            throw new InputException(f + "key 'optimizer.eps': must be positive, got " + eps());
        }
        if (!(weightDecay() >= 0)) {
            throw new InputException(f + "key 'optimizer.weight_decay': must not be negative, got " + weightDecay());
        }
        String kind = scheduleKind().toLowerCase(Locale.ROOT);
        if (!kind.equals("cosine") && !kind.equals("constant")) {
            throw new InputException(f + "key 'schedule.kind': 'cosine' or 'constant', got '" + scheduleKind() + "'");
        }
        if (warmupSteps() < 0 || warmupSteps() > totalSteps()) {
            throw new InputException(f + "key 'schedule.warmup_steps': must be between 0 and the run's " + totalSteps()
                    + " steps, got " + warmupSteps());
        }
        if (!(minLr() >= 0) || minLr() > optimizer.lr()) {
            throw new InputException(f + "key 'schedule.min_lr': must be between 0 and optimizer.lr (" + optimizer.lr()
                    + "), got " + minLr());
        }
        if (!(clip() > 0)) {
            throw new InputException(f + "key 'grad_clip': must be positive, got " + clip());
        }
        if (precision != null && !precision.equalsIgnoreCase("fp32")) {
            throw new InputException(f + "key 'precision': only 'fp32' trains here (DJL has no autocast and cannot hold"
                    + " bf16 arrays; bf16 checkpoints are upcast on load), got '" + precision + "'");
        }
        if (threads != null) {
            positive(f, "threads", threads);
        }
        for (String d : deviceNames()) {
            if (!d.matches("cpu|gpu(:\\d+)?")) {
                throw new InputException(f + "key 'devices': '" + d + "' is not cpu, gpu or gpu:N");
            }
        }
        if (checkpointEvery() < 0) {
            throw new InputException(f + "key 'checkpoint.every': must not be negative, got " + checkpointEvery());
        }
        if (checkpointKeep() < 1) {
            throw new InputException(f + "key 'checkpoint.keep': must be at least 1, got " + checkpointKeep());
        }
        if (evalEvery() < 0 || evalSequences() < 1) {
            throw new InputException(f + "key 'eval': 'every' must not be negative and 'sequences' must be positive");
        }
        if (sparsityInterval() < 0 || badStepLimit() < 1) {
            throw new InputException(f + "keys 'sparsity_every' (>= 0) and 'max_bad_steps' (>= 1) are out of range");
        }
        if (data.temperature() != null && !(data.temperature() > 0)) {
            throw new InputException(f + "key 'data.temperature': must be positive, got " + data.temperature());
        }
        if (data.weights() != null) {
            data.weights().forEach((k, v) -> {
                if (v == null || !(v > 0) || v.isInfinite()) {
                    throw new InputException(f + "key 'data.weights." + k + "': must be a positive number, got " + v);
                }
            });
        }
    }

    private static void positive(String f, String key, long v) {
        if (v < 1) {
            throw new InputException(f + "key '" + key + "': must be at least 1, got " + v);
        }
    }

    /** The recipe as YAML, every default filled in: what a run saves beside its checkpoints. */
    public String toYaml() {
        try {
            ObjectNode n = YAML.valueToTree(this);
            n.put("grad_accumulation", accumulation());
            n.put("seed", seedValue());
            n.put("grad_clip", clip());
            n.put("precision", "fp32");
            n.put("threads", threadCount());
            ArrayNode dev = n.putArray("devices");
            deviceNames().forEach(dev::add);
            ObjectNode opt = (ObjectNode) n.get("optimizer");
            opt.putArray("betas").add(beta1()).add(beta2());
            opt.put("eps", eps());
            opt.put("weight_decay", weightDecay());
            ObjectNode sched = n.putObject("schedule");
            sched.put("kind", scheduleKind());
            sched.put("warmup_steps", warmupSteps());
            sched.put("min_lr", minLr());
            ObjectNode ck = n.putObject("checkpoint");
            ck.put("every", checkpointEvery());
            ck.put("keep", checkpointKeep());
            ObjectNode ev = n.putObject("eval");
            ev.put("every", evalEvery());
            ev.put("sequences", evalSequences());
            n.put("sparsity_every", sparsityInterval());
            n.put("max_bad_steps", badStepLimit());
            ObjectNode ordered = YAML.createObjectNode(); // the keys in the order a recipe is written
            for (String key : Recipe.class.getAnnotation(JsonPropertyOrder.class).value()) {
                if (n.has(key)) {
                    ordered.set(key, n.get(key));
                }
            }
            return YAML.writeValueAsString(ordered);
        } catch (JacksonException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A recipe saved by {@link #toYaml()} (paths already absolute). */
    public static Recipe parse(String yaml, String source) {
        try {
            Recipe r = YAML.readValue(yaml, Recipe.class);
            r.check(Path.of(source));
            return r;
        } catch (JacksonException e) {
            throw new InputException(source + ": " + firstLine(e.getOriginalMessage()));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

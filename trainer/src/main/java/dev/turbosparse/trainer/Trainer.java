package dev.turbosparse.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.activations.ZeroCounter;
import dev.turbosparse.data.mixture.MixtureSampler;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.MixtralConfig;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.LmLoss;
import dev.turbosparse.model.nn.RouterLoss;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorInfo;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.hadoop.conf.Configuration;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Continued pretraining as a recipe says: the start model (a checkpoint with its FFN activation swapped, or random
 * weights), the mixture stream, AdamW with warmup and cosine decay, gradient accumulation and clipping, held-out
 * loss per domain, FFN sparsity, checkpoints that a killed run resumes from exactly.
 *
 * <p>Each step reads in a fixed order (nanoGPT's): learning rate; micro-steps (forward, loss, backward; the
 * gradients accumulate); the non-finite guard; clipping; the AdamW update; the metrics line; evaluation; checkpoint.
 * Every micro-step has its own NDManager, closed when it ends, so no native memory outlives a step.
 */
public final class Trainer implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(Trainer.class);

    static final String OPTIMIZER_FILE = "optimizer.safetensors";

    /** What a caller shows of a run: preparation, loading, steps. */
    public interface Listener extends Preparer.Listener {
        /** The start model is being loaded: {@code total} parameters. */
        default void loading(long total) {}

        default void loaded(long done) {}

        /** Training starts (or resumes) after {@code fromStep} of {@code totalSteps} steps. */
        default void started(long fromStep, long totalSteps) {}

        /** A step ended; {@code metrics} is its line of metrics.jsonl. */
        default void stepped(long step, ObjectNode metrics) {}
    }

    /**
     * How a run ended.
     *
     * @param step steps done
     * @param loss the last step's training loss
     * @param heldoutLoss the last evaluation, per domain (empty without evaluation)
     * @param finalModel where the trained model is
     */
    public record Result(long step, long tokens, double loss, Map<String, Double> heldoutLoss, long skippedSteps,
            String finalModel) {}

    private final Recipe recipe;
    private final Configuration conf;
    private final Listener listener;
    private final RunFolder run;
    private final List<Device> devices;
    private final NDManager manager;

    private CausalLM model;
    private ModelConfig config;
    private TokenizerFiles tokenizer;
    private DType finalDtype;
    private Map<String, Parameter> params; // by HF name
    private AdamW optimizer;
    private MixtureSampler sampler;
    private DataParallel parallel;
    private MetricsLog metrics;
    private LrSchedule schedule;
    private Map<String, int[]> heldout = Map.of();

    private long step;
    private long tokens;
    private long skipped;
    private int badInARow;
    private double trainSeconds;
    private double peakFlops;
    private double flopsPerToken;
    private double auxLossCoef; // the router load-balancing loss's weight (Mixtral), else 0

    /** How long a polite stop waits for the step under way and its checkpoint. */
    static final long STOP_GRACE_MINUTES = 30;
    private volatile boolean stopRequested;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private Trainer(Recipe recipe, Configuration conf, Listener listener) {
        this.recipe = recipe;
        this.conf = conf;
        this.listener = listener == null ? new Listener() {} : listener;
        this.run = RunFolder.open(recipe.output(), conf);
        this.devices = devices(recipe);
        this.manager = NDManager.newBaseManager(devices.getFirst());
    }

    /**
     * Runs a recipe to its end.
     *
     * @param resume continue from the run's latest committed checkpoint (a run folder without one starts afresh)
     */
    public static Result run(Recipe recipe, boolean resume, Configuration conf, Listener listener) throws IOException {
        try (Trainer t = new Trainer(recipe, conf, listener)) {
            Thread hook = new Thread(t::stopAfterThisStep, "turbosparse-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                return t.train(resume);
            } finally {
                t.stopped.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the JVM is stopping: the hook is running
                }
            }
        }
    }

    /**
     * A polite stop (SIGTERM: a job's time limit, a preemption, Ctrl-C): the step under way finishes and is
     * checkpointed, then the JVM may exit. A hard kill (SIGKILL) skips this; the last committed checkpoint is then
     * where --resume continues.
     */
    private void stopAfterThisStep() {
        stopRequested = true;
        try {
            if (!stopped.await(STOP_GRACE_MINUTES, TimeUnit.MINUTES)) {
                System.err.println("train: stopping without a final checkpoint (the step did not end in time)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Result train(boolean resume) throws IOException {
        if (!resume && run.holdsRun()) {
            String at = run.latest().map(c -> " (its latest checkpoint is step " + c.step() + ")").orElse("");
            throw new InputException(run.root() + ": already holds a run" + at + "; pass --resume to continue it, or"
                    + " give another 'output'");
        }
        Optional<RunFolder.Checkpoint> from = resume ? run.latest() : Optional.empty();
        if (resume && from.isEmpty()) {
            LOG.info("{}: no committed checkpoint to resume from; starting from the beginning", run.root());
        }
        if (from.isPresent()) {
            RecipeDiff.checkResumable(run.savedRecipe(), recipe, run.root() + "/" + RunFolder.RECIPE_FILE);
        }
        TrainingData.Plan plan = TrainingData.plan(recipe); // the cheap checks of the data, before any loading
        JniUtils.setNumThreads(recipe.threadCount());
        LOG.info("{}: {} CPU thread(s) for torch, device(s) {}", name(), JniUtils.getNumThreads(), devices);

        TrainerState state = null;
        if (from.isPresent()) {
            state = loadCheckpoint(from.get());
        } else {
            startModel();
        }
        config = model.config();
        auxLossCoef = !(config instanceof MixtralConfig mc) ? 0
                : recipe.model().routerAuxLossCoef() != null ? recipe.model().routerAuxLossCoef() : mc.routerAuxLossCoef();
        model.setTrainable(true);
        params = byHfName(model);
        schedule = LrSchedule.of(recipe);

        if (recipe.prepareData()) {
            TrainingData.prepare(recipe, plan, tokenizer, conf, listener);
        }
        sampler = TrainingData.open(recipe, plan, config, tokenizer, conf);
        if (state != null) {
            sampler.restore(state.sampler());
        }
        if (recipe.evalEvery() > 0) {
            heldout = heldoutSequences(plan);
            if (heldout.isEmpty()) {
                LOG.warn("{}: no source has held-out sequences: no evaluation", name());
            }
        }

        run.removeUncommitted();
        if (from.isEmpty()) {
            run.saveRecipe(recipe.toYaml());
        }
        metrics = MetricsLog.open(run.fs(), run.root(), from.isPresent() ? step : -1);
        parallel = new DataParallel(model, devices, false);
        peakFlops = Flops.measureMatmulPeak(manager, devices.getFirst());
        flopsPerToken = Flops.trainingFlopsPerToken(config, recipe.seqLen());
        long total = recipe.totalSteps();
        LOG.info("{}: {} parameters, {} tokens per step ({} x {} device(s) x {} accumulation x {} tokens), {} steps;"
                + " matmul peak {} GFLOP/s, {} GFLOP per token", name(), String.format(Locale.ROOT, "%,d",
                model.parametersByName().values().stream().mapToLong(p -> p.getArray().size()).sum()),
                recipe.tokensPerStep(), recipe.microBatch(), devices.size(), recipe.accumulation(), recipe.seqLen(),
                total, String.format(Locale.ROOT, "%.1f", peakFlops / 1e9),
                String.format(Locale.ROOT, "%.4f", flopsPerToken / 1e9));
        if (step >= total) {
            LOG.info("{}: already at step {} of {}", name(), step, total);
        }

        Map<String, Double> lastEval = Map.of();
        if (step == 0 && !heldout.isEmpty()) {
            // the start model's sparsity (right after a swap), over the held-out sequences of every source
            ZeroCounter zeros = recipe.sparsityInterval() > 0
                    ? new ZeroCounter(config.numHiddenLayers(), config.numExperts()) : null;
            lastEval = evaluate(zeros);
            ObjectNode line = MetricsLog.JSON.createObjectNode();
            line.put("step", 0);
            line.put("loss", mean(lastEval));
            line.put("tokens", 0);
            line.set("heldout_loss", MetricsLog.JSON.valueToTree(lastEval));
            putZeros(line, zeros);
            metrics.write(line);
            LOG.info("{}: held-out loss before training {}", name(), format(lastEval));
        }
        listener.started(step, total);
        double loss = Double.NaN;
        while (step < total) {
            double lr = schedule.at(step);
            StepResult s = trainStep(lr);
            step++;
            tokens += recipe.tokensPerStep();
            trainSeconds += s.seconds;
            loss = s.loss;
            ObjectNode line = line(s, lr);
            if (!heldout.isEmpty() && (step % recipe.evalEvery() == 0 || step == total)) {
                lastEval = evaluate(null);
                line.set("heldout_loss", MetricsLog.JSON.valueToTree(lastEval));
                LOG.info("{}: step {}: held-out loss {}", name(), step, format(lastEval));
            }
            metrics.write(line);
            listener.stepped(step, line);
            stopIfDiverged(s);
            // no checkpoint while steps are being skipped: the last one stays the last good one
            boolean due = recipe.checkpointEvery() > 0 && step % recipe.checkpointEvery() == 0 || step == total;
            if (badInARow == 0 && (due || stopRequested)) {
                checkpoint();
            }
            if (stopRequested) {
                LOG.warn("{}: stopped by a signal after step {} of {}; continue with --resume", name(), step, total);
                throw new TrainingException("stopped by a signal after step " + step + " of " + total
                        + "; the run continues from its checkpoint with --resume");
            }
        }
        RunFolder.Checkpoint fin = run.writeFinal(step, folder -> {
            HfCheckpoint.save(model, folder, finalDtype, HfCheckpoint.DEFAULT_MAX_SHARD_BYTES);
            tokenizer.writeTo(folder);
        });
        metrics.sync();
        LOG.info("{}: done after {} steps ({} tokens, {} skipped); final model in {}", name(), step, tokens, skipped,
                fin.path());
        return new Result(step, tokens, loss, lastEval, skipped, fin.path().toString());
    }

    /** Stops the run once {@code max_bad_steps} steps in a row were skipped, naming the last good checkpoint. */
    private void stopIfDiverged(StepResult s) throws IOException {
        if (badInARow < recipe.badStepLimit()) {
            return;
        }
        metrics.sync();
        String last = run.latest().map(c -> "the last good checkpoint is " + c.path() + " (step " + c.step()
                + "): resume from it (--resume) with a lower optimizer.lr or grad_clip")
                .orElse("no checkpoint was written yet (checkpoint.every is " + recipe.checkpointEvery()
                        + "): restart with a lower optimizer.lr or grad_clip");
        throw new TrainingException("step " + step + ": " + badInARow + " steps in a row (max_bad_steps) had a loss or"
                + " gradient that is not finite (loss " + s.loss + ", gradient norm " + s.gradNorm + "); " + last);
    }

    // ---- start ----

    private void startModel() throws IOException {
        StartModel start = StartModel.load(recipe, manager, conf, listener);
        model = start.model();
        tokenizer = start.tokenizer();
        finalDtype = start.saveDtype();
        optimizer = newOptimizer();
    }

    /** Parameters of a config, for the loading progress. */
    static long parameterCount(ModelConfig c) {
        return HfWeightMap.entries(c).stream().mapToLong(HfWeightMap.Entry::numel).sum();
    }

    private TrainerState loadCheckpoint(RunFolder.Checkpoint c) throws IOException {
        java.nio.file.Path local = run.local(c);
        try {
            TrainerState state = MetricsLog.JSON.readValue(Files.readAllBytes(local.resolve(TrainerState.FILE_NAME)),
                    TrainerState.class);
            if (state.format() != TrainerState.FORMAT || state.step() != c.step()) {
                throw new InputException(c.path() + "/" + TrainerState.FILE_NAME + ": format " + state.format()
                        + ", step " + state.step() + "; expected format " + TrainerState.FORMAT + ", step " + c.step());
            }
            listener.loading(parameterCount(ConfigIO.read(local)));
            model = HfCheckpoint.load(local, manager, listener::loaded);
            tokenizer = TokenizerFiles.read(local.toString(), conf);
            finalDtype = DType.parseWeightType(state.finalDtype());
            optimizer = newOptimizer();
            try (SafetensorsFile moments = SafetensorsFile.open(local.resolve(OPTIMIZER_FILE))) {
                optimizer.restore(state.optimizerSteps(), (name, dst) -> {
                    TensorInfo info = moments.info(name);
                    moments.readFloat32(info, dst);
                });
            }
            step = state.step();
            tokens = state.tokens();
            skipped = state.skippedSteps();
            trainSeconds = state.trainSeconds();
            LOG.info("{}: resumed from {} (step {}, {} tokens)", name(), c.path(), step, tokens);
            return state;
        } finally {
            run.deleteLocal(local);
        }
    }

    private AdamW newOptimizer() {
        return new AdamW(byHfName(model), recipe.beta1(), recipe.beta2(), recipe.eps(), recipe.weightDecay());
    }

    private static Map<String, Parameter> byHfName(CausalLM model) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        for (HfWeightMap.Entry e : HfWeightMap.entries(model.config())) {
            out.put(e.hfName(), model.parametersByName().get(e.internalName()));
        }
        return out;
    }

    private Map<String, int[]> heldoutSequences(TrainingData.Plan plan) {
        Map<String, int[]> out = new LinkedHashMap<>();
        for (String source : TrainingData.sources(plan)) {
            int[] rows = sampler.heldout(source, recipe.evalSequences());
            if (rows.length == 0) {
                LOG.warn("source '{}' has no held-out sequences: no held-out loss for it (prepare with a larger"
                        + " held-out share)", source);
                continue;
            }
            out.put(source, rows);
        }
        return out;
    }

    // ---- one step ----

    private record StepResult(double loss, double auxLoss, double gradNorm, boolean skipped, double seconds,
            ZeroCounter zeros) {}

    private StepResult trainStep(double lr) {
        long t0 = System.nanoTime();
        Engine.getInstance().setRandomSeed((int) (recipe.seedValue() * 1_000_003L + step)); // router jitter, if any
        ZeroCounter zeros = recipe.sparsityInterval() > 0 && (step + 1) % recipe.sparsityInterval() == 0
                ? new ZeroCounter(config.numHiddenLayers(), config.numExperts()) : null;
        int n = parallel.size();
        int accumulation = recipe.accumulation();
        double lossSum = 0;
        double auxSum = 0;
        try {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                for (int micro = 0; micro < accumulation; micro++) {
                    int[][] rows = new int[n][];
                    for (int k = 0; k < n; k++) {
                        rows[k] = sampler.next(recipe.microBatch());
                    }
                    boolean first = micro == 0;
                    List<double[]> losses = parallel.run(k -> microStep(gc, k, rows[k],
                            first && k == 0 ? zeros : null, 1.0 / (accumulation * n)));
                    for (double[] l : losses) {
                        lossSum += l[0];
                        auxSum += l[1];
                    }
                }
            }
            parallel.reduceGradients();
            double loss = lossSum / (accumulation * n);
            double aux = auxSum / (accumulation * n);
            double norm = Gradients.globalNorm(params.values());
            boolean bad = !Double.isFinite(loss) || !Double.isFinite(aux) || !Double.isFinite(norm);
            if (bad) {
                Gradients.clearAll(params.values());
                skipped++;
                badInARow++;
                LOG.warn("{}: step {}: loss {} / gradient norm {} not finite: step skipped ({} in a row, {} in all)",
                        name(), step + 1, loss, norm, badInARow, skipped);
            } else {
                double scale = norm > recipe.clip() ? recipe.clip() / (norm + 1e-6) : 1.0;
                optimizer.step(lr, scale);
                parallel.broadcast();
                badInARow = 0;
            }
            return new StepResult(loss, aux, norm, bad, (System.nanoTime() - t0) / 1e9, zeros);
        } catch (EngineException | OutOfMemoryError e) {
            if (OutOfMemory.is(e)) {
                throw OutOfMemory.explain(e, recipe, step + 1);
            }
            throw e;
        }
    }

    /**
     * Forward, loss and backward of one replica's rows; returns {lm loss, aux loss}.
     *
     * @param scale the share of this micro-batch in the step's mean loss
     */
    private double[] microStep(GradientCollector gc, int k, int[] rows, ZeroCounter zeros, double scale) {
        int width = sampler.width();
        int b = rows.length / width;
        try (NDManager m = manager.newSubManager(parallel.device(k))) {
            NDArray batch = ids(m, rows, b, width); // (b, seq + 1)
            NDArray inputs = batch.get(new NDIndex(":, :-1")); // (b, seq)
            NDArray targets = batch.get(new NDIndex(":, 1:")); // (b, seq)
            CausalLM.Options options = CausalLM.Options.DEFAULT.withObserver(zeros).withRouterLogits(auxLossCoef > 0);
            CausalLM.Output out = model.forward(parallel.store(k), inputs, options, true);
            NDArray lm = LmLoss.tokenNll(out.logits(), targets).mean(); // ()
            NDArray total = lm;
            double aux = 0;
            if (auxLossCoef > 0) {
                NDArray balance = RouterLoss.loadBalancing(out.routerLogits(), config.numExperts(),
                        config.expertsPerToken()); // ()
                total = lm.add(balance.mul(TorchTensors.scalar(balance, auxLossCoef)));
                aux = balance.getFloat();
            }
            gc.backward(total.mul(TorchTensors.scalar(total, scale)));
            return new double[] {lm.getFloat(), aux};
        }
    }

    /** Token ids as an int64 tensor torch owns (autograd may keep it). */
    private static NDArray ids(NDManager m, int[] rows, int b, int width) {
        long[] ids = new long[rows.length];
        for (int i = 0; i < rows.length; i++) {
            ids[i] = rows[i];
        }
        return TorchTensors.longs(m, ids, new Shape(b, width));
    }

    private ObjectNode line(StepResult s, double lr) {
        ObjectNode line = MetricsLog.JSON.createObjectNode();
        line.put("step", step);
        put(line, "loss", s.loss);
        if (auxLossCoef > 0) {
            put(line, "aux_loss", s.auxLoss);
        }
        line.put("lr", lr);
        put(line, "grad_norm", s.gradNorm);
        line.put("tokens", tokens);
        double tps = recipe.tokensPerStep() / s.seconds;
        line.put("tokens_per_s", round(tps, 1));
        line.put("mfu", round(tps * flopsPerToken / (peakFlops * devices.size()), 4));
        line.put("step_seconds", round(s.seconds, 4));
        line.put("skipped_steps", skipped);
        if (s.skipped) {
            line.put("skipped", true);
        }
        putZeros(line, s.zeros);
        return line;
    }

    /** {@code ffn_zero_fraction}: per layer, or per layer a list per expert; nothing without a counter. */
    private void putZeros(ObjectNode line, ZeroCounter zeros) {
        if (zeros == null) {
            return;
        }
        ArrayNode layers = line.putArray("ffn_zero_fraction");
        for (int l = 0; l < config.numHiddenLayers(); l++) {
            if (config.isMoe()) {
                ArrayNode experts = layers.addArray();
                for (int e = 0; e < config.numExperts(); e++) {
                    add(experts, fraction(zeros, l, e)); // null: no token was routed to the expert
                }
            } else {
                add(layers, fraction(zeros, l, 0));
            }
        }
    }

    /** A number, or null where it is NaN or infinite (which JSON cannot hold). */
    private static void put(ObjectNode line, String key, double value) {
        if (Double.isFinite(value)) {
            line.put(key, value);
        } else {
            line.putNull(key);
        }
    }

    private static void add(ArrayNode list, double value) {
        if (Double.isFinite(value)) {
            list.add(round(value, 5));
        } else {
            list.addNull();
        }
    }

    private static double fraction(ZeroCounter z, int layer, int expert) {
        long n = z.elements(layer, expert);
        return n == 0 ? Double.NaN : (double) z.zeros(layer, expert) / n;
    }

    private static double round(double v, int digits) {
        if (!Double.isFinite(v)) {
            return v;
        }
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    // ---- evaluation ----

    /**
     * Mean next-token loss over each domain's held-out sequences, with the current weights.
     *
     * @param zeros counts the FFN activation's zeros over all of them, or null
     */
    private Map<String, Double> evaluate(ZeroCounter zeros) {
        Map<String, Double> out = new LinkedHashMap<>();
        int width = sampler.width();
        for (Map.Entry<String, int[]> e : heldout.entrySet()) {
            int[] all = e.getValue();
            out.put(e.getKey(), round(LmLoss.meanOverRows(model, parallel.store(0), all, all.length / width, width,
                    recipe.microBatch(), zeros), 5));
        }
        return out;
    }

    private static double mean(Map<String, Double> losses) {
        return round(losses.values().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN), 5);
    }

    private static String format(Map<String, Double> losses) {
        StringBuilder b = new StringBuilder();
        losses.forEach((k, v) -> b.append(b.isEmpty() ? "" : ", ").append(k).append(' ')
                .append(String.format(Locale.ROOT, "%.4f", v)));
        return b.toString();
    }

    // ---- checkpoints ----

    private void checkpoint() throws IOException {
        TrainerState state = new TrainerState(TrainerState.FORMAT, step, tokens, optimizer.steps(), skipped,
                recipe.seedValue(), trainSeconds, finalDtype.torchName(), sampler.state());
        long t0 = System.nanoTime();
        RunFolder.Checkpoint c = run.writeCheckpoint(step, folder -> {
            HfCheckpoint.save(model, folder, DType.F32, HfCheckpoint.DEFAULT_MAX_SHARD_BYTES);
            tokenizer.writeTo(folder);
            writeOptimizer(folder.resolve(OPTIMIZER_FILE));
            AtomicFiles.write(folder.resolve(TrainerState.FILE_NAME),
                    MetricsLog.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state));
        });
        metrics.sync();
        run.prune(recipe.checkpointKeep());
        LOG.info("{}: checkpoint {} ({} s)", name(), c.path(),
                String.format(Locale.ROOT, "%.1f", (System.nanoTime() - t0) / 1e9));
    }

    private void writeOptimizer(java.nio.file.Path file) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : optimizer.state().entrySet()) {
            NDArray a = e.getValue();
            entries.add(new SafetensorsWriter.Entry(e.getKey(), DType.F32, a.getShape().getShape(),
                    ch -> TensorSources.raw(MemorySegment.ofBuffer(a.toByteBuffer(true))).writeTo(ch)));
        }
        SafetensorsWriter.writeFile(file, entries, Map.of("format", "pt", "optimizer", "AdamW",
                "steps", Long.toString(optimizer.steps())));
    }

    // ---- devices ----

    private static List<Device> devices(Recipe r) {
        List<Device> out = new ArrayList<>();
        int gpus = Engine.getInstance().getGpuCount();
        for (String name : r.deviceNames()) {
            Device d = Device.fromName(name);
            if (d.isGpu() && d.getDeviceId() >= gpus) {
                throw new InputException("key 'devices': " + name + " is not available: this machine has " + gpus
                        + " GPU(s) that PyTorch can use");
            }
            if (out.contains(d)) {
                throw new InputException("key 'devices': " + name + " is listed twice");
            }
            out.add(d);
        }
        return out;
    }

    private String name() {
        return recipe.name() == null ? "train" : recipe.name();
    }

    @Override
    public void close() {
        try {
            if (metrics != null) {
                metrics.close();
            }
        } catch (IOException e) {
            LOG.warn("{}: could not close {}: {}", name(), metrics.path(), e.getMessage());
        }
        if (parallel != null) {
            parallel.close();
        }
        if (optimizer != null) {
            optimizer.close();
        }
        if (model != null) {
            model.close();
        }
        manager.close();
    }
}

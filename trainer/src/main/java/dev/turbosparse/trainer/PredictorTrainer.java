package dev.turbosparse.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.training.ParameterStore;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.data.mixture.DomainRows;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Trains the activation predictors of a dReLU (or ReGLU) model: per layer, and per expert for Mixtral, a low-rank MLP
 * {@code score = fc2 · relu(fc1 · r)} from the layer's residual stream before the FFN's RMSNorm (r, what TurboSparse
 * and PowerInfer feed it) to one score per neuron, trained to tell which neurons are not zero.
 *
 * <ol>
 *   <li><b>Data.</b> The model runs (DJL, float32) over training sequences of the prepared data and keeps each layer's
 *       residual; the truth for a token and neuron is whether the FFN's activation {@code act(gate, up)} of the
 *       normed residual is non-zero, computed from the layer's own weights (for every expert, whichever the router
 *       picks).</li>
 *   <li><b>Training.</b> Binary cross-entropy on the scores, Adam, mini-batches of tokens; the gradients are written
 *       out by hand (four matrix products), so no autograd graph is kept.</li>
 *   <li><b>Threshold.</b> On held-out sequences, each FFN's threshold is the score above which the asked share of its
 *       active neurons lies (the recall); recall, precision and the share predicted active are measured there.</li>
 *   <li><b>One threshold for all.</b> Each FFN's fc2 is scaled by 1/|t| (its threshold made negative if need be,
 *       which only raises recall), so that the single threshold -1 of PowerInfer's format stands for every layer's
 *       own. config.json carries it as {@code sparse_threshold}.</li>
 * </ol>
 */
public final class PredictorTrainer {

    private static final Logger LOG = LogManager.getLogger(PredictorTrainer.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** The threshold every FFN's scores are scaled to. */
    public static final float THRESHOLD = -1f;

    /**
     * @param rank the predictors' hidden size
     * @param trainTokens training tokens per source
     * @param heldoutTokens held-out tokens per source, to set the thresholds and measure
     * @param epochs passes over the training tokens
     * @param batch tokens per step
     * @param lr Adam's learning rate
     * @param recall the share of active neurons the threshold keeps, in (0, 1)
     */
    public record Options(int rank, long trainTokens, long heldoutTokens, int epochs, int batch, double lr,
            double recall, long seed, List<String> sources) {
        public Options {
            if (rank < 1) {
                throw new IllegalArgumentException("rank must be at least 1, got " + rank);
            }
            if (!(recall > 0 && recall < 1)) {
                throw new IllegalArgumentException("recall must be in (0, 1), got " + recall);
            }
            if (epochs < 1 || batch < 1 || !(lr > 0) || trainTokens < 1 || heldoutTokens < 1) {
                throw new IllegalArgumentException("epochs, batch, lr and the token counts must be positive");
            }
        }
    }

    /**
     * What one FFN's predictor does on held-out tokens: the share of (token, neuron) pairs truly active and predicted
     * active, recall (true active predicted) and precision (predicted truly active), and the threshold before
     * scaling.
     */
    public record FfnResult(int layer, int expert, double activeShare, double predictedShare, double recall,
            double precision, double threshold, double finalLoss) {}

    /** The outcome: per FFN, and where the checkpoint with predictors went. */
    public record Result(int rank, long trainTokens, long heldoutTokens, List<FfnResult> ffns, Path out) {}

    /** Told what is going on: a phase and, while training, the steps done of all. */
    public interface Progress {
        void phase(String what);

        void steps(long done, long total);
    }

    private PredictorTrainer() {}

    /**
     * Trains predictors for the model at {@code model} on the data at {@code dataUri} and writes the model with
     * them to {@code out} (a Hugging Face checkpoint folder, written beside and moved into place).
     */
    public static Result train(Path model, String dataUri, Options o, Path out, Progress progress) throws IOException {
        ModelConfig c = ConfigIO.read(model);
        FfnActivation act = c.activation();
        if (!act.zeroGateMeansZeroOutput()) {
            throw new InputException(model + ": its FFN is " + act.paperName() + ", which has no exact zeros to"
                    + " predict; predictors are for dReLU and ReGLU models");
        }
        Path tokenizer = model.resolve("tokenizer.json");
        Path tok = Files.isRegularFile(tokenizer) ? tokenizer : null;
        var conf = dev.turbosparse.data.fs.Fs.configuration();
        List<DomainRows.Domain> train = DomainRows.read(DomainRows.Split.TRAINING, dataUri, o.sources(),
                o.trainTokens(), tok, c.vocabSize(), conf);
        List<DomainRows.Domain> heldout = DomainRows.heldout(dataUri, o.sources(), o.heldoutTokens(), tok,
                c.vocabSize(), conf);
        List<FfnResult> results = new ArrayList<>();
        List<float[][]> fc1 = new ArrayList<>(); // [layer*experts + e] -> {fc1 flat, fc2 flat}
        try (NDManager root = NDManager.newBaseManager(); CausalLM lm = HfCheckpoint.load(model, root)) {
            progress.phase("collecting residuals");
            float[][] trainX = residuals(lm, train);
            float[][] heldX = residuals(lm, heldout);
            long trainN = trainX[0].length / c.hiddenSize();
            long heldN = heldX[0].length / c.hiddenSize();
            long stepsPerFfn = (long) o.epochs() * ((trainN + o.batch() - 1) / o.batch());
            long total = stepsPerFfn * c.numHiddenLayers() * c.numExperts();
            long[] done = {0};
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                for (int e = 0; e < c.numExperts(); e++) {
                    progress.phase("training layer " + l + (c.isMoe() ? " expert " + e : ""));
                    Ffn ffn = Ffn.of(lm, l, e);
                    Trained t = trainOne(root, ffn, act, trainX[l], heldX[l], c, o, l * 1000L + e,
                            n -> progress.steps(done[0] + n, total));
                    done[0] += stepsPerFfn;
                    results.add(new FfnResult(l, e, t.activeShare, t.predictedShare, t.recall, t.precision,
                            t.threshold, t.finalLoss));
                    fc1.add(new float[][] {t.fc1, t.fc2});
                    LOG.info("layer {}{}: active {}, predicted {}, recall {}, precision {} (threshold {})", l,
                            c.isMoe() ? " expert " + e : "", pct(t.activeShare), pct(t.predictedShare), pct(t.recall),
                            pct(t.precision), String.format("%.4f", t.threshold));
                }
            }
            LOG.info("predictors trained on {} tokens per source, measured on {} held-out", trainN / train.size(),
                    heldN / heldout.size());
        }
        progress.phase("writing " + out);
        write(model, c, o.rank(), fc1, out);
        return new Result(o.rank(), train.stream().mapToLong(d -> (long) d.rows() * (d.width() - 1)).sum(),
                heldout.stream().mapToLong(d -> (long) d.rows() * (d.width() - 1)).sum(), results, out);
    }

    private static String pct(double v) {
        return String.format("%.2f%%", 100 * v);
    }

    /** One FFN's weights as DJL arrays: the post-attention norm, gate and up. */
    private record Ffn(NDArray norm, NDArray gate, NDArray up, float eps) {
        static Ffn of(CausalLM lm, int layer, int expert) {
            String p = "layers." + layer + ".";
            String f = lm.config().isMoe() ? p + "moe.experts." + expert + "." : p + "mlp.";
            return new Ffn(lm.parametersByName().get(p + "postAttentionNorm").getArray(),
                    lm.parametersByName().get(f + "gateProj").getArray(),
                    lm.parametersByName().get(f + "upProj").getArray(), (float) lm.config().rmsNormEps());
        }

        /** x: (n, hidden) residuals → (n, intermediate) 1 where act(gate, up) of the normed x is not zero, else 0. */
        NDArray truth(NDArray x, FfnActivation act) {
            NDArray rms = x.square().mean(new int[] {1}, true).add(TorchTensors.scalar(x, eps)).sqrt();
            NDArray normed = x.div(rms).mul(norm); // (n, hidden)
            NDArray gt = gate.transpose();
            NDArray ut = up.transpose();
            gt.attach(x.getManager()); // with x's (the step's), not the layer's, which outlive the step
            ut.attach(x.getManager());
            NDArray h = act.apply(normed.matMul(gt), normed.matMul(ut)); // (n, inter)
            return h.neq(TorchTensors.scalar(h, 0)).toType(DataType.FLOAT32, false);
        }
    }

    /** Every layer's residual before its FFN norm, for all tokens of the domains: [layer] = (tokens, hidden) row-major. */
    static float[][] residuals(CausalLM lm, List<DomainRows.Domain> domains) {
        ModelConfig c = lm.config();
        int layers = c.numHiddenLayers();
        List<List<float[]>> parts = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            parts.add(new ArrayList<>());
        }
        FfnActivationObserver keep = new FfnActivationObserver() {
            @Override
            public void observe(int layer, int expert, NDArray intermediate) {}

            @Override
            public void observeFfnInput(int layer, NDArray residual) {
                parts.get(layer).add(residual.toFloatArray());
            }
        };
        for (DomainRows.Domain d : domains) {
            int len = d.width() - 1;
            int[] inputs = d.inputs();
            int batch = Math.max(1, 2048 / len);
            for (int r = 0; r < d.rows(); r += batch) {
                int n = Math.min(batch, d.rows() - r);
                try (NDManager step = lm.manager().newSubManager()) {
                    long[] ids = new long[n * len];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = inputs[r * len + i];
                    }
                    NDArray x = TorchTensors.longs(step, ids, new Shape(n, len));
                    lm.forward(new ParameterStore(step, false), x, CausalLM.Options.DEFAULT.withObserver(keep), false);
                }
            }
        }
        float[][] out = new float[layers][];
        for (int l = 0; l < layers; l++) {
            int size = parts.get(l).stream().mapToInt(a -> a.length).sum();
            out[l] = new float[size];
            int at = 0;
            for (float[] a : parts.get(l)) {
                System.arraycopy(a, 0, out[l], at, a.length);
                at += a.length;
            }
        }
        return out;
    }

    /** A trained predictor, fc2 scaled to {@link #THRESHOLD}, and what it does on held-out tokens. */
    private record Trained(float[] fc1, float[] fc2, double activeShare, double predictedShare, double recall,
            double precision, double threshold, double finalLoss) {}

    private static Trained trainOne(NDManager root, Ffn ffn, FfnActivation act, float[] trainX, float[] heldX,
            ModelConfig c, Options o, long salt, LongConsumer steps) {
        int hidden = c.hiddenSize();
        int inter = c.intermediateSize();
        int r = o.rank();
        int n = trainX.length / hidden;
        SplittableRandom rng = new SplittableRandom(o.seed() * 1_000_003L + salt);
        try (NDManager m = root.newSubManager()) {
            NDArray x = TorchTensors.floats(m, trainX, new Shape(n, hidden));
            NDArray w1 = gaussian(m, rng, r, hidden, 1.0 / Math.sqrt(hidden)); // (rank, hidden)
            NDArray w2 = gaussian(m, rng, inter, r, 1.0 / Math.sqrt(r)); // (inter, rank)
            Adam a1 = new Adam(m, w1);
            Adam a2 = new Adam(m, w2);
            int[] order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            long t = 0;
            double last = Double.NaN;
            for (int epoch = 0; epoch < o.epochs(); epoch++) {
                shuffle(order, rng);
                for (int b = 0; b < n; b += o.batch()) {
                    int size = Math.min(o.batch(), n - b);
                    try (NDManager step = m.newSubManager()) {
                        long[] idx = new long[size];
                        for (int i = 0; i < size; i++) {
                            idx[i] = order[b + i];
                        }
                        // everything of the step hangs off xb, so that closing the step frees it
                        NDArray xb = x.get(new NDIndex("{}", TorchTensors.longs(step, idx, new Shape(size)))); // (size, hidden)
                        xb.attach(step);
                        NDArray y = ffn.truth(xb, act); // (size, inter)
                        NDArray[] lg = lossAndGradients(xb, y, w1, w2);
                        last = lg[0].getFloat();
                        t++;
                        w1 = a1.step(w1, lg[1], o.lr(), t);
                        w2 = a2.step(w2, lg[2], o.lr(), t);
                    }
                    steps.accept(t);
                }
            }
            return calibrate(m, ffn, act, w1, w2, heldX, c, o.recall(), last);
        }
    }

    /**
     * The mean binary cross-entropy of {@code score = relu(x W1ᵀ) W2ᵀ} against y, and its gradients by hand:
     * dL/ds = (sigmoid(s) - y) / (n · inter), dW2 = dsᵀ z, dz = ds W2 masked where z > 0, dW1 = dzᵀ x.
     *
     * @param x (n, hidden)
     * @param y (n, inter) of 0 and 1
     * @param w1 (rank, hidden)
     * @param w2 (inter, rank)
     * @return {loss (scalar), dW1 (rank, hidden), dW2 (inter, rank)}
     */
    static NDArray[] lossAndGradients(NDArray x, NDArray y, NDArray w1, NDArray w2) {
        long n = x.getShape().get(0);
        long inter = w2.getShape().get(0);
        // the transposes belong with x (the step's), not with the weights (which live for all the steps)
        NDArray w1t = w1.transpose();
        NDArray w2t = w2.transpose();
        w1t.attach(x.getManager());
        w2t.attach(x.getManager());
        NDArray z = x.matMul(w1t).maximum(TorchTensors.scalar(x, 0)); // (n, rank)
        NDArray s = z.matMul(w2t); // (n, inter)
        // log(1 + exp(-|s|)) + max(s, 0) - s y: the stable form of -y log sigmoid(s) - (1 - y) log(1 - sigmoid(s))
        NDArray loss = s.maximum(TorchTensors.scalar(s, 0)).sub(s.mul(y)).add(s.abs().neg().exp().add(TorchTensors.scalar(s, 1)).log()).mean();
        NDArray ds = Activation.sigmoid(s).sub(y).div(TorchTensors.scalar(s, (double) n * inter)); // (n, inter)
        NDArray g2 = ds.transpose().matMul(z); // (inter, rank)
        NDArray dz = ds.matMul(w2).mul(z.gt(TorchTensors.scalar(z, 0)).toType(x.getDataType(), false)); // (n, rank)
        NDArray g1 = dz.transpose().matMul(x); // (rank, hidden)
        return new NDArray[] {loss, g1, g2};
    }

    /** The threshold for the recall on held-out tokens, what it achieves there, and fc2 scaled to it. */
    private static Trained calibrate(NDManager m, Ffn ffn, FfnActivation act, NDArray w1, NDArray w2, float[] heldX,
            ModelConfig c, double recall, double loss) {
        int hidden = c.hiddenSize();
        int n = heldX.length / hidden;
        float[] scores;
        float[] truth;
        try (NDManager step = m.newSubManager()) {
            NDArray x = TorchTensors.floats(step, heldX, new Shape(n, hidden));
            truth = ffn.truth(x, act).toFloatArray();
            scores = x.matMul(w1.transpose()).maximum(TorchTensors.scalar(x, 0)).matMul(w2.transpose()).toFloatArray();
        }
        int active = 0;
        for (float v : truth) {
            active += v > 0 ? 1 : 0;
        }
        float[] activeScores = new float[active];
        int k = 0;
        for (int i = 0; i < truth.length; i++) {
            if (truth[i] > 0) {
                activeScores[k++] = scores[i];
            }
        }
        Arrays.sort(activeScores);
        // the threshold keeps at least `recall` of the active pairs: at most (1 - recall) of them lie below it
        float threshold = active == 0 ? 0 : activeScores[(int) Math.floor((1 - recall) * active)];
        long tp = 0;
        long predicted = 0;
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] >= threshold) {
                predicted++;
                tp += truth[i] > 0 ? 1 : 0;
            }
        }
        // scale fc2 so that the threshold is THRESHOLD; a threshold at or above 0 is lowered first (more recall)
        float scaleAt = Math.min(threshold, -1e-3f);
        float alpha = THRESHOLD / scaleAt;
        float[] fc1 = w1.toFloatArray();
        float[] fc2 = w2.toFloatArray();
        for (int i = 0; i < fc2.length; i++) {
            fc2[i] *= alpha;
        }
        return new Trained(fc1, fc2, (double) active / truth.length, (double) predicted / scores.length,
                active == 0 ? 1 : (double) tp / active, predicted == 0 ? 1 : (double) tp / predicted, threshold, loss);
    }

    private static NDArray gaussian(NDManager m, SplittableRandom rng, int rows, int cols, double std) {
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (gauss(rng) * std);
        }
        return TorchTensors.floats(m, v, new Shape(rows, cols));
    }

    private static double gauss(SplittableRandom rng) {
        double u = 1 - rng.nextDouble();
        double v = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int x = a[i];
            a[i] = a[j];
            a[j] = x;
        }
    }

    /** Adam on one array (beta 0.9, 0.999, eps 1e-8, no weight decay), outside autograd. */
    private static final class Adam {
        private final NDManager manager;
        private NDArray mom;
        private NDArray vel;

        Adam(NDManager manager, NDArray w) {
            this.manager = manager;
            this.mom = w.zerosLike();
            this.vel = w.zerosLike();
        }

        NDArray step(NDArray w, NDArray g, double lr, long t) {
            NDArray m1 = mom.mul(TorchTensors.scalar(g, 0.9)).add(g.mul(TorchTensors.scalar(g, 0.1)));
            NDArray v1 = vel.mul(TorchTensors.scalar(g, 0.999)).add(g.square().mul(TorchTensors.scalar(g, 0.001)));
            double c1 = 1 - Math.pow(0.9, t);
            double c2 = 1 - Math.pow(0.999, t);
            NDArray update = m1.div(TorchTensors.scalar(g, c1))
                    .div(v1.div(TorchTensors.scalar(g, c2)).sqrt().add(TorchTensors.scalar(g, 1e-8)))
                    .mul(TorchTensors.scalar(g, lr));
            NDArray w1 = w.sub(update);
            for (NDArray a : new NDArray[] {m1, v1, w1}) {
                a.attach(manager);
            }
            mom.close();
            vel.close();
            w.close();
            mom = m1;
            vel = v1;
            return w1;
        }
    }

    /**
     * Writes the model with its predictors: the weights copied byte for byte (old predictors left out), the
     * predictors in F32, config.json with {@code sparse_threshold}, and the tokenizer files; into a folder beside
     * {@code out} that is moved into place when complete.
     */
    static void write(Path model, ModelConfig c, int rank, List<float[][]> predictors, Path out) throws IOException {
        AtomicFiles.writeFolder(out, staging -> {
            try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(model)) {
                List<SafetensorsWriter.Entry> entries = new ArrayList<>();
                for (var t : weights.tensors().entrySet()) {
                    if (t.getKey().contains(".predictor.")) {
                        continue;
                    }
                    MemorySegment bytes = t.getValue().file().bytes(t.getValue().info());
                    entries.add(new SafetensorsWriter.Entry(t.getKey(), t.getValue().info().dtype(),
                            t.getValue().info().shape(), TensorSources.raw(bytes)));
                }
                int i = 0;
                for (int l = 0; l < c.numHiddenLayers(); l++) {
                    for (int e = 0; e < c.numExperts(); e++) {
                        float[][] p = predictors.get(i++);
                        String prefix = Predictors.prefix(c, l, e);
                        entries.add(new SafetensorsWriter.Entry(prefix + "fc1.weight", DType.F32,
                                new long[] {rank, c.hiddenSize()}, TensorSources.fromFloats(p[0])));
                        entries.add(new SafetensorsWriter.Entry(prefix + "fc2.weight", DType.F32,
                                new long[] {c.intermediateSize(), rank}, TensorSources.fromFloats(p[1])));
                    }
                }
                SafetensorsWriter.writeCheckpoint(staging, entries, HfCheckpoint.DEFAULT_MAX_SHARD_BYTES,
                        SafetensorsWriter.PT_METADATA);
                ObjectNode config = (ObjectNode) JSON.readTree(model.resolve(ConfigIO.FILE_NAME).toFile());
                config.put("sparse_threshold", THRESHOLD);
                Files.write(staging.resolve(ConfigIO.FILE_NAME),
                        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
                HfCheckpoint.copyTokenizerFiles(model, staging);
            }
        });
    }
}

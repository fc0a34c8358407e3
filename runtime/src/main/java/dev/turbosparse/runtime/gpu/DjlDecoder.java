package dev.turbosparse.runtime.gpu;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.Matrix;
import dev.turbosparse.runtime.Routing;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.TokenDecoder;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The runtime's decoder on a DJL device (a GPU through the PyTorch engine, or the CPU): the same arithmetic as
 * {@link Decoder}, with the weights copied to the device once as float32 and the sparse FFN done by gathering the
 * active rows ({@code index_select}) of gate, up and the neuron-major down projection.
 *
 * <p>Limits, plainly: the weights are float32 on the device (four bytes a weight; a 7B model needs 29 GB), the KV cache
 * grows by concatenation, and one token is decoded at a time. It exists so that a machine with a CUDA libtorch runs
 * the same three modes on its GPU; on the CPU it is checked against {@link Decoder}.
 */
public final class DjlDecoder implements TokenDecoder {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private record Ffn(NDArray gate, NDArray up, NDArray downT, NDArray fc1, NDArray fc2) {}

    private record Layer(NDArray inputNorm, NDArray q, NDArray k, NDArray v, NDArray o, NDArray postNorm,
            NDArray router, List<Ffn> experts) {}

    private final ModelConfig c;
    private final RuntimeModel.Rope rope;
    private final Decoder.Mode mode;
    private final FfnActivation act;
    private final int context;
    private final float threshold;
    private final NDManager manager;
    private final NDArray embeddings;
    private final NDArray norm;
    private final NDArray lmHead;
    private final List<Layer> layers = new ArrayList<>();
    private final List<List<NDArray>> keys = new ArrayList<>();
    private final List<List<NDArray>> values = new ArrayList<>();
    private final float[] invFreq;
    private int position;

    /** The device {@code --device} names: {@code cpu}, or {@code gpu} (the first GPU the engine sees). */
    public static Device device(String name) {
        return switch (name) {
            case "cpu" -> Device.cpu();
            case "gpu" -> {
                if (Engine.getInstance().getGpuCount() == 0) {
                    throw new InputException("--device gpu: the PyTorch engine sees no GPU on this machine (its"
                            + " libtorch is the CPU build, or no CUDA device is visible); see docs/RUNTIME.md");
                }
                yield Device.gpu();
            }
            default -> throw new InputException("--device must be cpu or gpu, got '" + name + "'");
        };
    }

    public DjlDecoder(RuntimeModel model, Decoder.Mode mode, int context, Device device) {
        this.c = model.config();
        this.rope = model.rope();
        this.mode = mode;
        this.act = c.activation();
        if (mode != Decoder.Mode.DENSE && !act.zeroGateMeansZeroOutput()) {
            throw new InputException(model.source() + ": --mode " + mode.name().toLowerCase(java.util.Locale.ROOT)
                    + " needs a dReLU or ReGLU model; this one's FFN is " + act.paperName());
        }
        if (mode == Decoder.Mode.PREDICTED && !model.hasPredictors()) {
            throw new InputException(model.source() + ": --mode predicted needs activation predictors");
        }
        this.context = context;
        this.threshold = model.sparseThreshold();
        this.manager = NDManager.newBaseManager(device);
        this.embeddings = upload(model.embeddings(), false);
        this.norm = manager.create(model.norm());
        this.lmHead = model.lmHead() == model.embeddings() ? embeddings : upload(model.lmHead(), false);
        for (RuntimeModel.Layer l : model.layers()) {
            List<Ffn> experts = new ArrayList<>();
            for (RuntimeModel.Ffn f : l.experts()) {
                NDArray downT = f.downT() != null ? upload(f.downT(), false) : upload(f.down(), true);
                RuntimeModel.Predictor p = f.predictor();
                experts.add(new Ffn(upload(f.gate(), false), upload(f.up(), false), downT,
                        p == null ? null : upload(p.fc1(), false), p == null ? null : upload(p.fc2(), false)));
            }
            layers.add(new Layer(manager.create(l.inputNorm()), upload(l.q(), false), upload(l.k(), false),
                    upload(l.v(), false), upload(l.o(), false), manager.create(l.postNorm()),
                    l.router() == null ? null : upload(l.router(), false), experts));
            keys.add(new ArrayList<>());
            values.add(new ArrayList<>());
        }
        this.invFreq = new float[c.headDim() / 2];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = 1.0f / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / c.headDim());
        }
    }

    /** A matrix decoded to float32 on the device, transposed if asked. */
    private NDArray upload(Matrix m, boolean transpose) {
        long n = m.rows() * m.cols();
        float[] host = new float[Math.toIntExact(n)];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f32 = arena.allocate(n * 4);
            m.type().toFloat32(m.data(), 0, f32, n);
            for (int i = 0; i < host.length; i++) {
                host[i] = f32.getAtIndex(FLOAT, i);
            }
        }
        NDArray a = manager.create(host, new Shape(m.rows(), m.cols()));
        if (!transpose) {
            return a;
        }
        NDArray t = a.transpose().duplicate();
        a.close();
        return t;
    }

    @Override
    public int context() {
        return context;
    }

    @Override
    public void reset() {
        position = 0;
        keys.forEach(l -> {
            l.forEach(NDArray::close);
            l.clear();
        });
        values.forEach(l -> {
            l.forEach(NDArray::close);
            l.clear();
        });
    }

    @Override
    public float[] forward(int token) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new InputException("token id " + token + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        }
        if (position >= context) {
            throw new InputException("the sequence is longer than the context of " + context + " positions");
        }
        // every array the pass makes is closed with the scope, but the keys and values it keeps
        try (NDScope scope = new NDScope(); NDManager step = manager.newSubManager()) {
            scope.suppressNotUsedWarning();
            NDArray x = embeddings.get(token); // (hidden)
            for (int l = 0; l < layers.size(); l++) {
                Layer layer = layers.get(l);
                NDArray h = x.add(attention(step, l, layer, rmsNorm(x, layer.inputNorm())));
                NDArray normed = rmsNorm(h, layer.postNorm());
                NDArray ffn = layer.router() == null ? ffn(layer.experts().getFirst(), normed, h)
                        : moe(layer, normed, h);
                x = h.add(ffn);
            }
            NDArray logits = lmHead.matMul(rmsNorm(x, norm)); // (vocab)
            position++;
            return logits.toFloatArray();
        }
    }

    private NDArray attention(NDManager step, int l, Layer layer, NDArray xn) {
        int headDim = c.headDim();
        int heads = c.numAttentionHeads();
        int kvHeads = c.numKeyValueHeads();
        NDArray q = rotate(step, layer.q().matMul(xn).reshape(heads, headDim)); // (heads, headDim)
        NDArray k = rotate(step, layer.k().matMul(xn).reshape(kvHeads, headDim)); // (kvHeads, headDim)
        NDArray v = layer.v().matMul(xn).reshape(kvHeads, headDim);
        NDScope.unregister(k, v);
        keys.get(l).add(k);
        values.get(l).add(v);
        int first = c.slidingWindow() == null ? 0 : Math.max(0, position - c.slidingWindow() + 1);
        List<NDArray> ks = keys.get(l).subList(first, position + 1);
        NDArray kAll = NDArrays.stack(new NDList(ks.toArray(NDArray[]::new))); // (keys, kvHeads, headDim)
        NDArray vAll = NDArrays.stack(new NDList(values.get(l).subList(first, position + 1).toArray(NDArray[]::new)));
        int groups = heads / kvHeads;
        NDArray qg = q.reshape(kvHeads, groups, headDim); // (kvHeads, groups, headDim)
        NDArray kT = kAll.transpose(1, 2, 0); // (kvHeads, headDim, keys)
        NDArray scores = qg.matMul(kT).mul(TorchTensors.scalar(qg, Math.pow(headDim, -0.5))); // (kvHeads, groups, keys)
        NDArray probs = scores.softmax(-1);
        NDArray out = probs.matMul(vAll.transpose(1, 0, 2)); // (kvHeads, groups, headDim)
        return layer.o().matMul(out.reshape(heads * headDim));
    }

    /** Rotary embeddings at the current position, in the row order the weights have. */
    private NDArray rotate(NDManager step, NDArray x) {
        int headDim = c.headDim();
        int half = headDim / 2;
        float[] cos = new float[headDim];
        float[] sin = new float[headDim];
        for (int i = 0; i < half; i++) {
            float angle = position * invFreq[i];
            float cs = (float) Math.cos(angle);
            float sn = (float) Math.sin(angle);
            int a = rope == RuntimeModel.Rope.HALF ? i : 2 * i;
            int b = rope == RuntimeModel.Rope.HALF ? i + half : 2 * i + 1;
            cos[a] = cs;
            cos[b] = cs;
            sin[a] = -sn; // out[a] = x[a] cos - x[b] sin
            sin[b] = sn; //  out[b] = x[b] cos + x[a] sin
        }
        // partner[j] = x[b] for j = a and x[a] for j = b
        long[] partner = new long[headDim];
        for (int i = 0; i < half; i++) {
            int a = rope == RuntimeModel.Rope.HALF ? i : 2 * i;
            int b = rope == RuntimeModel.Rope.HALF ? i + half : 2 * i + 1;
            partner[a] = b;
            partner[b] = a;
        }
        NDArray swapped = x.get(new NDIndex(":, {}", TorchTensors.longs(step, partner, new Shape(headDim))));
        return x.mul(TorchTensors.floats(step, cos, new Shape(headDim)))
                .add(swapped.mul(TorchTensors.floats(step, sin, new Shape(headDim))));
    }

    private NDArray moe(Layer layer, NDArray normed, NDArray residual) {
        Routing r = Routing.topK(layer.router().matMul(normed).toFloatArray(), c.expertsPerToken());
        NDArray out = null;
        for (int i = 0; i < r.experts().length; i++) {
            NDArray y = ffn(layer.experts().get(r.experts()[i]), normed, residual)
                    .mul(TorchTensors.scalar(normed, r.weights()[i]));
            out = out == null ? y : out.add(y);
        }
        return out;
    }

    /** One FFN: dense, or on the gathered rows of its active neurons. */
    private NDArray ffn(Ffn f, NDArray x, NDArray residual) {
        if (mode == Decoder.Mode.DENSE) {
            NDArray h = act.apply(f.gate().matMul(x), f.up().matMul(x)); // (inter)
            return f.downT().transpose().matMul(h);
        }
        NDArray idx;
        NDArray gate;
        if (mode == Decoder.Mode.EXACT) {
            NDArray all = f.gate().matMul(x); // (inter)
            idx = all.gt(TorchTensors.scalar(all, 0)).nonzero().flatten(); // (active) int64
            if (idx.isEmpty()) {
                return x.zerosLike();
            }
            gate = all.get(new NDIndex("{}", idx));
        } else {
            NDArray score = f.fc2().matMul(f.fc1().matMul(residual).maximum(TorchTensors.scalar(residual, 0)));
            idx = score.gte(TorchTensors.scalar(score, threshold)).nonzero().flatten();
            if (idx.isEmpty()) {
                return x.zerosLike();
            }
            gate = f.gate().get(new NDIndex("{}", idx)).matMul(x);
        }
        NDArray up = f.up().get(new NDIndex("{}", idx)).matMul(x); // (active)
        NDArray h = act.apply(gate, up);
        return f.downT().get(new NDIndex("{}", idx)).transpose().matMul(h); // (hidden)
    }

    /** HF's MistralRMSNorm in float32. */
    private NDArray rmsNorm(NDArray x, NDArray weight) {
        NDArray rms = x.square().mean().add(TorchTensors.scalar(x, (float) c.rmsNormEps())).sqrt();
        return x.div(rms).mul(weight);
    }

    @Override
    public void close() {
        reset();
        manager.close();
    }

    /** The data type the weights are held in on the device. */
    public static DataType weightType() {
        return DataType.FLOAT32;
    }
}

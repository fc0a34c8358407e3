package dev.turbosparse.model.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

import dev.turbosparse.activations.FfnActivationObserver;
import dev.turbosparse.model.config.ModelConfig;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Mistral or Mixtral for causal language modelling, as HF's MistralForCausalLM / MixtralForCausalLM: token
 * embeddings, decoder layers, final RMSNorm, lm head (or the embeddings, when tied).
 *
 * <p>One forward serves training (full sequences, differentiable) and decoding (a few new positions against a
 * {@link KvCache}). Parameters are named by {@link HfWeightMap}'s internal names and set by the loader or the
 * initializer; the model owns them through its NDManager and frees them on {@link #close()}.
 *
 * <p>Intermediate arrays of a pass live in the manager of the input ids: give each pass (step) its own manager and
 * close it afterwards.
 */
public final class CausalLM extends AbstractBlock implements AutoCloseable {

    /** What to do besides computing logits. */
    public record Options(KvCache cache, FfnActivationObserver observer, boolean lastPositionOnly,
            boolean routerLogits, boolean hiddenStates) {

        public static final Options DEFAULT = new Options(null, null, false, false, false);

        public Options withCache(KvCache c) {
            return new Options(c, observer, lastPositionOnly, routerLogits, hiddenStates);
        }

        public Options withObserver(FfnActivationObserver o) {
            return new Options(cache, o, lastPositionOnly, routerLogits, hiddenStates);
        }

        /** Logits of the last position only: what decoding needs, without the (seq, vocab) matmul. */
        public Options withLastPositionOnly(boolean last) {
            return new Options(cache, observer, last, routerLogits, hiddenStates);
        }

        public Options withRouterLogits(boolean r) {
            return new Options(cache, observer, lastPositionOnly, r, hiddenStates);
        }

        public Options withHiddenStates(boolean h) {
            return new Options(cache, observer, lastPositionOnly, routerLogits, h);
        }
    }

    /**
     * @param logits (batch, seq, vocab), or (batch, 1, vocab) with lastPositionOnly
     * @param routerLogits per MoE layer (batch * seq, experts), batch-major rows; empty unless asked for
     * @param hiddenStates the residual stream: index 0 the embeddings, l + 1 after layer l (before the final norm);
     *     empty unless asked for
     */
    public record Output(NDArray logits, List<NDArray> routerLogits, List<NDArray> hiddenStates) {}

    private final ModelConfig config;
    private final NDManager manager;
    final Parameter embedTokens; // (vocab, hidden)
    final List<DecoderLayer> layers;
    final RmsNorm norm;
    final Parameter lmHead; // (vocab, hidden), or null when tied to embedTokens
    private final RotaryEmbedding rope;
    private final Map<String, Parameter> parametersByName;

    /**
     * A model with unset parameters; {@link #create} fills them.
     *
     * @param parent the model's parameters live in a sub-manager of it
     */
    CausalLM(ModelConfig config, NDManager parent) {
        this.config = config;
        this.manager = parent.newSubManager();
        this.rope = new RotaryEmbedding(config.headDim(), config.ropeTheta());
        this.embedTokens = addParameter(Params.weight("embedTokens"));
        List<DecoderLayer> ls = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            ls.add(addChildBlock("layer" + i, new DecoderLayer(i, config, rope)));
        }
        this.layers = Collections.unmodifiableList(ls);
        this.norm = addChildBlock("norm", new RmsNorm("norm", config.rmsNormEps()));
        this.lmHead = config.tieWordEmbeddings() ? null : addParameter(Params.weight("lmHead"));
        Map<String, Parameter> blockParams = new HashMap<>();
        for (Parameter p : getParameters().values()) {
            blockParams.put(p.getName(), p);
        }
        Map<String, Parameter> byName = new LinkedHashMap<>();
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            Parameter p = blockParams.remove(e.internalName());
            if (p == null) {
                throw new IllegalStateException("HfWeightMap names '" + e.internalName() + "', which no block has");
            }
            byName.put(e.internalName(), p);
        }
        if (!blockParams.isEmpty()) {
            throw new IllegalStateException("parameters missing from HfWeightMap: " + blockParams.keySet());
        }
        this.parametersByName = Collections.unmodifiableMap(byName);
    }

    /** Writes the float32 values of one weight of the table into its destination storage. */
    @FunctionalInterface
    public interface WeightSource {
        void fill(HfWeightMap.Entry entry, MemorySegment float32);
    }

    /**
     * A model whose every parameter is filled by {@code source}, straight into the parameter's own (torch-owned)
     * storage: no weight is held twice. The parameters are then cast to {@code dtype} if it is not float32. On a
     * parent manager of another device than the CPU (a GPU), each weight is filled on the host and copied over.
     *
     * @param progress told the number of parameters filled so far, or null
     */
    public static CausalLM create(ModelConfig config, NDManager parent, WeightSource source, DataType dtype,
            LongConsumer progress) {
        CausalLM model = new CausalLM(config, parent);
        boolean ok = false;
        try {
            long done = 0;
            for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
                NDArray array = model.manager.create(new Shape(e.shape()), DataType.FLOAT32); // uninitialised
                if (array.getDevice().equals(Device.cpu())) {
                    source.fill(e, MemorySegment.ofBuffer(array.toByteBuffer(true))); // the tensor's own memory
                } else {
                    ByteBuffer host = ByteBuffer.allocateDirect(Math.toIntExact(e.numel() * 4)).order(ByteOrder.nativeOrder());
                    source.fill(e, MemorySegment.ofBuffer(host));
                    array.set(host); // copied to the device
                }
                if (dtype != DataType.FLOAT32) {
                    NDArray cast = array.toType(dtype, true);
                    array.close();
                    array = cast;
                }
                model.parametersByName.get(e.internalName()).setArray(array);
                done += e.numel();
                if (progress != null) {
                    progress.accept(done);
                }
            }
            ok = true;
            return model;
        } finally {
            if (!ok) {
                model.close();
            }
        }
    }

    public ModelConfig config() {
        return config;
    }

    /** The manager that owns the parameters. */
    public NDManager manager() {
        return manager;
    }

    /** Parameters by internal name, in {@link HfWeightMap} order. */
    public Map<String, Parameter> parametersByName() {
        return parametersByName;
    }

    /** Whether autograd tracks the parameters (needed before a backward pass). */
    public void setTrainable(boolean trainable) {
        for (Parameter p : parametersByName.values()) {
            p.getArray().setRequiresGradient(trainable);
        }
    }

    /**
     * The forward pass.
     *
     * @param inputIds (batch, seq) token ids, int32 or int64
     * @param training whether dropout-like randomness (router jitter) applies
     * @throws IllegalArgumentException if an id lies outside the vocabulary or the cache is full
     */
    public Output forward(ParameterStore ps, NDArray inputIds, Options options, boolean training) {
        Shape shape = inputIds.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException("input ids must be (batch, seq), got " + shape);
        }
        long seq = shape.get(1);
        // A torch-owned int64 copy: the embedding's backward keeps the ids (see TorchTensors).
        inputIds = inputIds.toType(DataType.INT64, true);
        checkIds(inputIds);
        KvCache cache = options.cache();
        long start = 0;
        if (cache != null) {
            cache.ensureRoom(seq);
            start = cache.length();
        }
        NDManager m = inputIds.getManager();
        List<NDArray> routerLogits = options.routerLogits() && config.isMoe() ? new ArrayList<>() : null;
        ForwardContext ctx = ForwardContext.of(ps, training, m, rope, config.slidingWindow(), start, seq, cache,
                options.observer(), routerLogits);

        NDArray embed = ps.getValue(embedTokens, inputIds.getDevice(), training);
        NDArray h = Embedding.embedding(inputIds, embed, SparseFormat.DENSE).singletonOrThrow(); // (batch, seq, hidden)
        List<NDArray> hidden = options.hiddenStates() ? new ArrayList<>(List.of(h)) : null;
        for (DecoderLayer layer : layers) {
            h = layer.forward(ctx, h); // (batch, seq, hidden)
            if (hidden != null) {
                hidden.add(h);
            }
        }
        if (cache != null) {
            cache.advance(seq);
        }
        if (options.lastPositionOnly()) {
            h = h.get(new NDIndex(":, -1:, :")); // (batch, 1, hidden)
        }
        h = norm.forward(ps, h, training);
        NDArray head = lmHead != null ? ps.getValue(lmHead, h.getDevice(), training) : embed;
        NDArray logits = Linear.linear(h, head).singletonOrThrow(); // (batch, seq, vocab)
        return new Output(logits, routerLogits == null ? List.of() : routerLogits,
                hidden == null ? List.of() : hidden);
    }

    private void checkIds(NDArray ids) {
        long[] values = ids.toLongArray();
        long seq = ids.getShape().get(1);
        for (int i = 0; i < values.length; i++) {
            if (values[i] < 0 || values[i] >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + values[i] + " at (sequence " + i / seq + ", position "
                        + i % seq + ") is outside the vocabulary [0, " + config.vocabSize() + ")");
            }
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
        return new NDList(forward(ps, inputs.singletonOrThrow(), Options.DEFAULT, training).logits());
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape ids = inputShapes[0];
        return new Shape[] {new Shape(ids.get(0), ids.get(1), config.vocabSize())};
    }

    /** Frees the parameters. */
    @Override
    public void close() {
        manager.close();
    }
}

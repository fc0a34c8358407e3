package dev.turbosparse.model.gguf;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.TensorInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Mistral and Mixtral in GGUF, in two kinds of file.
 * <ul>
 *   <li>{@link Kind#DENSE}: as llama.cpp stores them, {@code general.architecture = "llama"}, which is what
 *       {@code convert_hf_to_gguf.py} writes for both. The architecture implies SwiGLU and full attention, as
 *       llama.cpp computes it (llama.cpp's llama architecture ignores a sliding window). PowerInfer's dense files of
 *       dReLU models ({@code "bamboo"}) are read too.</li>
 *   <li>{@link Kind#SPARSE}: turbosparse's sparse file, on PowerInfer's conventions: the magic
 *       {@link GgufFile#POWERINFER_MAGIC} in place of "GGUF" (llama.cpp refuses the file rather than misreading it),
 *       the architecture {@link #DRELU_ARCHITECTURE} for dReLU (PowerInfer's name for relu(gate) * relu(up); ReGLU
 *       keeps {@code "llama"}, which PowerInfer computes as relu(gate) * up in such a file), the down projection
 *       stored neuron-major as {@code ffn_down_t} (row i is neuron i's column of down_proj, so that the active
 *       neurons are contiguous reads), and the activation predictors as {@code fc1}/{@code fc2} with the threshold
 *       {@link #SPARSE_THRESHOLD}. Where PowerInfer defines nothing (Mixtral's experts), the names follow llama.cpp's
 *       stacked {@code _exps} tensors: {@code ffn_down_t_exps}, {@code fc1_exps}, {@code fc2_exps}. A sliding window is
 *       stored as {@code <arch>.attention.sliding_window}.</li>
 * </ul>
 *
 * <p>{@link #TABLE} and {@link #SPARSE_TABLE} are the one map between HF and GGUF tensor names. The transforms on the
 * way:
 * <ul>
 *   <li>attn_q and attn_k rows are permuted within each head, from HF's rotate-half order [2, headDim/2] to llama.cpp's
 *       interleaved pairs [headDim/2, 2];</li>
 *   <li>the experts' w1/w3/w2 are stacked in ffn_gate_exps/ffn_up_exps/ffn_down_exps along a leading expert axis;</li>
 *   <li>in a sparse file, down projections are transposed.</li>
 * </ul>
 */
public final class LlamaGguf {

    public static final String ARCHITECTURE = "llama";
    /** PowerInfer's architecture of dReLU models (Bamboo, TurboSparse-Mistral): llama with relu(gate) * relu(up). */
    public static final String DRELU_ARCHITECTURE = "bamboo";
    /** A sparse file's predictor threshold: a neuron is predicted active when its fc2 score is at least this. */
    public static final String SPARSE_THRESHOLD = "powerinfer.sparse_threshold";

    /** The two kinds of file: llama.cpp's dense one, and the sparse one on PowerInfer's conventions. */
    public enum Kind {
        DENSE, SPARSE;

        /** The kind a file's magic says. */
        public static Kind of(GgufFile g) {
            return g.magic().equals(GgufFile.POWERINFER_MAGIC) ? SPARSE : DENSE;
        }
    }

    /** How the rows of an HF tensor are arranged in the GGUF tensor. */
    public enum Layout {
        /** the same rows in the same order */
        SAME,
        /** q: rows permuted within each of num_attention_heads heads */
        PERMUTED_Q,
        /** k: rows permuted within each of num_key_value_heads heads */
        PERMUTED_K,
        /** expert E of a tensor stacked along a leading expert axis */
        EXPERT_SLICE,
        /** the transpose: the down projection (hidden, intermediate) stored neuron-major (intermediate, hidden) */
        TRANSPOSED,
        /** expert E's down projection, transposed, stacked along a leading expert axis */
        EXPERT_SLICE_TRANSPOSED;

        /** Whether the GGUF tensor stacks the experts of a layer. */
        public boolean stacked() {
            return this == EXPERT_SLICE || this == EXPERT_SLICE_TRANSPOSED;
        }

        /** Whether the GGUF tensor is the HF tensor transposed. */
        public boolean transposed() {
            return this == TRANSPOSED || this == EXPERT_SLICE_TRANSPOSED;
        }
    }

    /** One row of the table: an HF name pattern, the GGUF name it maps to ({@code %d} = layer), the layout. */
    public record Row(Pattern hf, String gguf, Layout layout) {}

    /** HF name → GGUF name, for Mistral and Mixtral. Group 1 of each pattern is the layer, group 2 the expert. */
    public static final List<Row> TABLE = List.of(
            new Row(Pattern.compile("model\\.embed_tokens\\.weight"), "token_embd.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.norm\\.weight"), "output_norm.weight", Layout.SAME),
            new Row(Pattern.compile("lm_head\\.weight"), "output.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.input_layernorm\\.weight"), "blk.%d.attn_norm.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.q_proj\\.weight"), "blk.%d.attn_q.weight", Layout.PERMUTED_Q),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.k_proj\\.weight"), "blk.%d.attn_k.weight", Layout.PERMUTED_K),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.v_proj\\.weight"), "blk.%d.attn_v.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.self_attn\\.o_proj\\.weight"), "blk.%d.attn_output.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.post_attention_layernorm\\.weight"), "blk.%d.ffn_norm.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.gate_proj\\.weight"), "blk.%d.ffn_gate.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.up_proj\\.weight"), "blk.%d.ffn_up.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.down_proj\\.weight"), "blk.%d.ffn_down.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.gate\\.weight"), "blk.%d.ffn_gate_inp.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.w1\\.weight"), "blk.%d.ffn_gate_exps.weight", Layout.EXPERT_SLICE),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.w3\\.weight"), "blk.%d.ffn_up_exps.weight", Layout.EXPERT_SLICE),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.w2\\.weight"), "blk.%d.ffn_down_exps.weight", Layout.EXPERT_SLICE));

    /**
     * Where a sparse file differs from {@link #TABLE}: the down projections neuron-major, and the predictors
     * (PowerInfer's {@code blk.N.fc1}/{@code fc2}; stacked per layer for Mixtral's experts).
     */
    public static final List<Row> SPARSE_TABLE = List.of(
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.down_proj\\.weight"), "blk.%d.ffn_down_t.weight", Layout.TRANSPOSED),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.w2\\.weight"), "blk.%d.ffn_down_t_exps.weight", Layout.EXPERT_SLICE_TRANSPOSED),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.predictor\\.fc1\\.weight"), "blk.%d.fc1.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.mlp\\.predictor\\.fc2\\.weight"), "blk.%d.fc2.weight", Layout.SAME),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.predictor\\.fc1\\.weight"), "blk.%d.fc1_exps.weight", Layout.EXPERT_SLICE),
            new Row(Pattern.compile("model\\.layers\\.(\\d+)\\.block_sparse_moe\\.experts\\.(\\d+)\\.predictor\\.fc2\\.weight"), "blk.%d.fc2_exps.weight", Layout.EXPERT_SLICE));

    /** Where an HF weight is in the GGUF file. */
    public record Location(String gguf, Layout layout, int expert) {}

    private LlamaGguf() {}

    /** The GGUF tensor and layout of an HF weight name in a dense file. */
    public static Location locate(String hfName) {
        return locate(hfName, Kind.DENSE);
    }

    /** The GGUF tensor and layout of an HF weight name in a file of the given kind. */
    public static Location locate(String hfName, Kind kind) {
        Location loc = kind == Kind.SPARSE ? find(SPARSE_TABLE, hfName) : null;
        if (loc == null) {
            loc = find(TABLE, hfName);
        }
        if (loc == null) {
            throw new IllegalArgumentException("no GGUF name for HF tensor '" + hfName + "'");
        }
        return loc;
    }

    private static Location find(List<Row> table, String hfName) {
        for (Row r : table) {
            Matcher m = r.hf().matcher(hfName);
            if (m.matches()) {
                String gguf = m.groupCount() >= 1 ? String.format(r.gguf(), Integer.parseInt(m.group(1))) : r.gguf();
                int expert = m.groupCount() >= 2 ? Integer.parseInt(m.group(2)) : -1;
                return new Location(gguf, r.layout(), expert);
            }
        }
        return null;
    }

    /**
     * The FFN activation a file computes, by its kind and architecture: {@code llama} is SwiGLU in a dense file and
     * ReGLU in a sparse one (as PowerInfer computes it), {@code bamboo} is dReLU.
     */
    public static FfnActivation activation(GgufFile g) {
        String arch = g.getString("general.architecture");
        if (arch == null) {
            throw new ModelFormatException(g.path() + ": metadata 'general.architecture' is missing");
        }
        Kind kind = Kind.of(g);
        if (arch.equals(DRELU_ARCHITECTURE)) {
            return FfnActivation.DRELU;
        }
        if (arch.equals(ARCHITECTURE)) {
            return kind == Kind.SPARSE ? FfnActivation.RELU : FfnActivation.SILU;
        }
        throw new ModelFormatException(g.path() + ": architecture '" + arch + "' is not supported; turbosparse"
                + " reads llama-architecture GGUF (Mistral and Mixtral as convert_hf_to_gguf.py writes them) and"
                + " its own sparse files ('" + DRELU_ARCHITECTURE + "', or 'llama' for ReGLU, marked \""
                + GgufFile.POWERINFER_MAGIC + "\")");
    }

    /** The architecture name a sparse file of a model with this activation gets. */
    public static String sparseArchitecture(FfnActivation activation) {
        return switch (activation) {
            case DRELU -> DRELU_ARCHITECTURE;
            case RELU -> ARCHITECTURE;
            default -> throw new IllegalArgumentException("a sparse GGUF holds dReLU or ReGLU models, not "
                    + activation.paperName());
        };
    }

    /**
     * The HF config a GGUF file describes (Mistral, or Mixtral when it has experts), with the FFN activation its kind
     * and architecture imply ({@link #activation}).
     */
    public static ModelConfig config(GgufFile g) {
        FfnActivation activation = activation(g);
        String p = g.getString("general.architecture") + ".";
        long hidden = g.requireLong(p + "embedding_length");
        long heads = g.requireLong(p + "attention.head_count");
        if (heads <= 0 || hidden <= 0) {
            throw new ModelFormatException(g.path() + ": metadata '" + p + (heads <= 0 ? "attention.head_count" : "embedding_length")
                    + "' must be positive, got " + (heads <= 0 ? heads : hidden));
        }
        long experts = g.getLong(p + "expert_count", 0);
        long vocab = g.getLong(p + "vocab_size", g.arrayLength("tokenizer.ggml.tokens"));
        if (vocab < 0) {
            long[] dims = g.tensor("token_embd.weight").dims();
            if (dims.length != 2) {
                throw new ModelFormatException(g.path() + ": tensor 'token_embd.weight' has dims "
                        + Arrays.toString(dims) + "; an embedding table has two");
            }
            vocab = dims[1];
        }
        ObjectNode c = JsonMapper.builder().build().createObjectNode();
        c.putArray("architectures").add(experts > 0 ? "MixtralForCausalLM" : "MistralForCausalLM");
        c.put("model_type", experts > 0 ? "mixtral" : "mistral");
        c.put("vocab_size", vocab);
        c.put("hidden_size", hidden);
        c.put("intermediate_size", g.requireLong(p + "feed_forward_length"));
        c.put("num_hidden_layers", g.requireLong(p + "block_count"));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", g.getLong(p + "attention.head_count_kv", heads));
        c.put("head_dim", g.getLong(p + "rope.dimension_count", g.getLong(p + "attention.key_length", hidden / heads)));
        c.put("hidden_act", activation.hiddenAct());
        if (activation == FfnActivation.DRELU) {
            c.put("ffn_activation", activation.configName());
        }
        c.put("max_position_embeddings", g.requireLong(p + "context_length"));
        c.put("rms_norm_eps", g.getDouble(p + "attention.layer_norm_rms_epsilon", 1e-5));
        c.put("rope_theta", g.getDouble(p + "rope.freq_base", 10000.0));
        if (g.metadata().containsKey(p + "attention.sliding_window")) {
            c.put("sliding_window", g.requireLong(p + "attention.sliding_window"));
        } else {
            c.putNull("sliding_window");
        }
        c.put("tie_word_embeddings", !g.tensors().containsKey("output.weight"));
        c.put("bos_token_id", g.getLong("tokenizer.ggml.bos_token_id", 1));
        c.put("eos_token_id", g.getLong("tokenizer.ggml.eos_token_id", 2));
        if (experts > 0) {
            c.put("num_local_experts", experts);
            c.put("num_experts_per_tok", g.requireLong(p + "expert_used_count"));
        }
        return ConfigIO.parse(g.path() + " (metadata)", c.toString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The rank of a sparse file's predictors, or 0 when it has none; every FFN's fc1 and fc2 are checked against the
     * config (PowerInfer's shapes: fc1 (rank, hidden), fc2 (intermediate, rank); stacked per layer for experts).
     */
    public static int predictorRank(GgufFile g, ModelConfig config) {
        if (Kind.of(g) != Kind.SPARSE) {
            return 0;
        }
        String first = locate(Predictors.prefix(config, 0, 0) + "fc1.weight", Kind.SPARSE).gguf();
        if (!g.tensors().containsKey(first)) {
            for (String name : g.tensors().keySet()) {
                if (name.matches("blk\\.\\d+\\.fc[12](_exps)?\\.weight")) {
                    throw new ModelFormatException(g.path() + ": has predictor tensor '" + name + "' but not '" + first
                            + "'; predictors come for every FFN or for none");
                }
            }
            return 0;
        }
        long[] shape = g.tensor(first).shape();
        int rank = (int) Math.min(Integer.MAX_VALUE, shape[shape.length - 2]);
        for (Predictors.Entry p : Predictors.entries(config, rank)) {
            Location loc = locate(p.hfName(), Kind.SPARSE);
            if (!g.tensors().containsKey(loc.gguf())) {
                throw new ModelFormatException(g.path() + ": predictor tensor '" + loc.gguf() + "' (HF '" + p.hfName()
                        + "') is missing; predictors come for every FFN or for none");
            }
            checkShape(g, g.tensor(loc.gguf()), loc, p.shape(), config);
        }
        return rank;
    }

    /**
     * Checks that a file holds exactly the tensors of its config, in the shapes the config implies, and the
     * predictors of every FFN or of none.
     *
     * @return the predictors' rank, or 0 when the file has none
     */
    public static int check(GgufFile g, ModelConfig config) {
        Kind kind = Kind.of(g);
        Set<String> used = new HashSet<>();
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            Location loc = locate(e.hfName(), kind);
            if (!g.tensors().containsKey(loc.gguf())) {
                throw new ModelFormatException(g.path() + ": tensor '" + loc.gguf() + "' (HF '" + e.hfName()
                        + "') is missing");
            }
            checkShape(g, g.tensor(loc.gguf()), loc, e.shape(), config);
            used.add(loc.gguf());
        }
        int rank = predictorRank(g, config);
        Predictors.entries(config, rank).forEach(p -> used.add(locate(p.hfName(), kind).gguf()));
        for (String name : g.tensors().keySet()) {
            if (!used.contains(name)) {
                throw new ModelFormatException(g.path() + ": unexpected tensor '" + name + "' for a "
                        + config.modelType() + " model");
            }
        }
        return rank;
    }

    /**
     * Loads a GGUF file (dense, or sparse: {@link Kind}) into a float32 DJL model, dequantizing on the way. A sparse
     * file's predictors are checked and left out: the DJL model computes every neuron.
     */
    public static CausalLM load(Path path, NDManager parent, LongConsumer progress) {
        try (GgufFile g = GgufFile.open(path)) {
            ModelConfig config = config(g);
            check(g, config);
            return CausalLM.create(config, parent, (e, dst) -> read(g, config, e, dst), DataType.FLOAT32, progress);
        }
    }

    /** Reads one HF weight out of the GGUF file into float32 at {@code dst}, in HF's layout and row order. */
    static void read(GgufFile g, ModelConfig config, HfWeightMap.Entry e, MemorySegment dst) {
        Location loc = locate(e.hfName(), Kind.of(g));
        GgufFile.TensorInfo t = g.tensor(loc.gguf());
        long[] want = e.shape();
        long first = loc.layout().stacked() ? loc.expert() * e.numel() : 0;
        if (loc.layout().transposed()) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment neuronMajor = arena.allocate(e.numel() * 4, 64);
                g.readFloat32(t, first, e.numel(), neuronMajor);
                Transpose.f32(neuronMajor, want[1], want[0], dst);
            }
            return;
        }
        if (loc.layout() == Layout.SAME || loc.layout() == Layout.EXPERT_SLICE) {
            g.readFloat32(t, first, e.numel(), dst);
            return;
        }
        int heads = loc.layout() == Layout.PERMUTED_Q ? config.numAttentionHeads() : config.numKeyValueHeads();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment permuted = arena.allocate(e.numel() * 4);
            g.readFloat32(t, 0, e.numel(), permuted);
            permuteRows(permuted, dst, heads, config.headDim(), want[1], false);
        }
    }

    /**
     * q or k rows from HF's rotate-half order to llama.cpp's interleaved pairs, in a new segment of {@code arena}
     * (what {@code convert_hf_to_gguf.py} does on export).
     */
    public static MemorySegment toGgufRotaryOrder(MemorySegment hf, int heads, int headDim, long cols, Arena arena) {
        MemorySegment out = arena.allocate((long) heads * headDim * cols * 4, 64);
        permuteRows(hf, out, heads, headDim, cols, true);
        return out;
    }

    /**
     * Moves rows between the two rotary orders: HF row (head, j, i) is GGUF row (head, i, j), for j in {0, 1} and
     * i below headDim/2 (llama.cpp pairs dimension i with i + headDim/2 by interleaving).
     */
    private static void permuteRows(MemorySegment src, MemorySegment dst, int heads, int headDim, long cols,
            boolean toGguf) {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < 2; j++) {
                for (int i = 0; i < half; i++) {
                    long hfRow = (long) h * 2 * half + (long) j * half + i;
                    long ggufRow = (long) h * 2 * half + (long) i * 2 + j;
                    long from = toGguf ? hfRow : ggufRow;
                    long to = toGguf ? ggufRow : hfRow;
                    MemorySegment.copy(src, from * cols * 4, dst, to * cols * 4, cols * 4);
                }
            }
        }
    }

    /**
     * The shape of the GGUF tensor holding an HF tensor of shape {@code hf} at {@code loc}: transposed and stacked as
     * the layout says.
     */
    public static long[] ggufShape(Location loc, long[] hf, ModelConfig config) {
        long[] s = loc.layout().transposed() ? new long[] {hf[1], hf[0]} : hf.clone();
        if (!loc.layout().stacked()) {
            return s;
        }
        long[] stacked = new long[s.length + 1];
        stacked[0] = config.numExperts();
        System.arraycopy(s, 0, stacked, 1, s.length);
        return stacked;
    }

    static void checkShape(GgufFile g, GgufFile.TensorInfo t, Location loc, long[] hf, ModelConfig config) {
        long[] want = ggufShape(loc, hf, config);
        if (!Arrays.equals(t.shape(), want)) {
            throw new ModelFormatException(g.path() + ": tensor '" + t.name() + "' has shape "
                    + TensorInfo.shapeString(t.shape()) + " (GGUF dims " + Arrays.toString(t.dims())
                    + "), but the metadata implies " + TensorInfo.shapeString(want));
        }
    }
}

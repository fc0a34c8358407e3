package dev.turbosparse.runtime;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.TensorInfo;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Opens a model for the runtime: a GGUF file (llama.cpp's dense one, or turbosparse's sparse one) or a Hugging Face
 * checkpoint folder (safetensors F32, F16 or BF16). The weights stay where the file is mapped; only the norms (1-D)
 * are read into arrays. Every name and shape is checked before a matrix is made, by the same checks the DJL
 * loaders use ({@link LlamaGguf#check}, {@link HfCheckpoint#checkWeights}).
 */
public final class RuntimeLoader {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RuntimeLoader() {}

    /** Where the weights of one source are: a matrix or a vector by HF name. */
    private interface Weights {
        /** The matrix as stored: the HF shape, or its transpose where {@link #transposed} says so. */
        Matrix matrix(String hfName, long[] shape);

        /** Whether the file stores this HF tensor transposed (a neuron-major down projection). */
        boolean transposed(String hfName);

        float[] vector(String hfName, long length);
    }

    /** Opens a GGUF file or an HF checkpoint folder. */
    public static RuntimeModel load(Path path) {
        if (Files.isRegularFile(path) && isGguf(path)) {
            return fromGguf(path);
        }
        if (Files.isDirectory(path)) {
            return fromHf(path);
        }
        throw new InputException(path + ": not a GGUF file or a Hugging Face checkpoint folder");
    }

    static boolean isGguf(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            String magic = new String(in.readNBytes(4), StandardCharsets.US_ASCII);
            return magic.equals(GgufFile.MAGIC) || magic.equals(GgufFile.POWERINFER_MAGIC);
        } catch (IOException e) {
            throw new InputException(file + ": cannot read: " + e.getMessage());
        }
    }

    static RuntimeModel fromGguf(Path path) {
        GgufFile g = GgufFile.open(path);
        boolean ok = false;
        try {
            ModelConfig config = LlamaGguf.config(g);
            LlamaGguf.Kind kind = LlamaGguf.Kind.of(g);
            int rank = LlamaGguf.check(g, config);
            Weights w = new Weights() {
                @Override
                public Matrix matrix(String hfName, long[] shape) {
                    LlamaGguf.Location loc = LlamaGguf.locate(hfName, kind);
                    GgufFile.TensorInfo t = g.tensor(loc.gguf());
                    long rows = loc.layout().transposed() ? shape[1] : shape[0];
                    long cols = loc.layout().transposed() ? shape[0] : shape[1];
                    MemorySegment bytes = g.bytes(t);
                    if (loc.layout().stacked()) {
                        long each = rows * t.type().bytesFor(cols);
                        bytes = bytes.asSlice(loc.expert() * each, each);
                    }
                    return new Matrix(hfName, t.type(), rows, cols, bytes);
                }

                @Override
                public boolean transposed(String hfName) {
                    return LlamaGguf.locate(hfName, kind).layout().transposed();
                }

                @Override
                public float[] vector(String hfName, long length) {
                    GgufFile.TensorInfo t = g.tensor(LlamaGguf.locate(hfName, kind).gguf());
                    return floats(length, dst -> g.readFloat32(t, 0, length, dst));
                }
            };
            float threshold = (float) g.getDouble(LlamaGguf.SPARSE_THRESHOLD, 0);
            RuntimeModel m = build(config, w, RuntimeModel.Rope.INTERLEAVED, rank, threshold, path.toString(), g);
            ok = true;
            return m;
        } finally {
            if (!ok) {
                g.close();
            }
        }
    }

    static RuntimeModel fromHf(Path folder) {
        ModelConfig config = ConfigIO.read(folder);
        SafetensorsCheckpoint st = SafetensorsCheckpoint.open(folder);
        boolean ok = false;
        try {
            int rank = HfCheckpoint.checkWeights(config, st);
            Weights w = new Weights() {
                @Override
                public Matrix matrix(String hfName, long[] shape) {
                    SafetensorsCheckpoint.Located l = st.get(hfName);
                    TensorInfo info = l.info();
                    GgmlType type = switch (info.dtype()) {
                        case F32 -> GgmlType.F32;
                        case F16 -> GgmlType.F16;
                        case BF16 -> GgmlType.BF16;
                        default -> throw new ModelFormatException(l.file().path() + ": tensor '" + hfName + "' is "
                                + info.dtype() + "; the runtime reads F32, F16 and BF16 safetensors");
                    };
                    return new Matrix(hfName, type, shape[0], shape[1], l.file().bytes(info));
                }

                @Override
                public boolean transposed(String hfName) {
                    return false;
                }

                @Override
                public float[] vector(String hfName, long length) {
                    return floats(length, dst -> st.readFloat32(hfName, dst));
                }
            };
            var threshold = config.extra().get("sparse_threshold");
            if (threshold != null && !threshold.isNumber()) {
                throw new ModelFormatException(folder.resolve(ConfigIO.FILE_NAME) + ": field 'sparse_threshold' must"
                        + " be a number, got " + threshold);
            }
            RuntimeModel m = build(config, w, RuntimeModel.Rope.HALF, rank,
                    threshold == null ? 0f : threshold.floatValue(), folder.toString(), st);
            ok = true;
            return m;
        } finally {
            if (!ok) {
                st.close();
            }
        }
    }

    private interface Fill {
        void into(MemorySegment dst);
    }

    private static float[] floats(long length, Fill fill) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(length * 4);
            fill.into(dst);
            float[] out = new float[Math.toIntExact(length)];
            for (int i = 0; i < out.length; i++) {
                out[i] = dst.getAtIndex(FLOAT, i);
            }
            return out;
        }
    }

    private static RuntimeModel build(ModelConfig c, Weights w, RuntimeModel.Rope rope, int rank, float threshold,
            String source, AutoCloseable closer) {
        Map<String, long[]> shapes = new HashMap<>();
        HfWeightMap.entries(c).forEach(e -> shapes.put(e.hfName(), e.shape()));
        Predictors.entries(c, rank).forEach(p -> shapes.put(p.hfName(), p.shape()));
        List<RuntimeModel.Layer> layers = new ArrayList<>();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            List<RuntimeModel.Ffn> experts = new ArrayList<>();
            for (int e = 0; e < c.numExperts(); e++) {
                String f = c.isMoe() ? p + "block_sparse_moe.experts." + e + "." : p + "mlp.";
                String gate = f + (c.isMoe() ? "w1" : "gate_proj") + ".weight";
                String up = f + (c.isMoe() ? "w3" : "up_proj") + ".weight";
                String down = f + (c.isMoe() ? "w2" : "down_proj") + ".weight";
                Matrix d = w.matrix(down, shapes.get(down));
                boolean neuronMajor = w.transposed(down);
                RuntimeModel.Predictor predictor = null;
                if (rank > 0) {
                    String pp = Predictors.prefix(c, l, e);
                    predictor = new RuntimeModel.Predictor(w.matrix(pp + "fc1.weight", shapes.get(pp + "fc1.weight")),
                            w.matrix(pp + "fc2.weight", shapes.get(pp + "fc2.weight")));
                }
                experts.add(new RuntimeModel.Ffn(w.matrix(gate, shapes.get(gate)), w.matrix(up, shapes.get(up)),
                        neuronMajor ? null : d, neuronMajor ? d : null, predictor));
            }
            String router = p + "block_sparse_moe.gate.weight";
            layers.add(new RuntimeModel.Layer(w.vector(p + "input_layernorm.weight", c.hiddenSize()),
                    w.matrix(p + "self_attn.q_proj.weight", shapes.get(p + "self_attn.q_proj.weight")),
                    w.matrix(p + "self_attn.k_proj.weight", shapes.get(p + "self_attn.k_proj.weight")),
                    w.matrix(p + "self_attn.v_proj.weight", shapes.get(p + "self_attn.v_proj.weight")),
                    w.matrix(p + "self_attn.o_proj.weight", shapes.get(p + "self_attn.o_proj.weight")),
                    w.vector(p + "post_attention_layernorm.weight", c.hiddenSize()),
                    c.isMoe() ? w.matrix(router, shapes.get(router)) : null, List.copyOf(experts)));
        }
        Matrix embeddings = w.matrix("model.embed_tokens.weight", shapes.get("model.embed_tokens.weight"));
        Matrix lmHead = c.tieWordEmbeddings() ? embeddings : w.matrix("lm_head.weight", shapes.get("lm_head.weight"));
        return new RuntimeModel(c, rope, embeddings, List.copyOf(layers), w.vector("model.norm.weight", c.hiddenSize()),
                lmHead, threshold, source, closer);
    }
}

package dev.turbosparse.eval.export;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.GgufWriter;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Exports a checkpoint as a dense GGUF file of llama.cpp's {@code llama} architecture, the way
 * {@code convert_hf_to_gguf.py} writes Mistral and Mixtral: the names of {@link LlamaGguf#TABLE}, q/k rows in
 * llama.cpp's interleaved rotary order, the experts stacked, 1-D tensors (norms) in F32, the tokenizer as
 * {@code tokenizer.ggml.*} metadata ({@link GgufVocab}).
 *
 * <p>The {@code llama} architecture computes SwiGLU. A model with another FFN activation is refused rather than
 * written under a name llama.cpp would silently compute wrongly; its GGUF is the sparse export.
 */
public final class GgufExporter {

    private static final Logger LOG = LogManager.getLogger(GgufExporter.class);

    private GgufExporter() {}

    /** GGUF's {@code general.file_type} of a dtype ({@code llama_ftype}: all F32, mostly F16, mostly BF16). */
    static int fileType(DType dtype) {
        return switch (dtype) {
            case F32 -> 0;
            case F16 -> 1;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("GGUF export writes f32, f16 or bf16, not " + dtype);
        };
    }

    static GgmlType ggmlType(DType dtype) {
        return switch (dtype) {
            case F32 -> GgmlType.F32;
            case F16 -> GgmlType.F16;
            case BF16 -> GgmlType.BF16;
            default -> throw new IllegalArgumentException("GGUF export writes f32, f16 or bf16, not " + dtype);
        };
    }

    /** Refuses a model llama.cpp's llama architecture would compute wrongly. */
    public static void checkDense(ModelConfig config, Path model) {
        if (config.activation() != FfnActivation.SILU) {
            throw new InputException(model + ": the FFN activation is " + config.activation().paperName()
                    + "; llama.cpp's 'llama' architecture computes SwiGLU and would silently misread this model."
                    + " Export it with --sparse (turbosparse's dReLU GGUF), or as Hugging Face safetensors");
        }
    }

    /**
     * Writes the dense GGUF file atomically.
     *
     * @param vocab the tokenizer, or null to write none ({@code tokenizer.ggml.model = "none"})
     * @param progress told the bytes of tensor data written so far, or null
     */
    public static void exportDense(ExportSource source, NeuronOrder order, DType dtype, GgufVocab vocab, Path out,
            LongConsumer progress) throws IOException {
        ModelConfig c = source.config();
        checkDense(c, source.folder());
        if (source.predictorRank() > 0) {
            LOG.warn("{}: the predictors are not written to a dense GGUF (llama.cpp has no use for them)", source.folder());
        }
        if (c.slidingWindow() != null && c.slidingWindow() < c.maxPositionEmbeddings()) {
            LOG.warn("{}: sliding_window {} is not stored: llama.cpp's llama architecture attends to the whole context,"
                    + " so its logits equal this model's for sequences up to {} tokens only", source.folder(),
                    c.slidingWindow(), c.slidingWindow());
        }
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", LlamaGguf.ARCHITECTURE);
        w.putString("general.name", source.folder().toAbsolutePath().getFileName().toString());
        w.putUint32("general.file_type", fileType(dtype));
        String p = LlamaGguf.ARCHITECTURE + ".";
        w.putUint32(p + "vocab_size", c.vocabSize());
        w.putUint32(p + "context_length", c.maxPositionEmbeddings());
        w.putUint32(p + "embedding_length", c.hiddenSize());
        w.putUint32(p + "block_count", c.numHiddenLayers());
        w.putUint32(p + "feed_forward_length", c.intermediateSize());
        w.putUint32(p + "attention.head_count", c.numAttentionHeads());
        w.putUint32(p + "attention.head_count_kv", c.numKeyValueHeads());
        w.putUint32(p + "rope.dimension_count", c.headDim());
        if ((long) c.headDim() * c.numAttentionHeads() != c.hiddenSize()) {
            w.putUint32(p + "attention.key_length", c.headDim());
            w.putUint32(p + "attention.value_length", c.headDim());
        }
        w.putFloat32(p + "rope.freq_base", (float) c.ropeTheta());
        w.putFloat32(p + "attention.layer_norm_rms_epsilon", (float) c.rmsNormEps());
        if (c.isMoe()) {
            w.putUint32(p + "expert_count", c.numExperts());
            w.putUint32(p + "expert_used_count", c.expertsPerToken());
        }
        if (vocab != null) {
            vocab.writeTo(w, c);
        } else {
            w.putString("tokenizer.ggml.model", "none");
        }
        addTensors(w, source, order, dtype, progress);
        w.write(out);
    }

    /**
     * Adds every model weight under its llama.cpp name, experts stacked: one GGUF tensor per {@link LlamaGguf#TABLE}
     * name, in the order of its first HF weight.
     */
    static void addTensors(GgufWriter w, ExportSource source, NeuronOrder order, DType dtype, LongConsumer progress) {
        ModelConfig c = source.config();
        Map<String, List<ExportSource.Tensor>> byName = new LinkedHashMap<>();
        Map<String, LlamaGguf.Layout> layouts = new LinkedHashMap<>();
        for (ExportSource.Tensor t : source.tensors()) {
            if (t.hfName().contains(".predictor.")) {
                continue;
            }
            LlamaGguf.Location loc = LlamaGguf.locate(t.hfName());
            byName.computeIfAbsent(loc.gguf(), k -> new ArrayList<>()).add(t);
            layouts.put(loc.gguf(), loc.layout());
        }
        long[] done = {0};
        for (var e : byName.entrySet()) {
            List<ExportSource.Tensor> parts = e.getValue();
            ExportSource.Tensor first = parts.getFirst();
            LlamaGguf.Layout layout = layouts.get(e.getKey());
            long[] shape = layout == LlamaGguf.Layout.EXPERT_SLICE
                    ? new long[] {parts.size(), first.shape()[0], first.shape()[1]} : first.shape();
            DType stored = shape.length == 1 ? DType.F32 : dtype;
            w.tensor(e.getKey(), shape, ggmlType(stored), ch -> {
                for (ExportSource.Tensor t : parts) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment f32 = arena.allocate(t.numel() * 4, 64);
                        source.readFloat32(t, order, f32);
                        if (layout == LlamaGguf.Layout.PERMUTED_Q || layout == LlamaGguf.Layout.PERMUTED_K) {
                            int heads = layout == LlamaGguf.Layout.PERMUTED_Q ? c.numAttentionHeads() : c.numKeyValueHeads();
                            f32 = LlamaGguf.toGgufRotaryOrder(f32, heads, c.headDim(), t.shape()[1], arena);
                        }
                        TensorSources.fromFloat32(f32, t.numel(), stored).writeTo(ch);
                    }
                    done[0] += t.numel() * stored.bytes();
                    if (progress != null) {
                        progress.accept(done[0]);
                    }
                }
            });
        }
    }

    /** Bytes of tensor data a dense export writes (for progress). */
    public static long denseBytes(ExportSource source, DType dtype) {
        return source.tensors().stream().filter(t -> !t.hfName().contains(".predictor."))
                .mapToLong(t -> t.numel() * (t.shape().length == 1 ? 4 : dtype.bytes())).sum();
    }
}

package dev.turbosparse.eval.export;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.GgufWriter;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.gguf.Transpose;
import dev.turbosparse.model.io.InputException;

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
 * Exports a checkpoint as GGUF, in either kind of {@link LlamaGguf}:
 * <ul>
 *   <li>dense, of llama.cpp's {@code llama} architecture, the way {@code convert_hf_to_gguf.py} writes Mistral and
 *       Mixtral: the names of {@link LlamaGguf#TABLE}, q/k rows in llama.cpp's interleaved rotary order, the experts
 *       stacked, 1-D tensors (norms) in F32, the tokenizer as {@code tokenizer.ggml.*} metadata ({@link GgufVocab});</li>
 *   <li>sparse, for dReLU and ReGLU models, on PowerInfer's conventions ({@link LlamaGguf.Kind#SPARSE}): the same,
 *       but marked "PWRI", of architecture {@code bamboo} for dReLU, the down projections neuron-major, the
 *       predictors included, the sliding window kept, and {@code output.weight} always present (PowerInfer requires
 *       it: a tied model gets a copy of its embeddings).</li>
 * </ul>
 *
 * <p>The {@code llama} architecture computes SwiGLU. A model with another FFN activation is refused as dense rather
 * than written under a name llama.cpp would silently compute wrongly; its GGUF is the sparse one.
 */
public final class GgufExporter {

    private static final Logger LOG = LogManager.getLogger(GgufExporter.class);

    /**
     * Tensor data starts on a page (written as {@code general.alignment}, which llama.cpp reads), where GGUF's
     * default is 32 bytes: a row of 4 KiB (2048 halves) is then one page, not the end of one and the start of the
     * next, and hardware prefetchers, which do not cross a page boundary, can follow it whole. The sparse modes read such
     * rows scattered; on the 1.0 B benchmark model at 90% zeros exact decoded 20.1-21.4 tokens/s page-aligned against
     * 16.5-17.9 (docs/BENCHMARKS.md). A file grows by less than a page per tensor.
     */
    static final int DATA_ALIGNMENT = 4096;

    private GgufExporter() {}

    /** GGUF's {@code general.file_type} of a type ({@code llama_ftype}: all F32, mostly F16, Q4_0, Q8_0, BF16). */
    static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case BF16 -> 32;
        };
    }

    /**
     * The type a tensor is stored in: 1-D tensors (norms) in F32, matrices in the export's type, or in F16 where
     * their rows are not whole blocks of a quantized type (as llama.cpp's quantizer falls back).
     */
    static GgmlType stored(long[] shape, GgmlType type) {
        if (shape.length == 1) {
            return GgmlType.F32;
        }
        return shape[shape.length - 1] % type.blockElements() == 0 ? type : GgmlType.F16;
    }

    /** Refuses a model that a file of this kind cannot hold: dense is SwiGLU, sparse is dReLU or ReGLU. */
    public static void check(ModelConfig config, Path model, LlamaGguf.Kind kind) {
        FfnActivation a = config.activation();
        if (kind == LlamaGguf.Kind.DENSE && a != FfnActivation.SILU) {
            throw new InputException(model + ": the FFN activation is " + a.paperName()
                    + "; llama.cpp's 'llama' architecture computes SwiGLU and would silently misread this model."
                    + (a.zeroGateMeansZeroOutput() ? " Export it with --sparse (the sparse GGUF of PowerInfer's"
                            + " conventions), or as Hugging Face safetensors" : " Export it as Hugging Face safetensors"));
        }
        if (kind == LlamaGguf.Kind.SPARSE && !a.zeroGateMeansZeroOutput()) {
            throw new InputException(model + ": the FFN activation is " + a.paperName() + ", which has no exact zeros"
                    + " to skip; a sparse GGUF holds dReLU or ReGLU models (swap the activation and train first:"
                    + " `turbosparse swap`, `turbosparse train`), or export this one without --sparse");
        }
    }

    /**
     * Writes the GGUF file atomically.
     *
     * @param vocab the tokenizer, or null to write none ({@code tokenizer.ggml.model = "none"})
     * @param sparseThreshold with predictors in a sparse file: {@link LlamaGguf#SPARSE_THRESHOLD}
     * @param progress told the bytes of tensor data written so far, or null
     */
    public static void export(ExportSource source, NeuronOrder order, GgmlType type, GgufVocab vocab,
            LlamaGguf.Kind kind, float sparseThreshold, Path out, LongConsumer progress) throws IOException {
        ModelConfig c = source.config();
        check(c, source.folder(), kind);
        boolean sparse = kind == LlamaGguf.Kind.SPARSE;
        boolean window = c.slidingWindow() != null && c.slidingWindow() < c.maxPositionEmbeddings();
        if (!sparse && source.predictorRank() > 0) {
            LOG.warn("{}: the predictors are not written to a dense GGUF (llama.cpp has no use for them)", source.folder());
        }
        if (sparse && source.predictorRank() == 0) {
            LOG.warn("{}: the model has no predictors: turbosparse's runtime runs this sparse file (dense and exact"
                    + " modes), PowerInfer refuses it (it needs blk.N.fc1/fc2)", source.folder());
        }
        if (sparse && type != GgmlType.F16) {
            LOG.warn("{}: PowerInfer's CPU kernels read ffn_down_t as F16 whatever its type (Q4_0 has a kernel of its"
                    + " own, not checked here): this {} file runs in turbosparse, and in PowerInfer when exported with"
                    + " --dtype f16", source.folder(), type);
        }
        if (!sparse && window) {
            LOG.warn("{}: sliding_window {} is not stored: llama.cpp's llama architecture attends to the whole context,"
                    + " so its logits equal this model's for sequences up to {} tokens only", source.folder(),
                    c.slidingWindow(), c.slidingWindow());
        }
        String arch = sparse ? LlamaGguf.sparseArchitecture(c.activation()) : LlamaGguf.ARCHITECTURE;
        GgufWriter w = new GgufWriter(sparse ? GgufFile.POWERINFER_MAGIC : GgufFile.MAGIC).alignment(DATA_ALIGNMENT);
        w.putString("general.architecture", arch);
        w.putString("general.name", source.folder().toAbsolutePath().getFileName().toString());
        w.putUint32("general.file_type", fileType(type));
        String p = arch + ".";
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
        if (sparse && window) {
            w.putUint32(p + "attention.sliding_window", c.slidingWindow());
        }
        if (sparse && source.predictorRank() > 0) {
            w.putFloat32(LlamaGguf.SPARSE_THRESHOLD, sparseThreshold);
        }
        if (vocab != null) {
            vocab.writeTo(w, c);
        } else {
            w.putString("tokenizer.ggml.model", "none");
        }
        addTensors(w, source, order, type, kind, progress);
        w.write(out);
    }

    /**
     * Adds every tensor under its GGUF name, experts stacked: one GGUF tensor per name of the kind's table, in the
     * order of its first HF tensor. Dense files leave the predictors out.
     */
    static void addTensors(GgufWriter w, ExportSource source, NeuronOrder order, GgmlType type, LlamaGguf.Kind kind,
            LongConsumer progress) {
        ModelConfig c = source.config();
        Map<String, List<ExportSource.Tensor>> byName = new LinkedHashMap<>();
        Map<String, LlamaGguf.Location> locations = new LinkedHashMap<>();
        for (ExportSource.Tensor t : tensors(source, kind)) {
            LlamaGguf.Location loc = LlamaGguf.locate(t.hfName(), kind);
            byName.computeIfAbsent(loc.gguf(), k -> new ArrayList<>()).add(t);
            locations.put(loc.gguf(), loc);
        }
        if (kind == LlamaGguf.Kind.SPARSE && c.tieWordEmbeddings()) {
            // PowerInfer requires output.weight: a tied model's lm head is written as a copy of its embeddings
            ExportSource.Tensor embeddings = byName.get("token_embd.weight").getFirst();
            byName.put("output.weight", List.of(embeddings));
            locations.put("output.weight", LlamaGguf.locate("lm_head.weight", kind));
        }
        long[] done = {0};
        for (var e : byName.entrySet()) {
            List<ExportSource.Tensor> parts = e.getValue();
            ExportSource.Tensor first = parts.getFirst();
            LlamaGguf.Layout layout = locations.get(e.getKey()).layout();
            long[] shape = LlamaGguf.ggufShape(locations.get(e.getKey()), first.shape(), c);
            GgmlType stored = stored(shape, type);
            w.tensor(e.getKey(), shape, stored, ch -> {
                for (ExportSource.Tensor t : parts) {
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment f32 = arena.allocate(t.numel() * 4, 64);
                        source.readFloat32(t, order, f32);
                        if (layout == LlamaGguf.Layout.PERMUTED_Q || layout == LlamaGguf.Layout.PERMUTED_K) {
                            int heads = layout == LlamaGguf.Layout.PERMUTED_Q ? c.numAttentionHeads() : c.numKeyValueHeads();
                            f32 = LlamaGguf.toGgufRotaryOrder(f32, heads, c.headDim(), t.shape()[1], arena);
                        } else if (layout.transposed()) {
                            MemorySegment neuronMajor = arena.allocate(t.numel() * 4, 64);
                            Transpose.f32(f32, t.shape()[0], t.shape()[1], neuronMajor);
                            f32 = neuronMajor;
                        }
                        stored.fromFloat32(f32, t.numel()).writeTo(ch);
                    }
                    done[0] += stored.bytesFor(t.numel());
                    if (progress != null) {
                        progress.accept(done[0]);
                    }
                }
            });
        }
    }

    /** The tensors a file of this kind holds: a dense one has no predictors. */
    private static List<ExportSource.Tensor> tensors(ExportSource source, LlamaGguf.Kind kind) {
        return source.tensors().stream()
                .filter(t -> kind == LlamaGguf.Kind.SPARSE || !t.hfName().contains(".predictor."))
                .toList();
    }

    /** Bytes of tensor data an export writes (for progress). */
    public static long bytes(ExportSource source, GgmlType type, LlamaGguf.Kind kind) {
        ModelConfig c = source.config();
        long[] head = {c.vocabSize(), c.hiddenSize()};
        long lmHeadCopy = kind == LlamaGguf.Kind.SPARSE && c.tieWordEmbeddings()
                ? stored(head, type).bytesFor(head[0] * head[1]) : 0;
        return tensors(source, kind).stream().mapToLong(t -> stored(t.shape(), type).bytesFor(t.numel())).sum()
                + lmHeadCopy;
    }
}

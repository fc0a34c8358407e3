package dev.turbosparse.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorInfo;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Hugging Face checkpoint folders ({@code config.json}, safetensors weights, tokenizer files) to and from
 * {@link CausalLM}s, plus the operations on folders that need no model in memory: random initialisation straight to
 * disk and the activation swap.
 */
public final class HfCheckpoint {

    private static final Logger LOG = LogManager.getLogger(HfCheckpoint.class);

    /** Files of a checkpoint folder that describe the tokenizer and generation, copied along with the weights. */
    public static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "tokenizer.model", "generation_config.json");

    /** transformers' default shard size. */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    /** Tensors some HF checkpoints carry that are buffers, not weights. */
    private static final java.util.regex.Pattern IGNORED = java.util.regex.Pattern.compile(
            "model\\.layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq");

    private HfCheckpoint() {}

    /** Loads config and weights of a checkpoint folder into a float32 model. */
    public static CausalLM load(Path folder, NDManager parent) {
        return load(folder, parent, null);
    }

    /**
     * Loads config and weights of a checkpoint folder into a float32 model. Each tensor is converted from the file's
     * mapping straight into the parameter's storage: no tensor is copied twice, none is held on the Java heap.
     *
     * @param progress told the number of parameters loaded so far, or null
     */
    public static CausalLM load(Path folder, NDManager parent, LongConsumer progress) {
        ModelConfig config = ConfigIO.read(folder);
        try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(folder)) {
            return load(config, weights, parent, progress);
        }
    }

    /**
     * Loads weights that match a config into a new float32 model. Predictors the checkpoint carries are checked and
     * left out: the model computes every neuron.
     */
    public static CausalLM load(ModelConfig config, SafetensorsCheckpoint weights, NDManager parent,
            LongConsumer progress) {
        checkWeights(config, weights);
        return CausalLM.create(config, parent, (e, dst) -> {
            SafetensorsCheckpoint.Located l = weights.get(e.hfName());
            l.file().readFloat32(l.info(), dst);
        }, DataType.FLOAT32, progress);
    }

    /**
     * Checks that a checkpoint's weights are exactly those the config implies, plus the activation predictors under
     * TurboSparse's names ({@link Predictors}) for every FFN or none: every name, shape and dtype (F32, F16 or BF16).
     *
     * @return the predictors' rank, or 0 when the checkpoint has none
     */
    public static int checkWeights(ModelConfig config, SafetensorsCheckpoint weights) {
        int rank = Predictors.rank(weights.folder(), config, weights);
        Map<String, long[]> expected = new LinkedHashMap<>();
        HfWeightMap.entries(config).forEach(e -> expected.put(e.hfName(), e.shape()));
        Predictors.entries(config, rank).forEach(p -> expected.put(p.hfName(), p.shape()));
        checkTensorNames(config, expected.keySet(), weights);
        expected.forEach((name, shape) -> {
            SafetensorsCheckpoint.Located l = weights.get(name);
            TensorInfo info = l.info();
            if (!info.hasShape(shape)) {
                throw new ModelFormatException(l.file().path() + ": tensor '" + name + "' has shape "
                        + TensorInfo.shapeString(info.shape()) + ", but config.json implies "
                        + TensorInfo.shapeString(shape));
            }
            if (!info.dtype().isFloatingPoint()) {
                throw new ModelFormatException(l.file().path() + ": tensor '" + name + "' is " + info.dtype()
                        + "; weights must be F32, F16 or BF16");
            }
        });
        return rank;
    }

    /**
     * Refuses weights that are not exactly the ones the config implies, naming the first missing and the first
     * unexpected tensor, and saying so when the weights look like the other architecture.
     */
    static void checkTensorNames(ModelConfig config, Set<String> expected, SafetensorsCheckpoint weights) {
        List<String> missing = new ArrayList<>();
        for (String name : expected) {
            if (!weights.contains(name)) {
                missing.add(name);
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : weights.tensors().keySet()) {
            boolean tiedHead = config.tieWordEmbeddings() && name.equals("lm_head.weight");
            if (!expected.contains(name) && !tiedHead && !IGNORED.matcher(name).matches()) {
                unexpected.add(name);
            }
        }
        if (missing.isEmpty() && unexpected.isEmpty()) {
            return;
        }
        String where = weights.files().size() == 1 ? weights.files().getFirst().path().toString()
                : weights.folder().resolve(SafetensorsCheckpoint.INDEX_FILE).toString();
        StringBuilder msg = new StringBuilder(where).append(": the weights do not match config.json (")
                .append(config.modelType()).append(", ").append(config.numHiddenLayers()).append(" layers")
                .append(config.isMoe() ? ", " + config.numExperts() + " experts" : "").append("): ");
        if (!missing.isEmpty()) {
            msg.append(missing.size()).append(" tensor(s) missing, first '").append(missing.getFirst()).append("'");
        }
        if (!unexpected.isEmpty()) {
            msg.append(missing.isEmpty() ? "" : "; ").append(unexpected.size())
                    .append(" unexpected tensor(s), first '").append(unexpected.getFirst()).append("'");
        }
        boolean denseWeights = unexpected.stream().anyMatch(n -> n.contains(".mlp.gate_proj."));
        boolean moeWeights = unexpected.stream().anyMatch(n -> n.contains(".block_sparse_moe."));
        if (config.isMoe() && denseWeights) {
            msg.append(" (config.json says Mixtral, but these are Mistral weights with a dense FFN)");
        } else if (!config.isMoe() && moeWeights) {
            msg.append(" (config.json says Mistral, but these are Mixtral weights with experts)");
        }
        throw new ModelFormatException(msg.toString());
    }

    /**
     * Saves a model as a checkpoint folder: weights in {@code dtype} (one file, or shards above
     * {@code maxShardBytes}), then config.json with that torch_dtype. Each file is written atomically.
     */
    public static void save(CausalLM model, Path folder, DType dtype, long maxShardBytes) throws IOException {
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("weights are saved as f32, f16 or bf16, not " + dtype);
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        Map<String, Parameter> params = model.parametersByName();
        for (HfWeightMap.Entry e : HfWeightMap.entries(model.config())) {
            NDArray array = params.get(e.internalName()).getArray();
            entries.add(new SafetensorsWriter.Entry(e.hfName(), dtype, e.shape(), ch -> {
                NDArray f32 = array.getDataType() == DataType.FLOAT32 ? array : array.toType(DataType.FLOAT32, true);
                try {
                    ByteBuffer bytes = f32.toByteBuffer(true);
                    TensorSources.fromFloat32(MemorySegment.ofBuffer(bytes), e.numel(), dtype).writeTo(ch);
                } finally {
                    if (f32 != array) {
                        f32.close();
                    }
                }
            }));
        }
        SafetensorsWriter.writeCheckpoint(folder, entries, maxShardBytes, SafetensorsWriter.PT_METADATA);
        ConfigIO.write(model.config().withTorchDtype(dtype.torchName()), folder);
    }

    /** A model with {@link WeightInit}'s random values for {@code seed}, in float32. */
    public static CausalLM random(ModelConfig config, NDManager parent, long seed) {
        return random(config, parent, seed, DataType.FLOAT32);
    }

    /** A model with {@link WeightInit}'s random values for {@code seed}, held as {@code dtype} (float64 serves gradient checks). */
    public static CausalLM random(ModelConfig config, NDManager parent, long seed, DataType dtype) {
        return CausalLM.create(config, parent, (e, dst) -> WeightInit.values(config, e, seed).next(dst, e.numel()),
                dtype, null);
    }

    /**
     * Writes a randomly initialised checkpoint for a config straight to disk, without a model in memory: each tensor
     * is generated, converted and written a chunk at a time. The values equal {@link #random}'s for the seed.
     */
    public static void writeRandom(ModelConfig config, Path folder, DType dtype, long seed, long maxShardBytes,
            LongConsumer progress) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        long[] done = {0};
        long chunk = 1L << 22;
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            entries.add(new SafetensorsWriter.Entry(e.hfName(), dtype, e.shape(), ch -> {
                WeightInit.TensorValues values = WeightInit.values(config, e, seed);
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment f32 = arena.allocate(Math.min(chunk, e.numel()) * 4);
                    for (long i = 0; i < e.numel(); i += chunk) {
                        long n = Math.min(chunk, e.numel() - i);
                        values.next(f32, n);
                        TensorSources.fromFloat32(f32, n, dtype).writeTo(ch);
                        done[0] += n * dtype.bytes();
                        if (progress != null) {
                            progress.accept(done[0]);
                        }
                    }
                }
            }));
        }
        SafetensorsWriter.writeCheckpoint(folder, entries, maxShardBytes, SafetensorsWriter.PT_METADATA);
        ConfigIO.write(config.withTorchDtype(dtype.torchName()), folder);
    }

    /**
     * Swaps the FFN activation of a checkpoint by name, without touching a weight: the weight and tokenizer files are
     * copied byte for byte (unless {@code to} is {@code from}) and config.json is rewritten to say the new activation
     * ({@code hidden_act} and {@code ffn_activation}).
     */
    public static ModelConfig swapActivation(Path from, Path to, FfnActivation activation) throws IOException {
        ModelConfig config = ConfigIO.read(from);
        if (!Files.isSameFile(Files.createDirectories(to), from)) {
            try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(from)) {
                if (checkWeights(config, weights) > 0) {
                    throw new ModelFormatException(from + ": has activation predictors, which were trained for its "
                            + config.activation().paperName() + " activation; swap a checkpoint without them");
                }
                for (var f : weights.files()) {
                    copyFile(f.path(), to.resolve(f.path().getFileName()));
                }
            }
            Path index = from.resolve(SafetensorsCheckpoint.INDEX_FILE);
            if (Files.exists(index)) {
                copyFile(index, to.resolve(SafetensorsCheckpoint.INDEX_FILE));
            }
            copyTokenizerFiles(from, to);
        }
        ModelConfig swapped = config.withActivation(activation);
        ConfigIO.write(swapped, to);
        LOG.info("{}: FFN activation {} ({}) -> {} ({})", to, config.activation().configName(),
                config.activation().paperName(), activation.configName(), activation.paperName());
        return swapped;
    }

    /** Copies the tokenizer and generation files that exist in {@code from} into {@code to}. */
    public static void copyTokenizerFiles(Path from, Path to) throws IOException {
        for (String name : TOKENIZER_FILES) {
            Path src = from.resolve(name);
            if (Files.isRegularFile(src)) {
                copyFile(src, to.resolve(name));
            }
        }
    }

    private static void copyFile(Path src, Path dst) throws IOException {
        AtomicFiles.write(dst, (FileChannel out) -> {
            try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
                long size = in.size();
                for (long pos = 0; pos < size;) {
                    pos += in.transferTo(pos, size - pos, out);
                }
            }
        });
    }
}

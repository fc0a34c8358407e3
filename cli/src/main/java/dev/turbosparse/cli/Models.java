package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.LongConsumer;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/** Model paths as users give them (a Hugging Face checkpoint folder or a GGUF file), and loading with progress. */
final class Models {

    private static final Logger LOG = LogManager.getLogger(Models.class);

    private Models() {}

    /** A model on disk: an HF checkpoint folder, or a GGUF file. */
    record ModelPath(Path path, boolean gguf) {

        ModelConfig config() {
            if (!gguf) {
                return ConfigIO.read(path);
            }
            try (GgufFile g = GgufFile.open(path)) {
                return LlamaGguf.config(g);
            }
        }

        /** Refuses --tokens ids outside the model's vocabulary, naming the id and its position. */
        void checkTokens(long[] tokens) {
            int vocabSize = config().vocabSize();
            for (int i = 0; i < tokens.length; i++) {
                if (tokens[i] < 0 || tokens[i] >= vocabSize) {
                    throw new Cli.UserError("--tokens: id " + tokens[i] + " at position " + i
                            + " is outside the vocabulary [0, " + vocabSize + ") of " + path);
                }
            }
        }

        /**
         * Loads the model into a float32 DJL model with a progress bar, logging the process's memory before and after
         * at debug level (--verbose).
         */
        CausalLM load(NDManager manager) {
            LOG.debug("before loading {}: {}", path, ProcessMemory.now());
            long start = System.nanoTime();
            ModelConfig config = config();
            long parameters = HfWeightMap.entries(config).stream().mapToLong(HfWeightMap.Entry::numel).sum();
            CausalLM model;
            try (Progress progress = Progress.bytes("loading " + path.getFileName() + " as float32", parameters * 4)) {
                LongConsumer step = n -> progress.stepTo(n * 4);
                model = gguf ? LlamaGguf.load(path, manager, step) : HfCheckpoint.load(path, manager, step);
            }
            LOG.debug("loaded {} parameters ({} MiB as float32) in {} s; {}", String.format("%,d", parameters),
                    parameters * 4 >> 20, String.format("%.1f", (System.nanoTime() - start) / 1e9), ProcessMemory.now());
            return model;
        }
    }

    /** A model path: a GGUF file, or a Hugging Face checkpoint folder (or a config.json/safetensors file in one). */
    static ModelPath resolve(Path path) {
        // a .gguf file is read as one, so that a damaged one is named for what is wrong with it (its magic, say)
        if (Files.isRegularFile(path) && (isGguf(path) || path.getFileName().toString().endsWith(".gguf"))) {
            return new ModelPath(path, true);
        }
        return new ModelPath(checkpointFolder(path), false);
    }

    /**
     * The Hugging Face checkpoint folder a path names: the folder itself, or the folder of a config.json or
     * safetensors file inside it.
     */
    static Path checkpointFolder(Path path) {
        if (!Files.exists(path)) {
            throw new Cli.UserError(path + ": not found");
        }
        if (Files.isRegularFile(path)) {
            if (isGguf(path)) {
                throw new Cli.UserError(path + ": a GGUF file; this command needs a Hugging Face checkpoint folder"
                        + " (config.json, safetensors and tokenizer.json)");
            }
            String name = path.getFileName().toString();
            if (name.equals(ConfigIO.FILE_NAME) || name.endsWith(".safetensors")
                    || name.equals(SafetensorsCheckpoint.INDEX_FILE)) {
                path = path.toAbsolutePath().getParent();
            } else {
                throw new Cli.UserError(path + ": not a model; give a Hugging Face checkpoint folder (config.json"
                        + " and model.safetensors) or a GGUF file");
            }
        }
        if (!Files.isRegularFile(path.resolve(ConfigIO.FILE_NAME))) {
            throw new Cli.UserError(path + ": no config.json; a Hugging Face checkpoint folder holds config.json and"
                    + " model.safetensors (or its shards and model.safetensors.index.json)");
        }
        return path;
    }

    /** Whether a file starts with GGUF's magic, or PowerInfer's mark of a sparse GGUF file. */
    static boolean isGguf(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            String magic = new String(in.readNBytes(4), StandardCharsets.US_ASCII);
            return magic.equals(GgufFile.MAGIC) || magic.equals(GgufFile.POWERINFER_MAGIC);
        } catch (IOException e) {
            return false;
        }
    }
}

package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Model paths as users give them, and loading with progress. */
final class Models {

    private static final org.apache.logging.log4j.Logger LOG = org.apache.logging.log4j.LogManager.getLogger(Models.class);

    private Models() {}

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
                throw new Cli.UserError(path + ": a GGUF file; this build reads Hugging Face checkpoint folders"
                        + " (config.json + safetensors), GGUF arrives with the sparse runtime");
            }
            String name = path.getFileName().toString();
            if (name.equals(ConfigIO.FILE_NAME) || name.endsWith(".safetensors")
                    || name.equals(SafetensorsCheckpoint.INDEX_FILE)) {
                path = path.toAbsolutePath().getParent();
            } else {
                throw new Cli.UserError(path + ": not a model; give a Hugging Face checkpoint folder (config.json"
                        + " and model.safetensors)");
            }
        }
        if (!Files.isRegularFile(path.resolve(ConfigIO.FILE_NAME))) {
            throw new Cli.UserError(path + ": no config.json; a Hugging Face checkpoint folder holds config.json and"
                    + " model.safetensors (or its shards and model.safetensors.index.json)");
        }
        return path;
    }

    static boolean isGguf(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(4), "GGUF".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Loads a checkpoint folder into a float32 DJL model, with a progress bar over the weight bytes. Logs the
     * process's memory before and after at debug level (--verbose).
     */
    static CausalLM load(Path folder, NDManager manager) {
        ModelConfig config = ConfigIO.read(folder);
        LOG.debug("before loading {}: {}", folder, ProcessMemory.now());
        long start = System.nanoTime();
        CausalLM model;
        long parameters = 0;
        try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(folder);
                Progress progress = Progress.bytes("loading " + folder.getFileName(), weights.tensorBytes())) {
            model = HfCheckpoint.load(config, weights, manager, progress::stepTo);
            for (var l : weights.tensors().values()) {
                parameters += l.info().numel();
            }
        }
        LOG.debug("loaded {} parameters ({} MiB as float32) in {} s; {}", String.format("%,d", parameters),
                parameters * 4 >> 20, String.format("%.1f", (System.nanoTime() - start) / 1e9), ProcessMemory.now());
        return model;
    }
}

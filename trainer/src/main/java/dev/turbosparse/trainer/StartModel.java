package dev.turbosparse.trainer;

import ai.djl.ndarray.NDManager;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;

import java.io.IOException;
import java.nio.file.Files;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The model a run starts from: an HF checkpoint on any Hadoop file system (copied to local disk first when it is not
 * local, since weights are memory-mapped), loaded in float32 whatever its dtype (DJL cannot hold bf16), with the
 * recipe's activation swapped in; or random weights for a config.json.
 *
 * @param model the float32 model
 * @param tokenizer its tokenizer files
 * @param saveDtype the dtype the final model is saved in: the start checkpoint's (or the config's torch_dtype)
 */
record StartModel(CausalLM model, TokenizerFiles tokenizer, DType saveDtype) {

    private static final Logger LOG = LogManager.getLogger(StartModel.class);

    /** Loads or initialises the start model of a recipe on {@code manager}'s device. */
    static StartModel load(Recipe r, NDManager manager, Configuration conf, Trainer.Listener listener)
            throws IOException {
        FfnActivation swap = r.swapTo();
        if (r.model().init() != null) {
            Path configPath = Fs.path(r.model().config());
            FileSystem fs = Fs.fs(configPath, conf);
            Path file = fs.exists(configPath) && fs.getFileStatus(configPath).isDirectory()
                    ? new Path(configPath, ConfigIO.FILE_NAME) : configPath;
            ModelConfig config = ConfigIO.parse(file.toString(), Fs.readAll(fs, file, 16L << 20));
            if (swap != null) {
                config = config.withActivation(swap);
            }
            TokenizerFiles tok = TokenizerFiles.read(r.model().tokenizer(), conf);
            LOG.info("random {} model ({} layers, hidden {}, FFN activation {}), seed {}", config.modelType(),
                    config.numHiddenLayers(), config.hiddenSize(), config.activation().configName(), r.seedValue());
            listener.loading(Trainer.parameterCount(config));
            CausalLM model = HfCheckpoint.random(config, manager, r.seedValue());
            listener.loaded(Trainer.parameterCount(config));
            return new StartModel(model, tok, dtypeOf(config));
        }
        Path base = Fs.path(r.model().base());
        FileSystem fs = Fs.fs(base, conf);
        boolean local = "file".equals(fs.getUri().getScheme());
        java.nio.file.Path folder = local ? java.nio.file.Path.of(base.toUri()) : stage(fs, base);
        try {
            if (!SafetensorsCheckpoint.isCheckpoint(folder)) {
                throw new InputException(base + ": not an HF checkpoint folder (config.json and model.safetensors or"
                        + " model.safetensors.index.json)");
            }
            ModelConfig config = ConfigIO.read(folder);
            DType saveDtype = dtypeOf(config);
            if (swap != null && swap != config.activation()) {
                LOG.info("{}: FFN activation {} ({}) swapped for {} ({})", base, config.activation().configName(),
                        config.activation().paperName(), swap.configName(), swap.paperName());
                config = config.withActivation(swap);
            }
            TokenizerFiles tok = TokenizerFiles.read(base.toString(), conf);
            try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(folder)) {
                listener.loading(Trainer.parameterCount(config));
                CausalLM model = HfCheckpoint.load(config, weights, manager, listener::loaded);
                return new StartModel(model, tok, saveDtype);
            }
        } finally {
            if (!local) {
                deleteTree(folder);
            }
        }
    }

    /** The dtype a config's torch_dtype names; float32 if it names none this project writes. */
    static DType dtypeOf(ModelConfig config) {
        try {
            DType d = config.torchDtype() == null ? DType.F32 : DType.parseWeightType(config.torchDtype());
            return d.isFloatingPoint() ? d : DType.F32;
        } catch (IllegalArgumentException e) {
            return DType.F32;
        }
    }

    /** Copies the files of a checkpoint folder that loading needs (config, weights, tokenizer) to local disk. */
    private static java.nio.file.Path stage(FileSystem fs, Path base) throws IOException {
        java.nio.file.Path local = Files.createTempDirectory("turbosparse-base");
        boolean ok = false;
        try {
            FileStatus[] files;
            try {
                files = fs.listStatus(base);
            } catch (java.io.FileNotFoundException e) {
                throw new InputException(base + ": not found");
            }
            long bytes = 0;
            for (FileStatus f : files) {
                String name = f.getPath().getName();
                boolean needed = name.equals(ConfigIO.FILE_NAME) || name.endsWith(".safetensors")
                        || name.equals(SafetensorsCheckpoint.INDEX_FILE) || HfCheckpoint.TOKENIZER_FILES.contains(name);
                if (f.isFile() && needed) {
                    fs.copyToLocalFile(false, f.getPath(), new Path(local.resolve(name).toUri()), true);
                    bytes += f.getLen();
                }
            }
            LOG.info("{}: copied {} MB to {} to load it", base, bytes >> 20, local);
            ok = true;
            return local;
        } finally {
            if (!ok) {
                deleteTree(local);
            }
        }
    }

    private static void deleteTree(java.nio.file.Path folder) {
        try {
            AtomicFiles.deleteTree(folder);
        } catch (IOException e) {
            LOG.warn("could not remove the staging folder {}: {}", folder, e.getMessage());
        }
    }
}

package dev.turbosparse.cli;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse swap}: another FFN activation for a checkpoint, weights untouched. */
@Command(name = "swap", mixinStandardHelpOptions = true,
        description = {"Swap a checkpoint's FFN activation by name (e.g. SwiGLU -> dReLU) without touching a weight:"
            + " weight and tokenizer files are copied byte for byte and config.json says the new activation"
            + " (hidden_act, and ffn_activation so that dReLU and ReGLU are never confused).",
            "This is the starting point of continued pretraining; the swapped model is not trained for it yet."})
final class SwapCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(SwapCommand.class);

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The checkpoint folder to start from.")
    Path model;

    @Option(names = "--activation", required = true, paramLabel = "NAME",
            description = "silu (SwiGLU), gelu, gelu_pytorch_tanh (GeGLU), relu (ReGLU) or drelu (dReLU).")
    String activation;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "The folder to write; the same as --model rewrites config.json in place.")
    Path out;

    @Option(names = "--force", description = "Overwrite a folder that already holds a checkpoint (or swap in place).")
    boolean force;

    @Override
    public Integer call() throws Exception {
        FfnActivation act = FfnActivation.byName(activation);
        Path folder = Models.checkpointFolder(model);
        Cli.refuseOverwrite(out, force);
        ModelConfig before = ConfigIO.read(folder);
        ModelConfig after = HfCheckpoint.swapActivation(folder, out, act);
        LOG.info("{}: {} ({}) -> {} ({}), weights unchanged", out, before.activation().configName(),
                before.activation().paperName(), after.activation().configName(), after.activation().paperName());
        return 0;
    }
}

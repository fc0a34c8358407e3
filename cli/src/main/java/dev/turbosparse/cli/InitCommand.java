package dev.turbosparse.cli;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse init}: a randomly initialised checkpoint for a config, written straight to disk. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = {"Write a randomly initialised Hugging Face checkpoint for a config.json (weights from"
            + " N(0, initializer_range), norms 1), streaming one tensor chunk at a time: any size fits in little"
            + " memory. The same seed gives the same weights."})
final class InitCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(InitCommand.class);

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "A Mistral or Mixtral config.json.")
    Path config;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The checkpoint folder to write.")
    Path out;

    @Option(names = "--dtype", defaultValue = "bf16", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the weights (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "A folder or tokenizer.json whose tokenizer files are copied into the checkpoint.")
    Path tokenizer;

    @Option(names = "--max-shard-bytes", defaultValue = "5000000000",
            description = "Shard the weights above this many bytes per file (default: ${DEFAULT-VALUE}).")
    long maxShardBytes;

    @Option(names = "--force", description = "Overwrite a folder that already holds a checkpoint.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        DType type = DType.parseWeightType(dtype);
        ModelConfig c = ConfigIO.read(config);
        Cli.refuseOverwrite(out, force);
        boolean created = !Files.exists(out);
        boolean done = false;
        try {
            write(c, type);
            done = true;
        } finally {
            if (!done && created) {
                Cli.deleteTree(out); // nothing half-made is left behind
            }
        }
        return 0;
    }

    private void write(ModelConfig c, DType type) throws java.io.IOException {
        if (tokenizer != null) {
            Path tokFolder = Files.isDirectory(tokenizer) ? tokenizer : tokenizer.toAbsolutePath().getParent();
            try (Tokenizer t = Tokenizer.load(tokenizer)) {
                if (t.vocabSize() > c.vocabSize()) {
                    throw new Cli.UserError(tokenizer + ": the tokenizer has " + t.vocabSize()
                            + " tokens, more than the config's vocab_size " + c.vocabSize());
                }
            }
            Files.createDirectories(out);
            HfCheckpoint.copyTokenizerFiles(tokFolder, out);
        }
        long total = HfWeightMap.entries(c).stream().mapToLong(HfWeightMap.Entry::numel).sum();
        try (Progress progress = Progress.bytes("writing " + out.getFileName(), total * type.bytes())) {
            HfCheckpoint.writeRandom(c, out, type, seed, maxShardBytes, progress::stepTo);
        }
        long files;
        try (Stream<Path> s = Files.list(out)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).count();
        }
        LOG.info("{}: {} parameters ({} {}), {} weight file(s), {} FFN, seed {}", out,
                String.format("%,d", total), InspectCommand.bytes(total * type.bytes()), type, files,
                c.activation().paperName(), seed);
    }
}

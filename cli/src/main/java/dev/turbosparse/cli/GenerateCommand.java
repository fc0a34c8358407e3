package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;

import dev.turbosparse.model.generate.DjlGenerator;
import dev.turbosparse.model.generate.Sampler;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.tokenizer.StreamingDecoder;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse generate}: stream a continuation of a prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prompt, printing tokens as they are generated: greedy by default, or seeded"
            + " sampling with --temperature, --top-k and --top-p. Stops at EOS or after --max-tokens.",
            "Prints the prompt and its continuation on stdout; prefill and decode speed go to stderr."})
final class GenerateCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(GenerateCommand.class);

    enum Engine { djl }

    @Option(names = "--engine", defaultValue = "djl", description = "Engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Engine engine;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face checkpoint folder with tokenizer.json.")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The text to continue.")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "64", paramLabel = "N",
            description = "New tokens at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 for greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample from the k likeliest tokens; 0 = all (default).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling threshold (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the sampler (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() throws Exception {
        Sampler sampler = new Sampler(temperature, topK, topP, seed);
        if (maxTokens < 1) {
            throw new Cli.UserError("--max-tokens must be at least 1, got " + maxTokens);
        }
        Path folder = Models.checkpointFolder(model);
        PrintStream out = Output.stdout();
        try (Tokenizer tokenizer = Tokenizer.load(folder); NDManager manager = NDManager.newBaseManager();
                CausalLM lm = new Models.ModelPath(folder, false).load(manager)) {
            if (tokenizer.vocabSize() > lm.config().vocabSize()) {
                throw new Cli.UserError(folder + ": tokenizer.json has " + tokenizer.vocabSize()
                        + " tokens but config.json's vocab_size is " + lm.config().vocabSize());
            }
            long[] ids = tokenizer.encode(prompt);
            StreamingDecoder decoder = new StreamingDecoder(tokenizer, ids);
            out.print(prompt);
            out.flush();
            Integer eos = lm.config().eosTokenId() != null ? lm.config().eosTokenId() : tokenizer.eosId();
            DjlGenerator.Stats stats = DjlGenerator.generate(lm, ids, maxTokens, sampler, eos, token -> {
                out.print(decoder.add(token));
                out.flush();
            });
            out.println(decoder.flush());
            out.flush();
            LOG.info("prompt {} tokens, prefill {} tok/s; generated {} tokens{}, decode {} tok/s ({} engine, {})",
                    stats.promptTokens(), String.format("%.1f", stats.prefillTokensPerSecond()),
                    stats.generatedTokens(), stats.stoppedAtEos() ? " (stopped at EOS)" : "",
                    String.format("%.1f", stats.decodeTokensPerSecond()), engine,
                    sampler.isGreedy() ? "greedy" : "sampled, seed " + seed);
        }
        return 0;
    }
}

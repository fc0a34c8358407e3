package dev.turbosparse.cli;

import ai.djl.ndarray.NDManager;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.generate.DjlGenerator;
import dev.turbosparse.model.generate.GenerationStats;
import dev.turbosparse.model.generate.Sampler;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.tokenizer.ChatTemplate;
import dev.turbosparse.model.tokenizer.StreamingDecoder;
import dev.turbosparse.model.tokenizer.Tokenizer;
import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeGenerator;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.TokenDecoder;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse generate}: stream a continuation of a prompt. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prompt, printing tokens as they are generated: greedy by default, or seeded"
            + " sampling with --temperature, --top-k and --top-p. Stops at EOS or after --max-tokens.",
            "When the tokenizer has a chat template (tokenizer_config.json's chat_template, or chat_template.jinja),"
                + " the prompt is a user's message: the template writes the conversation and stdout gets the reply."
                + " Otherwise (or with --chat off) stdout gets the prompt and its continuation.",
            "Prefill and decode speed go to stderr."})
final class GenerateCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(GenerateCommand.class);

    enum Engine { djl, runtime }

    enum Mode { dense, exact, predicted }

    @Option(names = "--engine", defaultValue = "djl",
            description = "Engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}): djl runs PyTorch through DJL in"
                + " float32; runtime is the CPU decoding runtime on the file's own weights.")
    Engine engine;

    @Option(names = "--mode", defaultValue = "dense",
            description = "FFN mode of the runtime engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Mode mode;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU threads of the runtime engine (default: the machine's cores).")
    Integer threads;

    @Option(names = "--device", defaultValue = "cpu",
            description = "Device of the runtime engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    RuntimeEngine.DeviceName device;

    @Option(names = "--mlock", description = "With --engine runtime: " + RuntimeEngine.MLOCK_HELP)
    boolean mlock;

    @Option(names = "--no-mmap", description = "With --engine runtime: " + RuntimeEngine.NO_MMAP_HELP)
    boolean noMmap;

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face checkpoint folder with tokenizer.json, or a GGUF file (with --tokenizer).")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "The folder of tokenizer.json (default: the model's folder; needed for a GGUF file).")
    Path tokenizerDir;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The text to continue.")
    String prompt;

    enum Chat { auto, on, off }

    @Option(names = "--chat", defaultValue = "auto",
            description = "Chat template: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}): auto applies the"
                + " tokenizer's when it has one, on requires one, off continues the raw prompt.")
    Chat chat;

    @Option(names = "--system", paramLabel = "TEXT",
            description = "A system message before the prompt (with a chat template).")
    String system;

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
        if (mode != Mode.dense && engine == Engine.djl) {
            throw new Cli.UserError("--mode " + mode + " skips neurons, which the djl engine does not; use --engine"
                    + " runtime");
        }
        if (mlock && engine == Engine.djl) {
            throw new Cli.UserError("--mlock locks the runtime engine's mapped weights; the djl engine copies them into"
                    + " PyTorch tensors. Use --engine runtime");
        }
        if (noMmap && engine == Engine.djl) {
            throw new Cli.UserError("--no-mmap is the runtime engine's; the djl engine copies the weights into PyTorch"
                    + " tensors anyway. Use --engine runtime");
        }
        if (mlock && device == RuntimeEngine.DeviceName.gpu) {
            throw new Cli.UserError("--mlock locks the weights the CPU reads; --device gpu copies them to the GPU");
        }
        Models.ModelPath source = Models.resolve(model);
        if (source.gguf() && tokenizerDir == null) {
            throw new Cli.UserError(model + ": a GGUF file; give --tokenizer DIR, the folder of its tokenizer.json");
        }
        Path tokenizerFolder = tokenizerDir != null ? tokenizerDir : source.path();
        ModelConfig config = source.config();
        PrintStream out = Output.stdout();
        try (Tokenizer tokenizer = Tokenizer.load(tokenizerFolder)) {
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new Cli.UserError(tokenizerFolder + ": tokenizer.json has " + tokenizer.vocabSize()
                        + " tokens but the model's vocab_size is " + config.vocabSize());
            }
            ChatTemplate template = chat == Chat.off ? null : tokenizer.chat();
            if (chat == Chat.on && template == null) {
                throw new Cli.UserError(tokenizerFolder + ": the tokenizer has no chat template (no chat_template in "
                        + Tokenizer.CONFIG_FILE_NAME + ", no " + Tokenizer.CHAT_TEMPLATE_FILE_NAME + "); use --chat off");
            }
            if (system != null && template == null) {
                throw new Cli.UserError("--system needs a chat template, and " + (chat == Chat.off ? "--chat is off"
                        : tokenizerFolder + ": the tokenizer has none"));
            }
            long[] ids;
            if (template != null) {
                List<ChatTemplate.Message> messages = new ArrayList<>();
                if (system != null) {
                    messages.add(new ChatTemplate.Message("system", system));
                }
                messages.add(new ChatTemplate.Message("user", prompt));
                ids = tokenizer.encodeChat(messages);
                LOG.info("the tokenizer's chat template wrote the prompt as {} tokens (--chat off for the raw prompt)",
                        ids.length);
            } else {
                ids = tokenizer.encode(prompt);
            }
            if (ids.length >= config.maxPositionEmbeddings()) {
                throw new Cli.UserError("the prompt has " + ids.length + " tokens; the model's context holds "
                        + config.maxPositionEmbeddings() + " positions (max_position_embeddings), with room for at"
                        + " least one new token");
            }
            StreamingDecoder decoder = new StreamingDecoder(tokenizer, ids);
            if (template == null) {
                out.print(prompt);
                out.flush();
            }
            Integer eos = config.eosTokenId() != null ? config.eosTokenId() : tokenizer.eosId();
            GenerationStats stats;
            if (engine == Engine.runtime) {
                int context = (int) Math.min(config.maxPositionEmbeddings(), (long) ids.length + maxTokens);
                try (RuntimeModel m = RuntimeEngine.load(source.path(), noMmap);
                        TokenDecoder d = RuntimeEngine.open(m, mode.name(), context, threads, device)) {
                    RuntimeEngine.lock(m, mlock);
                    int[] prompt = java.util.Arrays.stream(ids).mapToInt(l -> (int) l).toArray();
                    stats = RuntimeGenerator.generate(d, prompt, maxTokens, sampler, eos, token -> {
                        out.print(decoder.add(token));
                        out.flush();
                        return true;
                    });
                    if (mode != Mode.dense && d instanceof Decoder cpu) {
                        LOG.info("{} mode computed {}% of the FFN neurons", mode,
                                String.format("%.1f", 100 * cpu.neuronShare()));
                    }
                }
            } else {
                try (NDManager manager = NDManager.newBaseManager(); CausalLM lm = source.load(manager)) {
                    stats = DjlGenerator.generate(lm, ids, maxTokens, sampler, eos, token -> {
                        out.print(decoder.add(token));
                        out.flush();
                    });
                }
            }
            out.println(decoder.flush());
            out.flush();
            LOG.info("prompt {} tokens, prefill {} tok/s; generated {} tokens{}, decode {} tok/s ({} engine{}, {})",
                    stats.promptTokens(), String.format("%.1f", stats.prefillTokensPerSecond()),
                    stats.generatedTokens(), stats.stoppedAtEos() ? " (stopped at EOS)" : "",
                    String.format("%.1f", stats.decodeTokensPerSecond()), engine,
                    engine == Engine.runtime ? " " + mode : "", sampler.isGreedy() ? "greedy" : "sampled, seed " + seed);
        }
        return 0;
    }
}

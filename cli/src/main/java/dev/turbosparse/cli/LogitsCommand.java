package dev.turbosparse.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.runtime.RuntimeLoader;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.TokenDecoder;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse logits}: the logits of every position of one token sequence. The JSON form is a contract that
 * the team's checks rely on: {@code {"tokens":[...],"logits":[[...vocab floats...], ...one row per position]}}.
 */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = {"Print the logits of every position of an explicit token sequence.",
            "--format json prints {\"tokens\":[...],\"logits\":[[...], ...]}, one row of vocab_size floats per"
                + " position."})
final class LogitsCommand implements Callable<Integer> {

    enum Engine { djl, runtime }

    enum Mode { dense, exact, predicted }

    enum Format { json, text }

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face checkpoint folder (config.json + safetensors), or a GGUF file"
                + " (llama architecture: F32, F16, BF16, Q8_0, Q4_0).")
    Path model;

    @Option(names = "--tokens", required = true, split = ",", paramLabel = "IDS",
            description = "Comma-separated token ids, e.g. 1,22557,1526.")
    long[] tokens;

    @Option(names = "--engine", defaultValue = "djl",
            description = "Engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}): djl runs the model in"
                + " PyTorch through DJL in float32; runtime is the CPU decoding runtime on the file's own weights.")
    Engine engine;

    @Option(names = "--mode", defaultValue = "dense",
            description = "FFN mode of the runtime engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). exact"
                + " computes up and down only for neurons whose relu(gate) is positive (identical to dense for dReLU"
                + " and ReGLU); predicted lets the model's predictors pick the neurons (approximate).")
    Mode mode;

    @Option(names = "--threads", paramLabel = "N",
            description = "CPU threads of the runtime engine (default: the machine's cores).")
    Integer threads;

    @Option(names = "--device", defaultValue = "cpu",
            description = "Device of the runtime engine: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}); gpu runs"
                + " it through DJL's PyTorch engine on the first GPU (docs/RUNTIME.md).")
    RuntimeEngine.DeviceName device;

    @Option(names = "--format", defaultValue = "text",
            description = "json (the full logits) or text (the top tokens per position); default ${DEFAULT-VALUE}.")
    Format format;

    @Option(names = "--top", defaultValue = "5", description = "Tokens per position in text format (default: ${DEFAULT-VALUE}).")
    int top;

    @Override
    public Integer call() throws Exception {
        if (tokens.length == 0) {
            throw new Cli.UserError("--tokens: give at least one token id");
        }
        if (mode != Mode.dense && engine == Engine.djl) {
            throw new Cli.UserError("--mode " + mode + " skips neurons, which the djl engine does not; use --engine"
                    + " runtime");
        }
        Models.ModelPath source = Models.resolve(model);
        source.checkTokens(tokens);
        float[] logits;
        int vocab;
        if (engine == Engine.runtime) {
            int positions = source.config().maxPositionEmbeddings();
            if (tokens.length > positions) {
                throw new Cli.UserError("--tokens: " + tokens.length + " tokens are more than the model's " + positions
                        + " positions (max_position_embeddings)");
            }
            try (RuntimeModel m = RuntimeLoader.load(source.path());
                    TokenDecoder d = RuntimeEngine.open(m, mode.name(), tokens.length, threads, device)) {
                vocab = m.config().vocabSize();
                logits = new float[tokens.length * vocab];
                for (int p = 0; p < tokens.length; p++) {
                    System.arraycopy(d.forward((int) tokens[p]), 0, logits, p * vocab, vocab);
                }
            }
            print(tokens, logits, vocab);
            return 0;
        }
        try (NDManager manager = NDManager.newBaseManager(); CausalLM lm = source.load(manager);
                NDManager step = manager.newSubManager()) {
            vocab = lm.config().vocabSize();
            NDArray ids = TorchTensors.longs(step, tokens, new Shape(1, tokens.length));
            logits = lm.forward(new ParameterStore(step, false), ids, CausalLM.Options.DEFAULT, false).logits()
                    .toFloatArray(); // (1, positions, vocab)
        }
        print(tokens, logits, vocab);
        return 0;
    }

    private void print(long[] tokens, float[] logits, int vocab) throws Exception {
        PrintStream out = Output.stdout();
        if (format == Format.json) {
            writeJson(out, tokens, logits, vocab);
        } else {
            writeText(out, tokens, logits, vocab, Math.max(1, Math.min(top, vocab)));
        }
        out.flush();
    }

    /** {"tokens":[...],"logits":[[...],...]}, floats in their shortest round-trip form. */
    static void writeJson(PrintStream out, long[] tokens, float[] logits, int vocab) throws Exception {
        JsonMapper mapper = JsonMapper.builder().enable(JsonWriteFeature.WRITE_NAN_AS_STRINGS).build();
        try (JsonGenerator g = mapper.getFactory().createGenerator(out, JsonEncoding.UTF8)) {
            g.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
            g.writeStartObject();
            g.writeArrayFieldStart("tokens");
            for (long t : tokens) {
                g.writeNumber(t);
            }
            g.writeEndArray();
            g.writeArrayFieldStart("logits");
            for (int p = 0; p < tokens.length; p++) {
                g.writeStartArray();
                for (int v = p * vocab; v < (p + 1) * vocab; v++) {
                    g.writeNumber(logits[v]); // a float's shortest form that reads back to the same float
                }
                g.writeEndArray();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.println();
    }

    private static void writeText(PrintStream out, long[] tokens, float[] logits, int vocab, int top) {
        for (int p = 0; p < tokens.length; p++) {
            int base = p * vocab;
            Integer[] order = new Integer[vocab];
            for (int i = 0; i < vocab; i++) {
                order[i] = i;
            }
            java.util.Arrays.sort(order, (a, b) -> Float.compare(logits[base + b], logits[base + a]));
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "position %d token %d -> top", p, tokens[p]));
            for (int k = 0; k < top; k++) {
                line.append(String.format(Locale.ROOT, " %d:%.4f", order[k], logits[base + order[k]]));
            }
            out.println(line);
        }
    }
}

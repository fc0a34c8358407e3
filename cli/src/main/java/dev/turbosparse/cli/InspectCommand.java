package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgufFile;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code turbosparse inspect}: what a checkpoint is, from its config and safetensors headers only. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show a checkpoint's architecture, FFN activation, parameters by role (embeddings, attention,"
            + " FFN, router), dtypes and bytes on disk.",
            "Reads config.json and the safetensors headers only: instant even on a 7B checkpoint."})
final class InspectCommand implements Callable<Integer> {

    enum Format { text, json }

    @Option(names = "--model", required = true, paramLabel = "PATH",
            description = "Hugging Face checkpoint folder (config.json + safetensors), or a GGUF file.")
    Path model;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    Format format;

    /** Parameter counts of a checkpoint by role; what {@code inspect} prints. */
    record Summary(ModelConfig config, Map<String, Long> parameters, long activePerToken, Map<String, Long> dtypes,
            int files, long bytesOnDisk, int missing, String firstMissing) {}

    /** One stored tensor: its role (null if the config does not expect it), element count and storage type. */
    record TensorStat(HfWeightMap.Role role, long numel, String dtype) {}

    static Summary summarize(ModelConfig config, SafetensorsCheckpoint weights) {
        Map<String, HfWeightMap.Role> roleOf = new HashMap<>();
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            roleOf.put(e.hfName(), e.role());
        }
        List<TensorStat> stats = new ArrayList<>();
        for (SafetensorsCheckpoint.Located l : weights.tensors().values()) {
            stats.add(new TensorStat(roleOf.get(l.info().name()), l.info().numel(), l.info().dtype().name()));
        }
        List<String> missing = roleOf.keySet().stream().filter(n -> !weights.contains(n)).sorted().toList();
        return summarize(config, stats, weights.files().size(), weights.fileBytes(), missing);
    }

    static Summary summarize(ModelConfig config, GgufFile gguf) throws java.io.IOException {
        Map<String, HfWeightMap.Role> roleOf = new HashMap<>();
        List<String> missing = new ArrayList<>();
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            String name = LlamaGguf.locate(e.hfName(), LlamaGguf.Kind.of(gguf)).gguf();
            roleOf.put(name, e.role());
            if (!gguf.tensors().containsKey(name)) {
                missing.add(name);
            }
        }
        List<TensorStat> stats = new ArrayList<>();
        for (GgufFile.TensorInfo t : gguf.tensors().values()) {
            stats.add(new TensorStat(roleOf.get(t.name()), t.numel(), t.type().name()));
        }
        return summarize(config, stats, 1, Files.size(gguf.path()), missing.stream().distinct().sorted().toList());
    }

    private static Summary summarize(ModelConfig config, List<TensorStat> tensors, int files, long bytesOnDisk,
            List<String> missing) {
        Map<HfWeightMap.Role, Long> byRole = new EnumMap<>(HfWeightMap.Role.class);
        long other = 0;
        Map<String, Long> dtypes = new TreeMap<>();
        for (TensorStat t : tensors) {
            if (t.role() == null) {
                other += t.numel();
            } else {
                byRole.merge(t.role(), t.numel(), Long::sum);
            }
            dtypes.merge(t.dtype(), t.numel(), Long::sum);
        }
        Map<String, Long> params = new java.util.LinkedHashMap<>();
        params.put("embeddings", byRole.getOrDefault(HfWeightMap.Role.EMBEDDING, 0L));
        params.put("attention", byRole.getOrDefault(HfWeightMap.Role.ATTENTION, 0L));
        params.put("ffn", byRole.getOrDefault(HfWeightMap.Role.FFN, 0L));
        params.put("router", byRole.getOrDefault(HfWeightMap.Role.ROUTER, 0L));
        params.put("norms", byRole.getOrDefault(HfWeightMap.Role.NORM, 0L));
        params.put("lm_head", byRole.getOrDefault(HfWeightMap.Role.LM_HEAD, 0L));
        params.put("other", other);
        long total = params.values().stream().mapToLong(Long::longValue).sum();
        params.put("total", total);
        // A token reads the FFN of its top-k experts only (before any activation sparsity).
        long ffn = params.get("ffn");
        long active = total - ffn + ffn * config.expertsPerToken() / config.numExperts();
        return new Summary(config, params, active, dtypes, files, bytesOnDisk, missing.size(),
                missing.isEmpty() ? null : missing.getFirst());
    }

    @Override
    public Integer call() throws Exception {
        Models.ModelPath source = Models.resolve(model);
        ModelConfig c = source.config();
        Summary s;
        TokenizerInfo tok = null;
        if (source.gguf()) {
            try (GgufFile g = GgufFile.open(source.path())) {
                s = summarize(c, g);
            }
        } else {
            try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(source.path())) {
                s = summarize(c, weights);
            }
            tok = Tokenizer.exists(source.path()) ? TokenizerInfo.of(source.path()) : null;
        }
        PrintStream out = Output.stdout();
        if (format == Format.json) {
            out.println(json(source.path(), s, tok));
        } else {
            text(out, source, s, tok);
        }
        out.flush();
        return 0;
    }

    record TokenizerInfo(int vocab, Integer bos, Integer eos, boolean addsBos, String fingerprint, boolean chat) {
        static TokenizerInfo of(Path folder) {
            try (Tokenizer t = Tokenizer.load(folder)) {
                return new TokenizerInfo(t.vocabSize(), t.bosId(), t.eosId(), t.addsBos(), t.fingerprint(),
                        t.chatTemplate() != null);
            }
        }
    }

    private static String json(Path folder, Summary s, TokenizerInfo tok) throws Exception {
        JsonMapper m = JsonMapper.builder().build();
        ObjectNode root = m.createObjectNode();
        ModelConfig c = s.config();
        root.put("model", folder.toString());
        root.put("architecture", c.architectures().isEmpty() ? null : c.architectures().getFirst());
        root.set("config", m.readTree(ConfigIO.toJson(c)));
        ObjectNode ffn = root.putObject("ffn");
        ffn.put("activation", c.activation().configName());
        ffn.put("name", c.activation().paperName());
        ffn.put("experts", c.numExperts());
        ffn.put("experts_per_token", c.expertsPerToken());
        ObjectNode params = root.putObject("parameters");
        s.parameters().forEach(params::put);
        params.put("active_per_token", s.activePerToken());
        ObjectNode weights = root.putObject("weights");
        weights.put("files", s.files());
        weights.put("bytes_on_disk", s.bytesOnDisk());
        ObjectNode dtypes = weights.putObject("dtypes");
        s.dtypes().forEach(dtypes::put);
        weights.put("missing_tensors", s.missing());
        if (tok != null) {
            ObjectNode t = root.putObject("tokenizer");
            t.put("vocab_size", tok.vocab());
            t.put("bos_token_id", tok.bos());
            t.put("eos_token_id", tok.eos());
            t.put("adds_bos", tok.addsBos());
            t.put("sha256", tok.fingerprint());
            t.put("chat_template", tok.chat());
        }
        return m.writerWithDefaultPrettyPrinter().writeValueAsString(root);
    }

    private static void text(PrintStream out, Models.ModelPath source, Summary s, TokenizerInfo tok) {
        ModelConfig c = s.config();
        out.printf("model        %s%s%n", source.path(), source.gguf() ? " (GGUF, llama architecture)" : "");
        out.printf("architecture %s (model_type %s)%n", String.join(", ", c.architectures()), c.modelType());
        out.printf("shape        %d layers, hidden %d, intermediate %d, %d heads (%d KV, head_dim %d), vocab %d%n",
                c.numHiddenLayers(), c.hiddenSize(), c.intermediateSize(), c.numAttentionHeads(),
                c.numKeyValueHeads(), c.headDim(), c.vocabSize());
        out.printf("attention    context %d, sliding window %s, rope_theta %s, rms_norm_eps %s%n",
                c.maxPositionEmbeddings(), c.slidingWindow() == null ? "none" : c.slidingWindow(),
                num(c.ropeTheta()), num(c.rmsNormEps()));
        out.printf("ffn          %s (hidden_act %s%s)%s%n", c.activation().paperName(), c.hiddenAct(),
                c.ffnActivation() == null ? "" : ", ffn_activation " + c.ffnActivation(),
                c.isMoe() ? ", " + c.numExperts() + " experts, " + c.expertsPerToken() + " per token" : "");
        out.printf("weights      %d file(s), %s on disk, %s%s%s%n", s.files(), bytes(s.bytesOnDisk()),
                dtypeText(s.dtypes()), c.torchDtype() == null ? "" : ", torch_dtype " + c.torchDtype(),
                c.tieWordEmbeddings() ? ", tied embeddings" : "");
        if (s.missing() > 0) {
            out.printf("WARNING      %d tensor(s) the config implies are missing, first %s%n", s.missing(),
                    s.firstMissing());
        }
        long total = s.parameters().get("total");
        out.printf("parameters   %15s  %6s%n", "count", "share");
        s.parameters().forEach((role, n) -> {
            if (n > 0 || role.equals("total")) {
                out.printf("  %-10s %15s  %5.1f%%%n", role, String.format(Locale.ROOT, "%,d", n),
                        total == 0 ? 0.0 : 100.0 * n / total);
            }
        });
        if (c.isMoe()) {
            out.printf("  %-10s %15s  (top-%d routing, before activation sparsity)%n", "per token",
                    String.format(Locale.ROOT, "%,d", s.activePerToken()), c.expertsPerToken());
        }
        if (tok != null) {
            out.printf("tokenizer    %d tokens, BOS %s%s, EOS %s, sha256 %s%s%n", tok.vocab(), tok.bos(),
                    tok.addsBos() ? " (added)" : "", tok.eos(), tok.fingerprint().substring(0, 12),
                    tok.chat() ? ", chat template" : "");
        } else {
            out.println(source.gguf() ? "tokenizer    not read (GGUF tokenizers arrive with the runtime)"
                    : "tokenizer    none (no tokenizer.json)");
        }
    }

    private static String dtypeText(Map<String, Long> dtypes) {
        if (dtypes.size() == 1) {
            return "dtype " + dtypes.keySet().iterator().next();
        }
        StringBuilder b = new StringBuilder("dtypes");
        dtypes.forEach((d, n) -> b.append(' ').append(d).append('(').append(String.format(Locale.ROOT, "%,d", n)).append(')'));
        return b.toString();
    }

    static String bytes(long n) {
        if (n >= 1L << 30) {
            return String.format(Locale.ROOT, "%.2f GiB", n / (double) (1L << 30));
        }
        if (n >= 1L << 20) {
            return String.format(Locale.ROOT, "%.1f MiB", n / (double) (1L << 20));
        }
        return String.format(Locale.ROOT, "%.1f KiB", n / 1024.0);
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? String.valueOf((long) v) : String.valueOf(v);
    }
}

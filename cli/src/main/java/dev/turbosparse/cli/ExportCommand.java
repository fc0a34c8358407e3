package dev.turbosparse.cli;

import dev.turbosparse.eval.export.ExportSource;
import dev.turbosparse.eval.export.GgufExporter;
import dev.turbosparse.eval.export.GgufVocab;
import dev.turbosparse.eval.export.HfExporter;
import dev.turbosparse.eval.export.NeuronOrder;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.LlamaGguf;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code turbosparse export}: a checkpoint as Hugging Face safetensors, as a dense GGUF file for llama.cpp, or as a
 * sparse GGUF file on PowerInfer's conventions.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Export a Hugging Face checkpoint folder as Hugging Face safetensors (--format hf, predictors"
            + " included when the checkpoint has them), as a dense GGUF file that llama.cpp loads (--format gguf;"
            + " SwiGLU models: llama.cpp has no dReLU), or as a sparse GGUF file (--format gguf --sparse; dReLU and"
            + " ReGLU models) on PowerInfer's conventions: marked PWRI, architecture bamboo for dReLU, down"
            + " projections neuron-major, predictors included.",
            "--reorder FILE puts each FFN's neurons hot-first by the activation frequencies `sparsity --frequencies`"
                + " wrote, the same permutation on gate, up, down and predictor rows: the function is unchanged."})
final class ExportCommand implements Callable<Integer> {

    private static final Logger LOG = LogManager.getLogger(ExportCommand.class);

    enum Format { hf, gguf }

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint folder.")
    Path model;

    @Option(names = "--format", required = true, description = "hf or gguf.")
    Format format;

    @Option(names = "--dtype", defaultValue = "auto", paramLabel = "TYPE",
            description = "f32, f16, bf16, or auto: the checkpoint's torch_dtype (default: ${DEFAULT-VALUE}); for gguf"
                + " also q8_0 and q4_0 (every matrix quantized as ggml's reference quantizer does, norms in f32).")
    String dtype;

    @Option(names = "--reorder", paramLabel = "FILE",
            description = "Activation frequencies (safetensors from `sparsity --frequencies`): order neurons hot-first.")
    Path reorder;

    @Option(names = "--sparse",
            description = "With --format gguf: write the sparse GGUF of a dReLU or ReGLU model (docs/EVAL.md).")
    boolean sparse;

    @Option(names = "--sparse-threshold", paramLabel = "T",
            description = "With --sparse and predictors: powerinfer.sparse_threshold, the fc2 score from which a neuron"
                + " is predicted active (default: the checkpoint's sparse_threshold, which `predictors` writes, else 0,"
                + " PowerInfer's).")
    Float sparseThreshold;

    @Option(names = "--shard-size", defaultValue = "5000000000", paramLabel = "BYTES",
            description = "With --format hf: the largest weight file before sharding (default: ${DEFAULT-VALUE}).")
    long shardSize;

    @Option(names = "--out", required = true, paramLabel = "PATH",
            description = "The folder (hf) or .gguf file (gguf) to write.")
    Path out;

    @Option(names = "--force", description = "Replace --out if it exists.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        Path folder = Models.checkpointFolder(model);
        Cli.refuseToReplace(out, force, folder);
        if (format == Format.gguf && !out.getFileName().toString().endsWith(".gguf")) {
            throw new Cli.UserError("--out must name a .gguf file with --format gguf, got " + out);
        }
        if (sparse && format != Format.gguf) {
            throw new Cli.UserError("--sparse goes with --format gguf");
        }
        if (sparseThreshold != null && !Float.isFinite(sparseThreshold)) {
            throw new Cli.UserError("--sparse-threshold must be a finite number, got " + sparseThreshold);
        }
        if (shardSize < 1) {
            throw new Cli.UserError("--shard-size must be positive, got " + shardSize);
        }
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            java.nio.file.Files.createDirectories(parent);
        }
        try (ExportSource source = ExportSource.open(folder)) {
            String type = typeName(source);
            LlamaGguf.Kind kind = sparse ? LlamaGguf.Kind.SPARSE : LlamaGguf.Kind.DENSE;
            if (format == Format.gguf) {
                GgufExporter.check(source.config(), folder, kind);
            }
            NeuronOrder order = reorder == null ? null : NeuronOrder.hotFirst(reorder, source.config());
            if (format == Format.hf) {
                DType dtype = switch (type) {
                    case "f32" -> DType.F32;
                    case "f16" -> DType.F16;
                    case "bf16" -> DType.BF16;
                    default -> throw new Cli.UserError("--dtype " + type + " is for GGUF; Hugging Face safetensors hold"
                            + " f32, f16 or bf16");
                };
                // written beside the target, then moved into place: --out appears complete or not at all
                AtomicFiles.writeFolder(out, staging -> {
                    try (Progress bar = Progress.bytes("export " + folder.getFileName() + " as hf " + type,
                            HfExporter.bytes(source, dtype))) {
                        HfExporter.export(source, order, dtype, shardSize, staging,
                                reorder == null ? null : "hot-first by " + reorder.getFileName(), bar::stepTo);
                    }
                });
            } else {
                GgufVocab vocab = Files.isRegularFile(folder.resolve(Tokenizer.FILE_NAME))
                        ? GgufVocab.read(folder, source.config()) : null;
                if (vocab == null) {
                    LOG.warn("{}: no tokenizer.json; the GGUF file gets no vocabulary (tokenizer.ggml.model = none)",
                            folder);
                }
                GgmlType ggml = GgmlType.byName(type);
                try (Progress bar = Progress.bytes("export " + folder.getFileName() + " as " + (sparse ? "sparse " : "")
                        + "gguf " + type, GgufExporter.bytes(source, ggml, kind))) {
                    GgufExporter.export(source, order, ggml, vocab, kind, threshold(source), out, bar::stepTo);
                }
            }
            java.io.PrintStream o = Output.stdout();
            o.println(String.format(Locale.ROOT, "%s: %s%s, %s%s (%,d bytes)", out, sparse ? "sparse " : "",
                    format, type.toUpperCase(Locale.ROOT),
                    order == null ? "" : ", neurons hot-first", size(out)));
            o.flush();
        }
        return 0;
    }

    /** --sparse-threshold, else the checkpoint's {@code sparse_threshold}, else 0. */
    private float threshold(ExportSource source) {
        if (sparseThreshold != null) {
            return sparseThreshold;
        }
        var own = source.config().extra().get("sparse_threshold");
        if (own != null && !own.isNumber()) {
            throw new Cli.UserError(source.folder().resolve("config.json") + ": field 'sparse_threshold' must be a"
                    + " number, got " + own);
        }
        return own == null ? 0f : own.floatValue();
    }

    /** The --dtype asked for, auto resolved by the checkpoint's torch_dtype: f32, f16, bf16, q8_0 or q4_0. */
    private String typeName(ExportSource source) {
        String d = dtype.toLowerCase(Locale.ROOT);
        if (d.equals("auto")) {
            String torch = source.config().torchDtype();
            d = torch == null ? "f32" : switch (torch) {
                case "bfloat16" -> "bf16";
                case "float16" -> "f16";
                default -> "f32";
            };
        }
        if (!java.util.List.of("f32", "f16", "bf16", "q8_0", "q4_0").contains(d)) {
            throw new Cli.UserError("--dtype must be f32, f16, bf16, q8_0, q4_0 or auto, got '" + dtype + "'");
        }
        return d;
    }

    private static long size(Path p) throws java.io.IOException {
        if (Files.isRegularFile(p)) {
            return Files.size(p);
        }
        try (var s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }
}

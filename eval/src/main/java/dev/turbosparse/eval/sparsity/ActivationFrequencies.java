package dev.turbosparse.eval.sparsity;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsFile;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Neuron activation frequencies as a safetensors file, one F32 vector of {@code intermediate_size} per FFN, named
 * beside the weights they order: {@code model.layers.N.mlp.activation_frequency}, or for Mixtral
 * {@code model.layers.N.block_sparse_moe.experts.E.activation_frequency}. An expert no token reached has NaN. The
 * metadata holds the token count and where the tokens came from.
 */
public final class ActivationFrequencies {

    /** The metadata {@code format} that marks these files. */
    public static final String FORMAT = "turbosparse-activation-frequency";

    private ActivationFrequencies() {}

    /** The tensor name of a layer's (expert's) frequencies. */
    public static String name(ModelConfig config, int layer, int expert) {
        return config.isMoe()
                ? "model.layers." + layer + ".block_sparse_moe.experts." + expert + ".activation_frequency"
                : "model.layers." + layer + ".mlp.activation_frequency";
    }

    /** A file read back: its metadata and each layer's frequencies, per expert ({@code [layer][expert][neuron]}). */
    public record Profile(Map<String, String> metadata, float[][][] frequencies) {}

    private static final Pattern NAME = Pattern.compile(
            "model\\.layers\\.(\\d+)\\.(?:mlp|block_sparse_moe\\.experts\\.(\\d+))\\.activation_frequency");

    /** Reads a file {@link #write} wrote, for any model: the layers and experts are those its tensor names say. */
    public static Profile read(Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            String format = f.metadata().get("format");
            if (!FORMAT.equals(format)) {
                throw new InputException(file + ": not an activation-frequency file (metadata 'format' is "
                        + (format == null ? "missing" : "'" + format + "'") + ", expected '" + FORMAT
                        + "'; write one with `turbosparse sparsity --frequencies`)");
            }
            Map<Integer, Map<Integer, float[]>> byLayer = new TreeMap<>();
            for (String name : f.tensors().keySet()) {
                Matcher m = NAME.matcher(name);
                if (!m.matches()) {
                    throw new InputException(file + ": unexpected tensor '" + name + "' in an activation-frequency file");
                }
                int expert = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
                byLayer.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new TreeMap<>()).put(expert, f.readFloats(name));
            }
            if (byLayer.isEmpty()) {
                throw new InputException(file + ": holds no frequencies");
            }
            float[][][] out = new float[byLayer.size()][][];
            int l = 0;
            for (var layer : byLayer.entrySet()) {
                if (layer.getKey() != l || !layer.getValue().keySet().equals(byLayer.get(0).keySet())) {
                    throw new InputException(file + ": layer " + l + " (or one of its experts) is missing");
                }
                out[l++] = layer.getValue().values().toArray(float[][]::new);
            }
            return new Profile(Map.copyOf(f.metadata()), out);
        }
    }

    /** Writes the file atomically. */
    public static void write(Path file, ModelConfig config, NeuronProfile profile, String source) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (int l = 0; l < profile.layers(); l++) {
            for (int e = 0; e < profile.experts(); e++) {
                double[] f = profile.activationFrequency(l, e);
                ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (double v : f) {
                    b.putFloat((float) v);
                }
                b.flip();
                entries.add(new SafetensorsWriter.Entry(name(config, l, e), DType.F32, new long[] {f.length},
                        ch -> SafetensorsWriter.writeFully(ch, b.duplicate())));
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("tokens", Long.toString(SparsityReport.tokens(config, profile)));
        meta.put("source", source);
        SafetensorsWriter.writeFile(file, entries, meta);
    }
}

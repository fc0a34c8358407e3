package dev.turbosparse.eval.sparsity;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

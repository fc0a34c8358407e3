package dev.turbosparse.eval.export;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.HfWeightMap;
import dev.turbosparse.model.nn.Predictors;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.TensorInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;

/**
 * A Hugging Face checkpoint folder read for export, tensor by tensor without a model in memory: its config, every
 * weight of {@link HfWeightMap} and, when the checkpoint has them, the activation predictors ({@link Predictors}).
 * A weight is read as float32, with a {@link NeuronOrder} applied to the FFN tensors when one is given.
 */
public final class ExportSource implements AutoCloseable {

    /** Along which axis a tensor holds the FFN neurons, if it does. */
    public enum NeuronAxis {
        NONE, ROWS, COLUMNS
    }

    /** One tensor to export: its HF name and shape, and where its neurons are. */
    public record Tensor(String hfName, long[] shape, HfWeightMap.Role role, NeuronAxis axis, int layer, int expert) {
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            return TensorInfo.numel(shape);
        }
    }

    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path folder;
    private final ModelConfig config;
    private final SafetensorsCheckpoint weights;
    private final List<Tensor> tensors;
    private final int predictorRank;

    private ExportSource(Path folder, ModelConfig config, SafetensorsCheckpoint weights, List<Tensor> tensors,
            int predictorRank) {
        this.folder = folder;
        this.config = config;
        this.weights = weights;
        this.tensors = tensors;
        this.predictorRank = predictorRank;
    }

    /** Opens a checkpoint folder; refuses one whose tensors are not exactly the model's (plus predictors). */
    public static ExportSource open(Path folder) {
        if (!Files.isDirectory(folder)) {
            throw new InputException(folder + ": not a Hugging Face checkpoint folder (export reads config.json and"
                    + " safetensors weights)");
        }
        ModelConfig config = ConfigIO.read(folder);
        SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(folder);
        boolean ok = false;
        try {
            int rank = HfCheckpoint.checkWeights(config, weights);
            List<Tensor> tensors = new ArrayList<>();
            for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
                tensors.add(new Tensor(e.hfName(), e.shape(), e.role(), axisOf(e.internalName()), layerOf(e.hfName()),
                        expertOf(e.hfName())));
            }
            for (Predictors.Entry p : Predictors.entries(config, rank)) {
                tensors.add(new Tensor(p.hfName(), p.shape(), HfWeightMap.Role.FFN,
                        p.fc2() ? NeuronAxis.ROWS : NeuronAxis.NONE, p.layer(), p.expert()));
            }
            ok = true;
            return new ExportSource(folder, config, weights, List.copyOf(tensors), rank);
        } finally {
            if (!ok) {
                weights.close();
            }
        }
    }

    private static NeuronAxis axisOf(String internalName) {
        if (internalName.endsWith("gateProj") || internalName.endsWith("upProj")) {
            return NeuronAxis.ROWS;
        }
        return internalName.endsWith("downProj") ? NeuronAxis.COLUMNS : NeuronAxis.NONE;
    }

    private static int layerOf(String hfName) {
        Matcher m = Predictors.LAYER.matcher(hfName);
        return m.lookingAt() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static int expertOf(String hfName) {
        Matcher m = Predictors.EXPERT.matcher(hfName);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    public Path folder() {
        return folder;
    }

    public ModelConfig config() {
        return config;
    }

    /** Every tensor, in checkpoint order: the model's weights, then the predictors if any. */
    public List<Tensor> tensors() {
        return tensors;
    }

    /** The predictors' rank, or 0 when the checkpoint has none. */
    public int predictorRank() {
        return predictorRank;
    }

    /**
     * Reads a tensor as float32 into {@code dst} ({@code numel} floats), its neurons reordered by {@code order} if
     * that is not null: rows {@code i} of a neuron-row tensor become rows {@code perm[i]} of the original, columns
     * likewise for the down projection.
     */
    public void readFloat32(Tensor t, NeuronOrder order, MemorySegment dst) {
        if (order == null || t.axis() == NeuronAxis.NONE) {
            weights.readFloat32(t.hfName(), dst);
            return;
        }
        int[] perm = order.at(t.layer(), t.expert());
        long rows = t.shape()[0];
        long cols = t.shape()[1];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(t.numel() * 4, 64);
            weights.readFloat32(t.hfName(), src);
            if (t.axis() == NeuronAxis.ROWS) {
                for (int i = 0; i < rows; i++) {
                    MemorySegment.copy(src, perm[i] * cols * 4, dst, i * cols * 4, cols * 4);
                }
            } else {
                for (long r = 0; r < rows; r++) {
                    long base = r * cols;
                    for (int i = 0; i < cols; i++) {
                        dst.setAtIndex(FLOAT_LE, base + i, src.getAtIndex(FLOAT_LE, base + perm[i]));
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}

package dev.turbosparse.eval.export;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Exports a checkpoint as a Hugging Face folder: {@code config.json}, safetensors weights in a chosen dtype (sharded
 * above a size, with the index), the predictors when the source has them (TurboSparse's names), and the tokenizer
 * files. With a {@link NeuronOrder} the FFN neurons are reordered, which leaves the function unchanged.
 */
public final class HfExporter {

    private HfExporter() {}

    /**
     * Writes the folder. Each file is written atomically; the caller makes the folder itself appear at once.
     *
     * @param progress told the bytes of tensor data written so far, or null
     */
    public static void export(ExportSource source, NeuronOrder order, DType dtype, long maxShardBytes, Path out,
            String orderNote, LongConsumer progress) throws IOException {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        long[] done = {0};
        for (ExportSource.Tensor t : source.tensors()) {
            entries.add(new SafetensorsWriter.Entry(t.hfName(), dtype, t.shape(), ch -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment f32 = arena.allocate(t.numel() * 4, 64);
                    source.readFloat32(t, order, f32);
                    TensorSources.fromFloat32(f32, t.numel(), dtype).writeTo(ch);
                }
                done[0] += t.numel() * dtype.bytes();
                if (progress != null) {
                    progress.accept(done[0]);
                }
            }));
        }
        Map<String, String> metadata = new LinkedHashMap<>(SafetensorsWriter.PT_METADATA);
        if (order != null) {
            metadata.put("turbosparse.neuron_order", orderNote);
        }
        SafetensorsWriter.writeCheckpoint(out, entries, maxShardBytes, metadata);
        ConfigIO.write(source.config().withTorchDtype(dtype.torchName()), out);
        HfCheckpoint.copyTokenizerFiles(source.folder(), out);
    }

    /** Bytes of tensor data the export writes. */
    public static long bytes(ExportSource source, DType dtype) {
        return source.tensors().stream().mapToLong(t -> t.numel() * dtype.bytes()).sum();
    }
}

package dev.turbosparse.model.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.io.AtomicFiles;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Writes safetensors files and Hugging Face checkpoint weights (one file, or shards plus
 * {@code model.safetensors.index.json}). Every file is written atomically. All shards are written in full under
 * temporary names before the first one replaces an old file; the index follows them, and files of an older layout
 * are removed only after the new one is complete. (A crash between the renames of two shards can still leave a mix;
 * the trainer's commit marker is what makes a checkpoint count.)
 *
 * <p>Tensor bytes are streamed from each {@link Entry}'s source, so a writer holds at most one tensor's conversion
 * buffer at a time. Output is deterministic: header keys in the given order, the header padded with spaces to a
 * multiple of 8 bytes as the reference implementation does.
 */
public final class SafetensorsWriter {

    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final Pattern SHARD_NAME = Pattern.compile("model-\\d{5}-of-\\d{5}\\.safetensors");

    /** Metadata transformers expects on PyTorch checkpoints. */
    public static final Map<String, String> PT_METADATA = Map.of("format", "pt");

    private SafetensorsWriter() {}

    /** Produces a tensor's bytes: exactly {@code numel * dtype.bytes()} of them, little-endian. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(FileChannel out) throws IOException;
    }

    /** One tensor to write. */
    public record Entry(String name, DType dtype, long[] shape, TensorSource source) {
        public Entry {
            shape = shape.clone();
        }

        public long byteSize() {
            return TensorInfo.numel(shape) * dtype.bytes();
        }
    }

    /** Writes one safetensors file atomically. */
    public static void writeFile(Path file, List<Entry> tensors, Map<String, String> metadata) throws IOException {
        stageFile(file, tensors, metadata).commit();
    }

    /** Writes one safetensors file under a temporary name; the caller commits or aborts it. */
    static AtomicFiles.Staged stageFile(Path file, List<Entry> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        return AtomicFiles.stage(file, (FileChannel ch) -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            writeFully(ch, len);
            writeFully(ch, ByteBuffer.wrap(header));
            for (Entry e : tensors) {
                long before = ch.position();
                e.source().writeTo(ch);
                long written = ch.position() - before;
                if (written != e.byteSize()) {
                    throw new IllegalStateException("tensor '" + e.name() + "' wrote " + written + " bytes, expected "
                            + e.byteSize());
                }
            }
        });
    }

    /**
     * Writes checkpoint weights into a folder: {@code model.safetensors} if they fit in {@code maxShardBytes}, else
     * {@code model-0000i-of-0000n.safetensors} shards and the index.
     *
     * @return the weight files written
     */
    public static List<Path> writeCheckpoint(Path folder, List<Entry> tensors, long maxShardBytes,
            Map<String, String> metadata) throws IOException {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
        }
        Files.createDirectories(folder);
        List<List<Entry>> shards = new ArrayList<>();
        long current = 0;
        for (Entry e : tensors) {
            if (shards.isEmpty() || (current > 0 && current + e.byteSize() > maxShardBytes)) {
                shards.add(new ArrayList<>());
                current = 0;
            }
            shards.getLast().add(e);
            current += e.byteSize();
        }
        if (shards.isEmpty()) {
            shards.add(List.of());
        }
        // Every shard is written in full before any replaces a file of the old checkpoint: a source that fails, or a
        // full disk, leaves the old weights as they were.
        List<Path> written = new ArrayList<>();
        List<AtomicFiles.Staged> staged = new ArrayList<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        boolean ok = false;
        try {
            for (int i = 0; i < shards.size(); i++) {
                String name = shards.size() == 1 ? SafetensorsCheckpoint.SINGLE_FILE
                        : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                staged.add(stageFile(folder.resolve(name), shards.get(i), metadata));
                written.add(folder.resolve(name));
                for (Entry e : shards.get(i)) {
                    weightMap.put(e.name(), name);
                    total += e.byteSize();
                }
            }
            ok = true;
        } finally {
            if (!ok) {
                staged.forEach(AtomicFiles.Staged::abort);
            }
        }
        for (AtomicFiles.Staged s : staged) {
            s.commit();
        }
        if (shards.size() == 1) {
            Files.deleteIfExists(folder.resolve(SafetensorsCheckpoint.INDEX_FILE));
        } else {
            ObjectNode index = MAPPER.createObjectNode();
            index.putObject("metadata").put("total_size", total);
            ObjectNode map = index.putObject("weight_map");
            weightMap.forEach(map::put);
            AtomicFiles.write(folder.resolve(SafetensorsCheckpoint.INDEX_FILE),
                    (MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(index) + "\n")
                            .getBytes(StandardCharsets.UTF_8));
            Files.deleteIfExists(folder.resolve(SafetensorsCheckpoint.SINGLE_FILE));
        }
        removeStaleShards(folder, written);
        return written;
    }

    private static void removeStaleShards(Path folder, List<Path> keep) throws IOException {
        Set<Path> keepSet = new HashSet<>();
        keep.forEach(p -> keepSet.add(p.getFileName()));
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder)) {
            for (Path p : ds) {
                if (SHARD_NAME.matcher(p.getFileName().toString()).matches() && !keepSet.contains(p.getFileName())) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static byte[] header(List<Entry> tensors, Map<String, String> metadata) {
        ObjectNode root = MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(m -> meta.put(m.getKey(), m.getValue()));
        }
        long offset = 0;
        Set<String> seen = new HashSet<>();
        for (Entry e : tensors) {
            if (!seen.add(e.name()) || SafetensorsFile.METADATA_KEY.equals(e.name())) {
                throw new IllegalArgumentException("tensor name '" + e.name() + "' is duplicated or reserved");
            }
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().name());
            var shape = t.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            var offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offset += e.byteSize();
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = MAPPER.writeValueAsBytes(root);
        } catch (JacksonException ex) {
            throw new IllegalStateException(ex);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = new byte[padded];
        System.arraycopy(json, 0, out, 0, json.length);
        for (int i = json.length; i < padded; i++) {
            out[i] = ' ';
        }
        return out;
    }

    /** Writes all of a buffer. */
    public static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}

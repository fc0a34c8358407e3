package dev.turbosparse.model.gguf;

import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.safetensors.SafetensorsWriter;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF file (version 3), the counterpart of {@link GgufFile}: metadata in the order it was put, tensor infos
 * in the order they were added, each tensor's data aligned to GGUF's default of
 * {@link GgufFile#DEFAULT_ALIGNMENT} bytes or to the writer's own {@link #alignment(int) alignment}. Tensor bytes are
 * streamed from each tensor's source, so a writer holds no tensor in memory; the file is written atomically.
 *
 * <p>Shapes are given row-major, as safetensors and PyTorch state them; the header stores them reversed (ggml's
 * dims, fastest first).
 */
public final class GgufWriter {

    private static final int UINT32 = 4;
    private static final int INT32 = 5;
    private static final int FLOAT32 = 6;
    private static final int BOOL = 7;
    private static final int STRING = 8;
    private static final int ARRAY = 9;
    private static final int UINT64 = 10;

    /** One metadata value, already encoded (type id + payload). */
    private record Encoded(int type, byte[] payload) {}

    /** One tensor to write. */
    public record Tensor(String name, long[] shape, GgmlType type, SafetensorsWriter.TensorSource source) {
        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long byteSize() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return type.bytesFor(n);
        }
    }

    private final String magic;
    private final Map<String, Encoded> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;
    private boolean alignmentSet;

    /** A writer of a GGUF file. */
    public GgufWriter() {
        this(GgufFile.MAGIC);
    }

    /** A writer of a file with the given magic: {@link GgufFile#MAGIC} or {@link GgufFile#POWERINFER_MAGIC}. */
    public GgufWriter(String magic) {
        if (!magic.equals(GgufFile.MAGIC) && !magic.equals(GgufFile.POWERINFER_MAGIC)) {
            throw new IllegalArgumentException("magic must be GGUF or PWRI, got '" + magic + "'");
        }
        this.magic = magic;
    }

    /**
     * Aligns every tensor's data (and the data section) to {@code bytes}, a power of two from GGUF's default
     * ({@link GgufFile#DEFAULT_ALIGNMENT}) to {@link GgufFile#MAX_ALIGNMENT}, and records it as
     * {@code general.alignment} when it is not the default. Readers that
     * follow the GGUF spec (llama.cpp's, {@link GgufFile}) take the tensor offsets from it.
     */
    public GgufWriter alignment(int bytes) {
        if (bytes < GgufFile.DEFAULT_ALIGNMENT || bytes > GgufFile.MAX_ALIGNMENT || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("the alignment must be a power of two from " + GgufFile.DEFAULT_ALIGNMENT
                    + " to " + GgufFile.MAX_ALIGNMENT + ", got " + bytes);
        }
        if (alignmentSet) {
            throw new IllegalArgumentException("the alignment is set once, and it was: " + alignment);
        }
        this.alignment = bytes;
        this.alignmentSet = true;
        if (bytes != GgufFile.DEFAULT_ALIGNMENT) {
            store(GgufFile.ALIGNMENT_KEY, UINT32, le(4).putInt(bytes).array());
        }
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, STRING, string(value));
    }

    public GgufWriter putUint32(String key, long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("metadata '" + key + "': " + value + " does not fit a uint32");
        }
        return put(key, UINT32, le(4).putInt((int) value).array());
    }

    public GgufWriter putUint64(String key, long value) {
        return put(key, UINT64, le(8).putLong(value).array());
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, INT32, le(4).putInt(value).array());
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, FLOAT32, le(4).putFloat(value).array());
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, BOOL, new byte[] {(byte) (value ? 1 : 0)});
    }

    public GgufWriter putStrings(String key, List<String> values) {
        ByteArrayOutputStream b = arrayHeader(STRING, values.size());
        values.forEach(v -> b.writeBytes(string(v)));
        return put(key, ARRAY, b.toByteArray());
    }

    public GgufWriter putFloat32s(String key, float[] values) {
        ByteArrayOutputStream b = arrayHeader(FLOAT32, values.length);
        ByteBuffer data = le(values.length * 4);
        for (float v : values) {
            data.putFloat(v);
        }
        b.writeBytes(data.array());
        return put(key, ARRAY, b.toByteArray());
    }

    public GgufWriter putInt32s(String key, int[] values) {
        ByteArrayOutputStream b = arrayHeader(INT32, values.length);
        ByteBuffer data = le(values.length * 4);
        for (int v : values) {
            data.putInt(v);
        }
        b.writeBytes(data.array());
        return put(key, ARRAY, b.toByteArray());
    }

    /** Adds a tensor; its source must write exactly {@link Tensor#byteSize()} bytes. */
    public GgufWriter tensor(String name, long[] shape, GgmlType type, SafetensorsWriter.TensorSource source) {
        if (name.getBytes(StandardCharsets.UTF_8).length > GgufFile.MAX_NAME_BYTES - 1) {
            throw new IllegalArgumentException("tensor name '" + name + "' is longer than ggml's "
                    + (GgufFile.MAX_NAME_BYTES - 1) + " bytes");
        }
        if (shape.length < 1 || shape.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor '" + name + "' has " + shape.length + " dimensions; ggml allows 1 to "
                    + GgufFile.MAX_DIMS);
        }
        if (shape[shape.length - 1] % type.blockElements() != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + shape[shape.length - 1]
                    + " elements are not whole " + type + " blocks");
        }
        if (tensors.stream().anyMatch(t -> t.name().equals(name))) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        tensors.add(new Tensor(name, shape, type, source));
        return this;
    }

    public List<Tensor> tensors() {
        return List.copyOf(tensors);
    }

    /** Writes the file atomically: a reader sees no file, or the old one, or the complete new one. */
    public void write(Path file) throws IOException {
        byte[] header = header();
        AtomicFiles.write(file, (FileChannel ch) -> {
            SafetensorsWriter.writeFully(ch, ByteBuffer.wrap(header));
            long dataStart = ch.position();
            for (Tensor t : tensors) {
                pad(ch, ch.position() - dataStart, alignment);
                long before = ch.position();
                t.source().writeTo(ch);
                long written = ch.position() - before;
                if (written != t.byteSize()) {
                    throw new IllegalStateException("tensor '" + t.name() + "' wrote " + written + " bytes, expected "
                            + t.byteSize());
                }
            }
        });
    }

    /** Magic, version, counts, metadata, tensor infos, padded to the alignment. */
    private byte[] header() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(magic.getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(le(4).putInt(3).array());
        out.writeBytes(le(8).putLong(tensors.size()).array());
        out.writeBytes(le(8).putLong(metadata.size()).array());
        metadata.forEach((key, v) -> {
            out.writeBytes(string(key));
            out.writeBytes(le(4).putInt(v.type()).array());
            out.writeBytes(v.payload());
        });
        long offset = 0;
        for (Tensor t : tensors) {
            offset = GgufFile.align(offset, alignment);
            out.writeBytes(string(t.name()));
            long[] shape = t.shape();
            out.writeBytes(le(4).putInt(shape.length).array());
            for (int d = shape.length - 1; d >= 0; d--) {
                out.writeBytes(le(8).putLong(shape[d]).array());
            }
            out.writeBytes(le(4).putInt(t.type().id()).array());
            out.writeBytes(le(8).putLong(offset).array());
            offset += t.byteSize();
        }
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        return out.toByteArray();
    }

    private GgufWriter put(String key, int type, byte[] payload) {
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            throw new IllegalArgumentException("metadata '" + GgufFile.ALIGNMENT_KEY + "' is the data's alignment:"
                    + " set it with alignment(int)");
        }
        return store(key, type, payload);
    }

    private GgufWriter store(String key, int type, byte[] payload) {
        if (metadata.putIfAbsent(key, new Encoded(type, payload)) != null) {
            throw new IllegalArgumentException("metadata key '" + key + "' put twice");
        }
        return this;
    }

    private static void pad(FileChannel ch, long dataOffset, int alignment) throws IOException {
        int pad = (int) (GgufFile.align(dataOffset, alignment) - dataOffset);
        if (pad > 0) {
            SafetensorsWriter.writeFully(ch, ByteBuffer.allocate(pad));
        }
    }

    private static ByteArrayOutputStream arrayHeader(int elementType, int count) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(le(4).putInt(elementType).array());
        b.writeBytes(le(8).putLong(count).array());
        return b;
    }

    private static byte[] string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = le(8 + b.length).putLong(b.length);
        out.put(b);
        return out.array();
    }

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}

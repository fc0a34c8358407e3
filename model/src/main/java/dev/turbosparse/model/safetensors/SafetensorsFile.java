package dev.turbosparse.model.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.io.ModelFormatException;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file, memory-mapped: the header is read and validated against the file size before any tensor is
 * touched, and tensor bytes are slices of the mapping, never copied whole.
 *
 * <p>Layout: an 8-byte little-endian header length N, N bytes of JSON ({@code {"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {...}}}), then the data section, offsets relative to its start.
 *
 * <p>Closing unmaps the file; slices taken from it fail afterwards with an exception, never a crash.
 */
public final class SafetensorsFile implements AutoCloseable {

    /** The largest header the reference implementation accepts. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataSize;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private Arena arena; // of the whole-file mapping, made on first use of bytes()
    private MemorySegment data;
    private boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, long dataSize,
            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @throws ModelFormatException naming the file and the tensor or field when the file is not valid
     */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw bad(path, "not found");
        } catch (IOException e) {
            throw bad(path, "cannot read: " + e.getMessage());
        }
        boolean ok = false;
        try {
            long size = ch.size();
            if (size < 8) {
                throw bad(path, "truncated: " + size + " bytes, but a safetensors file starts with an 8-byte header"
                        + " length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 0 || headerLen > size - 8) {
                throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " exceeds the file size of "
                        + size + " bytes (truncated or not a safetensors file)");
            }
            if (headerLen > MAX_HEADER_BYTES) {
                throw bad(path, "header length " + headerLen + " is beyond the " + MAX_HEADER_BYTES
                        + "-byte limit of the format");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            long dataStart = 8 + headerLen;
            long dataSize = size - dataStart;
            Header header = parseHeader(path, headerBuf.array(), dataSize);
            ok = true;
            return new SafetensorsFile(path, ch, dataStart, dataSize, header.tensors, header.metadata);
        } catch (IOException e) {
            throw bad(path, "cannot read: " + e.getMessage());
        } finally {
            if (!ok) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // the open failed already; that error is the one to report
                }
            }
        }
    }

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Header parseHeader(Path path, byte[] json, long dataSize) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw bad(path, "header is not valid JSON: " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw bad(path, "header cannot be read: " + e.getMessage());
        }
        if (!(root instanceof ObjectNode obj)) {
            throw bad(path, "header is not a JSON object");
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = obj.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode node = e.getValue();
            if (METADATA_KEY.equals(name)) {
                if (!node.isObject()) {
                    throw bad(path, "'" + METADATA_KEY + "' must be an object of strings");
                }
                node.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) {
                        throw bad(path, "'" + METADATA_KEY + "." + m.getKey() + "' must be a string");
                    }
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            tensors.put(name, parseTensor(path, name, node, dataSize));
        }
        checkNoOverlap(path, tensors);
        return new Header(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo parseTensor(Path path, String name, JsonNode node, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw bad(path, where + ": expected an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw bad(path, where + ": field 'dtype' is missing or not a string");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.asText());
        if (dtype == null) {
            throw bad(path, where + ": unknown dtype '" + dtypeNode.asText() + "' (known: " + DType.knownNames() + ")");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw bad(path, where + ": field 'shape' is missing or not a list");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw bad(path, where + ": shape " + shapeNode + " must hold non-negative integers");
            }
            shape[i] = d.asLong();
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).isIntegralNumber()
                || !offsets.get(1).isIntegralNumber() || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong()) {
            throw bad(path, where + ": field 'data_offsets' must be [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin) {
            throw bad(path, where + ": data_offsets " + offsets + " are not an ordered pair of non-negative offsets");
        }
        if (end > dataSize) {
            throw bad(path, where + ": data ends at byte " + end + " of the data section, but the file holds only "
                    + dataSize + " bytes of data (truncated?)");
        }
        long expectedBytes;
        try {
            expectedBytes = Math.multiplyExact(TensorInfo.numel(shape), dtype.bytes());
        } catch (ArithmeticException ex) {
            throw bad(path, where + ": shape " + shapeNode + " is too large");
        }
        if (expectedBytes != end - begin) {
            throw bad(path, where + ": shape " + shapeNode + " of " + dtype + " needs " + expectedBytes
                    + " bytes, but data_offsets " + offsets + " span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void checkNoOverlap(Path path, Map<String, TensorInfo> tensors) {
        List<TensorInfo> sorted = new ArrayList<>();
        for (TensorInfo t : tensors.values()) {
            if (t.byteSize() > 0) { // an empty tensor occupies no bytes and overlaps nothing
                sorted.add(t);
            }
        }
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo furthest = null;
        for (TensorInfo cur : sorted) {
            if (furthest != null && cur.begin() < furthest.end()) {
                throw bad(path, "tensor '" + cur.name() + "' overlaps tensor '" + furthest.name() + "' in the data section");
            }
            if (furthest == null || cur.end() > furthest.end()) {
                furthest = cur;
            }
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new EOFException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    static ModelFormatException bad(Path path, String what) {
        return new ModelFormatException(path + ": " + what);
    }

    private static String firstLine(String s) {
        int nl = s == null ? -1 : s.indexOf('\n');
        return nl < 0 ? String.valueOf(s) : s.substring(0, nl);
    }

    public Path path() {
        return path;
    }

    /** Tensors in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** @throws ModelFormatException if the file has no tensor of that name */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw bad(path, "no tensor '" + name + "'");
        }
        return t;
    }

    /**
     * The tensor's bytes, a slice of a read-only mapping of the whole file (no copy), valid until {@link #close()}.
     * Pages it touches stay resident in this process while the file is open.
     */
    public synchronized MemorySegment bytes(TensorInfo t) {
        if (closed) {
            throw new IllegalStateException(path + " is closed");
        }
        if (data == null) {
            Arena a = Arena.ofShared();
            try {
                data = channel.map(FileChannel.MapMode.READ_ONLY, dataStart, Math.max(dataSize, 0), a);
                arena = a;
            } catch (IOException | RuntimeException e) {
                a.close();
                throw bad(path, "cannot map: " + e.getMessage());
            }
        }
        return data.asSlice(t.begin(), t.byteSize());
    }

    /**
     * Converts a floating-point tensor into float32 at {@code dst} (which must hold numel * 4 bytes). Maps only this
     * tensor's bytes and unmaps them afterwards, so that loading a model keeps at most one tensor of the file
     * resident besides its destination.
     */
    public void readFloat32(TensorInfo t, MemorySegment dst) {
        requireFloat(t);
        if (t.byteSize() == 0) {
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteSize(), a);
            t.dtype().toFloat32(src, dst, t.numel());
        } catch (IOException e) {
            throw bad(path, "cannot map tensor '" + t.name() + "': " + e.getMessage());
        }
    }

    /** A small floating-point tensor as a float array (for tests and metadata-sized tensors). */
    public float[] readFloats(String name) {
        TensorInfo t = info(name);
        requireFloat(t);
        float[] out = new float[Math.toIntExact(t.numel())];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f32 = a.allocate((long) out.length * 4);
            readFloat32(t, f32);
            MemorySegment.copy(f32, DType.FLOAT_LE, 0, out, 0, out.length);
        }
        return out;
    }

    /** A small integer tensor (I64, I32, ...) as longs. */
    public long[] readLongs(String name) {
        TensorInfo t = info(name);
        if (t.dtype().isFloatingPoint() || t.dtype() == DType.F8_E4M3 || t.dtype() == DType.F8_E5M2) {
            throw bad(path, "tensor '" + name + "' is " + t.dtype() + ", not an integer type");
        }
        MemorySegment src = bytes(t);
        long[] out = new long[Math.toIntExact(t.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case I64, U64 -> src.getAtIndex(DType.LONG_LE, i);
                case I32 -> src.getAtIndex(DType.INT_LE, i);
                case U32 -> Integer.toUnsignedLong(src.getAtIndex(DType.INT_LE, i));
                case I16 -> src.getAtIndex(DType.SHORT_LE, i);
                case U16 -> Short.toUnsignedInt(src.getAtIndex(DType.SHORT_LE, i));
                case I8 -> src.get(ValueLayout.JAVA_BYTE, i);
                case U8, BOOL -> Byte.toUnsignedInt(src.get(ValueLayout.JAVA_BYTE, i));
                default -> throw new IllegalStateException("unreachable: " + t.dtype());
            };
        }
        return out;
    }

    private void requireFloat(TensorInfo t) {
        if (!t.dtype().isFloatingPoint()) {
            throw bad(path, "tensor '" + t.name() + "' is " + t.dtype() + ", not a floating-point type");
        }
    }

    /** Unmaps the file; slices taken from {@link #bytes} fail afterwards with an exception, never a crash. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (arena != null) {
                arena.close();
            }
            channel.close();
        } catch (IOException e) {
            throw bad(path, "cannot close: " + e.getMessage());
        }
    }
}

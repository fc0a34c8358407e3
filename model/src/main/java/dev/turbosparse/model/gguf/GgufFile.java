package dev.turbosparse.model.gguf;

import dev.turbosparse.model.io.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's container, versions 2 and 3), memory-mapped. The header is parsed with every length,
 * count and offset checked against the file size before it is used: a damaged or hostile file gives a one-line
 * {@link ModelFormatException} naming the file and the field or tensor, never an out-of-memory error or a crash.
 *
 * <p>Layout: magic "GGUF" (or "PWRI": PowerInfer's mark of a file for sparse inference, {@link #POWERINFER_MAGIC}),
 * u32 version, u64 tensor count, u64 metadata count, the metadata key/values, the tensor
 * infos (name, u32 n_dims, u64 dims (fastest first), u32 ggml type, u64 offset), padding to {@code general.alignment}
 * (default 32), then the tensor data.
 */
public final class GgufFile implements AutoCloseable {

    /** The magic of a GGUF file. */
    public static final String MAGIC = "GGUF";
    /**
     * The magic PowerInfer writes in place of {@link #MAGIC} to mark a file for sparse inference: the rest of the file
     * is GGUF. llama.cpp refuses such a file at its first four bytes.
     */
    public static final String POWERINFER_MAGIC = "PWRI";

    /** The most dimensions ggml supports. */
    public static final int MAX_DIMS = 4;
    /** The longest tensor name ggml accepts. */
    public static final int MAX_NAME_BYTES = 64;
    /** The longest metadata key the spec allows. */
    public static final int MAX_KEY_BYTES = 65_535;
    /** The longest metadata string value read (chat templates and the like are kilobytes). */
    public static final int MAX_STRING_BYTES = 64 << 20;
    /** Strings decoded from metadata at most: large vocabularies and their merges stay far below it. */
    public static final long MAX_METADATA_STRINGS = 4_000_000;
    /** The metadata key of the data alignment, when it is not {@link #DEFAULT_ALIGNMENT}. */
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** GGUF's data alignment when the file does not set {@link #ALIGNMENT_KEY}. */
    public static final int DEFAULT_ALIGNMENT = 32;
    /** The largest data alignment read. */
    public static final int MAX_ALIGNMENT = 1 << 20;

    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One tensor: dims in ggml order (dims[0] is the contiguous row length, so the row-major shape is the reverse),
     * its type, and where its bytes lie in the file.
     */
    public record TensorInfo(String name, long[] dims, GgmlType type, long fileOffset, long byteSize) {
        public TensorInfo {
            dims = dims.clone();
        }

        @Override
        public long[] dims() {
            return dims.clone();
        }

        /** The row-major (PyTorch/safetensors) shape: dims reversed. */
        public long[] shape() {
            long[] s = new long[dims.length];
            for (int i = 0; i < dims.length; i++) {
                s[i] = dims[dims.length - 1 - i];
            }
            return s;
        }

        public long numel() {
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            return n;
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final String magic;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;

    private GgufFile(Path path, Arena arena, MemorySegment file, String magic, int version,
            Map<String, Object> metadata, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.magic = magic;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Opens and validates a GGUF file. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        boolean ok = false;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 24) {
                throw bad(path, "truncated: " + size + " bytes, shorter than a GGUF header (24 bytes)");
            }
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Parser p = new Parser(path, file);
            GgufFile g = p.parse(arena);
            ok = true;
            return g;
        } catch (NoSuchFileException e) {
            throw bad(path, "not found");
        } catch (IOException e) {
            throw bad(path, "cannot read: " + e.getMessage());
        } finally {
            if (!ok) {
                arena.close();
            }
        }
    }

    /** A tensor info as read, before its offset is checked against the data section. */
    private record Pending(String name, long[] dims, GgmlType type, long offset) {}

    /** Reads the header with a cursor that never goes past the file's end. */
    private static final class Parser {
        private final Path path;
        private final MemorySegment file;
        private final long size;
        private long pos;
        private String where = "header"; // set once per entry; messages are built only on failure
        private long strings;

        Parser(Path path, MemorySegment file) {
            this.path = path;
            this.file = file;
            this.size = file.byteSize();
        }

        GgufFile parse(Arena arena) {
            byte[] magic = new byte[4];
            MemorySegment.copy(file, ValueLayout.JAVA_BYTE, 0, magic, 0, 4);
            String kind = new String(magic, StandardCharsets.ISO_8859_1);
            if (!kind.equals(MAGIC) && !kind.equals(POWERINFER_MAGIC)) {
                throw bad(path, "not a GGUF file: magic is " + printable(magic) + ", expected \"GGUF\" (or \"PWRI\")");
            }
            pos = 4;
            int version = u32("version");
            if (version != 2 && version != 3) {
                throw bad(path, "GGUF version " + Integer.toUnsignedString(version)
                        + " is not supported (this reader handles versions 2 and 3)");
            }
            long tensorCount = count("tensor_count", 8 + 4 + 8 + 4 + 8); // smallest tensor info: name, dims, type, offset
            long kvCount = count("metadata_kv_count", 8 + 4 + 1);
            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                where = "metadata entry " + i;
                String key = string("key", MAX_KEY_BYTES);
                where = "metadata '" + (key.length() > 80 ? key.substring(0, 80) + "..." : key) + "'";
                int type = u32("value type");
                if (metadata.put(key, value(type, 0)) != null) {
                    throw bad(path, "metadata key '" + key + "' appears twice");
                }
            }
            long alignment = DEFAULT_ALIGNMENT;
            Object a = metadata.get(ALIGNMENT_KEY);
            if (a != null) {
                if (!(a instanceof Long al) || al <= 0 || al % 8 != 0 || al > MAX_ALIGNMENT) {
                    throw bad(path, "metadata '" + ALIGNMENT_KEY + "' must be a positive multiple of 8 of at most "
                            + MAX_ALIGNMENT + ", got " + a);
                }
                alignment = al;
            }
            List<Pending> pending = new ArrayList<>();
            for (long i = 0; i < tensorCount; i++) {
                where = "tensor info " + i;
                String name = string("name", MAX_NAME_BYTES);
                where = "tensor '" + name + "'";
                int nDims = u32("n_dimensions");
                if (nDims < 1 || nDims > MAX_DIMS) {
                    throw bad(path, where + ": " + Integer.toUnsignedString(nDims) + " dimensions; ggml allows 1 to "
                            + MAX_DIMS);
                }
                long[] dims = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    dims[d] = u64("dimension " + d);
                    if (dims[d] <= 0 || dims[d] > size * 8) {
                        throw bad(path, where + ": dimension " + d + " is " + Long.toUnsignedString(dims[d]));
                    }
                }
                int typeId = u32("type");
                GgmlType type = GgmlType.of(typeId);
                if (type == null) {
                    throw bad(path, where + ": unknown or unsupported ggml type " + Integer.toUnsignedString(typeId)
                            + " (this reader handles F32, F16, BF16, Q8_0 and Q4_0)");
                }
                pending.add(new Pending(name, dims, type, u64("offset")));
            }
            long dataStart = align(pos, alignment);
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            for (Pending t : pending) {
                String name = t.name();
                long offset = t.offset();
                long[] dims = t.dims();
                GgmlType type = t.type();
                long numel;
                long bytes;
                try {
                    numel = 1;
                    for (long d : dims) {
                        numel = Math.multiplyExact(numel, d);
                    }
                    if (dims[0] % type.blockElements() != 0) {
                        throw bad(path, "tensor '" + name + "': rows of " + dims[0] + " elements are not whole " + type
                                + " blocks of " + type.blockElements());
                    }
                    bytes = type.bytesFor(numel);
                } catch (ArithmeticException e) {
                    throw bad(path, "tensor '" + name + "': dimensions " + Arrays.toString(dims) + " are too large");
                }
                if (offset < 0 || offset % alignment != 0) {
                    throw bad(path, "tensor '" + name + "': offset " + Long.toUnsignedString(offset)
                            + " is not a multiple of the alignment " + alignment);
                }
                if (offset > size - dataStart || bytes > size - dataStart - offset) {
                    throw bad(path, "tensor '" + name + "': data [" + Long.toUnsignedString(offset) + ", +" + bytes
                            + ") lies beyond the end of the file (" + (size - dataStart)
                            + " bytes of tensor data; truncated?)");
                }
                if (tensors.put(name, new TensorInfo(name, dims, type, dataStart + offset, bytes)) != null) {
                    throw bad(path, "tensor '" + name + "' appears twice");
                }
            }
            checkNoOverlap(tensors);
            return new GgufFile(path, arena, file, kind, version, Collections.unmodifiableMap(metadata),
                    Collections.unmodifiableMap(tensors));
        }

        private void checkNoOverlap(Map<String, TensorInfo> tensors) {
            List<TensorInfo> sorted = new ArrayList<>(tensors.values());
            sorted.sort(Comparator.comparingLong(TensorInfo::fileOffset));
            for (int i = 1; i < sorted.size(); i++) {
                TensorInfo prev = sorted.get(i - 1);
                if (sorted.get(i).fileOffset() < prev.fileOffset() + prev.byteSize()) {
                    throw bad(path, "tensor '" + sorted.get(i).name() + "' overlaps tensor '" + prev.name() + "'");
                }
            }
        }

        private Object value(int type, int depth) {
            return switch (type) {
                case 0 -> (long) Byte.toUnsignedInt(bytes(1, "uint8").get(ValueLayout.JAVA_BYTE, 0));
                case 1 -> (long) bytes(1, "int8").get(ValueLayout.JAVA_BYTE, 0);
                case 2 -> (long) Short.toUnsignedInt(bytes(2, "uint16").get(SHORT, 0));
                case 3 -> (long) bytes(2, "int16").get(SHORT, 0);
                case 4 -> Integer.toUnsignedLong(bytes(4, "uint32").get(INT, 0));
                case 5 -> (long) bytes(4, "int32").get(INT, 0);
                case 6 -> (double) bytes(4, "float32").get(FLOAT, 0);
                case 7 -> bool(bytes(1, "bool").get(ValueLayout.JAVA_BYTE, 0));
                case 8 -> string("string value", MAX_STRING_BYTES);
                case 9 -> array(depth);
                case 10 -> bytes(8, "uint64").get(LONG, 0); // above 2^63 reads negative; no model field gets there
                case 11 -> bytes(8, "int64").get(LONG, 0);
                case 12 -> bytes(8, "float64").get(DOUBLE, 0);
                default -> throw bad(path, where + ": unknown metadata value type " + Integer.toUnsignedString(type));
            };
        }

        /**
         * An array: numbers and booleans as primitive arrays read in bulk (memory never exceeds the file's bytes),
         * strings and nested arrays as unmodifiable lists, within {@link #MAX_METADATA_STRINGS}.
         */
        private Object array(int depth) {
            if (depth > 4) {
                throw bad(path, where + ": arrays nested deeper than 4");
            }
            int type = u32("array element type");
            int elementBytes = switch (type) {
                case 0, 1, 7 -> 1;
                case 2, 3 -> 2;
                case 4, 5, 6 -> 4;
                case 8, 10, 11, 12 -> 8;
                case 9 -> 12;
                default -> throw bad(path, where + ": unknown array element type " + Integer.toUnsignedString(type));
            };
            long count = count("array length", elementBytes);
            int n = Math.toIntExact(count); // count() bounds it by the file size / elementBytes
            if (type == 8 || type == 9) {
                strings += count;
                if (strings > MAX_METADATA_STRINGS) {
                    throw bad(path, where + ": more than " + MAX_METADATA_STRINGS + " strings or arrays in the metadata");
                }
                List<Object> list = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    list.add(type == 8 ? string("string element", MAX_STRING_BYTES) : array(depth + 1));
                }
                return Collections.unmodifiableList(list);
            }
            MemorySegment src = bytes((long) n * elementBytes, "array data");
            return switch (type) {
                case 0, 1 -> src.toArray(ValueLayout.JAVA_BYTE); // uint8 read as byte: mask with 0xFF
                case 2, 3 -> src.toArray(SHORT); // uint16: mask with 0xFFFF
                case 4, 5 -> src.toArray(INT); // uint32: Integer.toUnsignedLong
                case 6 -> src.toArray(FLOAT);
                case 10, 11 -> src.toArray(LONG);
                case 12 -> src.toArray(DOUBLE);
                case 7 -> {
                    boolean[] b = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        b[i] = bool(src.get(ValueLayout.JAVA_BYTE, i));
                    }
                    yield b;
                }
                default -> throw new IllegalStateException("unreachable");
            };
        }

        private boolean bool(byte b) {
            if (b != 0 && b != 1) {
                throw bad(path, where + ": a boolean must be 0 or 1, got " + b);
            }
            return b == 1;
        }

        private MemorySegment bytes(long n, String field) {
            if (n < 0 || n > size - pos) {
                throw bad(path, where + ": " + field + " needs " + Long.toUnsignedString(n) + " bytes at offset " + pos
                        + ", past the end of the file (" + size + " bytes; truncated?)");
            }
            MemorySegment s = file.asSlice(pos, n);
            pos += n;
            return s;
        }

        private int u32(String field) {
            return bytes(4, field).get(INT, 0);
        }

        private long u64(String field) {
            return bytes(8, field).get(LONG, 0);
        }

        /** A count of items each at least {@code minBytes} long: checked against what the file can hold. */
        private long count(String field, long minBytes) {
            long n = u64(field);
            if (n < 0 || n > (size - pos) / minBytes) {
                throw bad(path, where + ": " + field + " " + Long.toUnsignedString(n) + " cannot fit in the "
                        + (size - pos) + " bytes left of the file");
            }
            return n;
        }

        private String string(String field, int maxBytes) {
            long n = u64(field + " length");
            if (n < 0 || n > maxBytes) {
                throw bad(path, where + ": " + field + " of " + Long.toUnsignedString(n) + " bytes is longer than the "
                        + maxBytes + " allowed");
            }
            MemorySegment s = bytes(n, field);
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(s.asByteBuffer()).toString();
            } catch (CharacterCodingException e) {
                throw bad(path, where + ": " + field + " is not valid UTF-8");
            }
        }
    }

    static long align(long offset, long alignment) {
        return offset + (alignment - offset % alignment) % alignment;
    }

    private static String printable(byte[] b) {
        StringBuilder s = new StringBuilder("\"");
        for (byte x : b) {
            s.append(x >= 32 && x < 127 ? String.valueOf((char) x) : String.format("\\x%02x", x & 0xFF));
        }
        return s.append('"').toString();
    }

    static ModelFormatException bad(Path path, String what) {
        return new ModelFormatException(path + ": " + what);
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** {@link #MAGIC}, or {@link #POWERINFER_MAGIC} for a file marked for sparse inference. */
    public String magic() {
        return magic;
    }

    /**
     * Metadata values: Long for integers, Double for floats, Boolean, String; arrays of numbers or booleans as
     * primitive arrays of the stored width (byte[], short[], int[], long[], float[], double[], boolean[]; unsigned
     * values as their bit pattern), arrays of strings or arrays as unmodifiable lists.
     */
    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** @throws ModelFormatException if the file has no tensor of that name */
    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw bad(path, "no tensor '" + name + "'");
        }
        return t;
    }

    /** The tensor's bytes in the mapping (no copy). */
    public MemorySegment bytes(TensorInfo t) {
        return file.asSlice(t.fileOffset(), t.byteSize());
    }

    /** Dequantizes or converts {@code count} elements from element {@code first} into float32 at {@code dst}. */
    public void readFloat32(TensorInfo t, long first, long count, MemorySegment dst) {
        int block = t.type().blockElements();
        if (first < 0 || count < 0 || first > t.numel() - count || first % block != 0 || count % block != 0) {
            throw new IndexOutOfBoundsException("elements [" + first + ", +" + count + ") of tensor '" + t.name()
                    + "' (" + t.numel() + " elements of " + t.type() + ", blocks of " + block + ")");
        }
        if (dst.byteSize() < count * 4) {
            throw new IndexOutOfBoundsException("destination holds " + dst.byteSize() / 4 + " floats, need " + count);
        }
        t.type().toFloat32(bytes(t), first, dst, count);
    }

    /** The length of an array metadata value, or -1 if the key is absent or not an array. */
    public int arrayLength(String key) {
        Object v = metadata.get(key);
        if (v instanceof List<?> l) {
            return l.size();
        }
        return v != null && v.getClass().isArray() ? java.lang.reflect.Array.getLength(v) : -1;
    }

    /** A required integer metadata value. */
    public long requireLong(String key) {
        Object v = metadata.get(key);
        if (!(v instanceof Long l)) {
            throw bad(path, v == null ? "metadata '" + key + "' is missing" : "metadata '" + key + "' must be an integer, got " + v);
        }
        return l;
    }

    /** An integer metadata value, or {@code fallback} when absent. */
    public long getLong(String key, long fallback) {
        return metadata.containsKey(key) ? requireLong(key) : fallback;
    }

    /** A floating-point metadata value, or {@code fallback} when absent. */
    public double getDouble(String key, double fallback) {
        Object v = metadata.get(key);
        if (v == null) {
            return fallback;
        }
        if (v instanceof Double d) {
            return d;
        }
        if (v instanceof Long l) {
            return l;
        }
        throw bad(path, "metadata '" + key + "' must be a number, got " + v);
    }

    /** A string metadata value, or null when absent. */
    public String getString(String key) {
        Object v = metadata.get(key);
        if (v != null && !(v instanceof String)) {
            throw bad(path, "metadata '" + key + "' must be a string, got " + v);
        }
        return (String) v;
    }

    /** Unmaps the file; slices from {@link #bytes} fail afterwards with an exception, never a crash. */
    @Override
    public void close() {
        arena.close();
    }
}

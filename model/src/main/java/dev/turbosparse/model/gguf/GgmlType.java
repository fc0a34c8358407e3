package dev.turbosparse.model.gguf;

import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsWriter;

import java.lang.foreign.Arena;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The ggml tensor types this project reads, with their block layout. Values are ggml's {@code enum ggml_type}.
 * Quantized types store blocks of 32 elements:
 *
 * <pre>
 *   Q8_0: fp16 scale d, 32 x int8 q              x[i] = d * q[i]
 *   Q4_0: fp16 scale d, 16 bytes of nibbles      x[i] = d * ((qs[i] &amp; 0xF) - 8), x[i+16] = d * ((qs[i] &gt;&gt; 4) - 8)
 * </pre>
 */
public enum GgmlType {
    F32(0, 1, 4), F16(1, 1, 2), Q4_0(2, 32, 18), Q8_0(8, 32, 34), BF16(30, 1, 2);

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int id;
    private final int blockElements;
    private final int blockBytes;

    GgmlType(int id, int blockElements, int blockBytes) {
        this.id = id;
        this.blockElements = blockElements;
        this.blockBytes = blockBytes;
    }

    /** ggml's numeric id. */
    public int id() {
        return id;
    }

    /** Elements per block: 1 for plain types, 32 for Q8_0 and Q4_0. */
    public int blockElements() {
        return blockElements;
    }

    public int blockBytes() {
        return blockBytes;
    }

    /** The type of a ggml id, or null if this reader does not handle it. */
    public static GgmlType of(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        return null;
    }

    /** Bytes that {@code elements} elements take; the count must be a whole number of blocks. */
    public long bytesFor(long elements) {
        if (elements % blockElements != 0) {
            throw new IllegalArgumentException(this + " stores blocks of " + blockElements + " elements; "
                    + elements + " is not a multiple");
        }
        return Math.multiplyExact(elements / blockElements, blockBytes);
    }

    /**
     * Converts {@code count} elements, starting at element {@code first} of the data at {@code src}, into
     * little-endian float32 at {@code dst}. For block types {@code first} and {@code count} are whole blocks.
     */
    public void toFloat32(MemorySegment src, long first, MemorySegment dst, long count) {
        switch (this) {
            case F32 -> MemorySegment.copy(src, first * 4, dst, 0, count * 4);
            case F16 -> DType.F16.toFloat32(src.asSlice(first * 2, count * 2), dst, count);
            case BF16 -> DType.BF16.toFloat32(src.asSlice(first * 2, count * 2), dst, count);
            case Q8_0 -> {
                long block0 = first / 32;
                for (long b = 0; b < count / 32; b++) {
                    long at = (block0 + b) * 34;
                    float d = Float.float16ToFloat(src.get(SHORT_LE, at));
                    for (int i = 0; i < 32; i++) {
                        dst.setAtIndex(FLOAT_LE, b * 32 + i, d * src.get(ValueLayout.JAVA_BYTE, at + 2 + i));
                    }
                }
            }
            case Q4_0 -> {
                long block0 = first / 32;
                for (long b = 0; b < count / 32; b++) {
                    long at = (block0 + b) * 18;
                    float d = Float.float16ToFloat(src.get(SHORT_LE, at));
                    for (int i = 0; i < 16; i++) {
                        int q = src.get(ValueLayout.JAVA_BYTE, at + 2 + i) & 0xFF;
                        dst.setAtIndex(FLOAT_LE, b * 32 + i, d * ((q & 0x0F) - 8));
                        dst.setAtIndex(FLOAT_LE, b * 32 + 16 + i, d * ((q >> 4) - 8));
                    }
                }
            }
        }
    }

    /** The type of a name as a command line gives it: f32, f16, bf16, q8_0, q4_0 (any case); null if none. */
    public static GgmlType byName(String name) {
        for (GgmlType t : values()) {
            if (t.name().equalsIgnoreCase(name)) {
                return t;
            }
        }
        return null;
    }

    /**
     * float32 values (little-endian, {@code count} of them, a whole number of blocks) written as this type, converted
     * a chunk of 2^20 elements at a time.
     */
    public SafetensorsWriter.TensorSource fromFloat32(MemorySegment f32, long count) {
        bytesFor(count);
        return ch -> {
            try (Arena arena = Arena.ofConfined()) {
                long chunk = Math.min(1L << 20, Math.max(count, blockElements));
                MemorySegment buf = arena.allocate(bytesFor(chunk));
                for (long i = 0; i < count; i += chunk) {
                    long n = Math.min(chunk, count - i);
                    fromFloat32(f32.asSlice(i * 4, n * 4), buf, n);
                    SafetensorsWriter.writeFully(ch, buf.asSlice(0, bytesFor(n)).asByteBuffer());
                }
            }
        };
    }

    /**
     * Converts {@code count} little-endian float32 values at {@code src} into this type at {@code dst}, as ggml's
     * reference quantizers do: F16 and BF16 round to nearest even; Q8_0 takes per block d = max|x| / 127 and
     * q = round(x / d) (halves away from zero); Q4_0 takes the value of largest magnitude m, d = m / -8 and q = min(15, trunc(x / d + 8.5)).
     * The count is a whole number of blocks.
     */
    public void fromFloat32(MemorySegment src, MemorySegment dst, long count) {
        bytesFor(count);
        switch (this) {
            case F32 -> MemorySegment.copy(src, 0, dst, 0, count * 4);
            case F16 -> DType.F16.fromFloat32(src, dst, count);
            case BF16 -> DType.BF16.fromFloat32(src, dst, count);
            case Q8_0 -> {
                for (long b = 0; b < count / 32; b++) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) {
                        amax = Math.max(amax, Math.abs(src.getAtIndex(FLOAT_LE, b * 32 + i)));
                    }
                    float d = amax / 127;
                    float id = d != 0 ? 1 / d : 0;
                    long at = b * 34;
                    dst.set(SHORT_LE, at, Float.floatToFloat16(d));
                    for (int i = 0; i < 32; i++) {
                        float v = src.getAtIndex(FLOAT_LE, b * 32 + i) * id;
                        // C's roundf: halves away from zero
                        dst.set(ValueLayout.JAVA_BYTE, at + 2 + i, (byte) (v >= 0 ? Math.round(v) : -Math.round(-v)));
                    }
                }
            }
            case Q4_0 -> {
                for (long b = 0; b < count / 32; b++) {
                    float amax = 0;
                    float max = 0;
                    for (int i = 0; i < 32; i++) {
                        float v = src.getAtIndex(FLOAT_LE, b * 32 + i);
                        if (Math.abs(v) > amax) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8;
                    float id = d != 0 ? 1 / d : 0;
                    long at = b * 18;
                    dst.set(SHORT_LE, at, Float.floatToFloat16(d));
                    for (int i = 0; i < 16; i++) {
                        int lo = Math.min(15, (int) (src.getAtIndex(FLOAT_LE, b * 32 + i) * id + 8.5f));
                        int hi = Math.min(15, (int) (src.getAtIndex(FLOAT_LE, b * 32 + 16 + i) * id + 8.5f));
                        dst.set(ValueLayout.JAVA_BYTE, at + 2 + i, (byte) (lo | hi << 4));
                    }
                }
            }
        }
    }
}

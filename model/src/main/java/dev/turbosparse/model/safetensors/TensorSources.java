package dev.turbosparse.model.safetensors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Ready-made {@link SafetensorsWriter.TensorSource}s. */
public final class TensorSources {

    /** Elements converted per chunk: bounds the writer's transient buffer to 16 MiB of float32. */
    static final long CHUNK_ELEMENTS = 4L << 20;

    private TensorSources() {}

    /** The tensor's bytes exactly as stored (no conversion). */
    public static SafetensorsWriter.TensorSource raw(MemorySegment bytes) {
        return ch -> {
            for (long off = 0; off < bytes.byteSize(); off += CHUNK_ELEMENTS * 4) {
                long n = Math.min(CHUNK_ELEMENTS * 4, bytes.byteSize() - off);
                SafetensorsWriter.writeFully(ch, bytes.asSlice(off, n).asByteBuffer());
            }
        };
    }

    /** Java floats written as little-endian float32. */
    public static SafetensorsWriter.TensorSource fromFloats(float[] values) {
        return ch -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            SafetensorsWriter.writeFully(ch, b);
        };
    }

    /**
     * float32 values (little-endian, {@code count} of them) written as {@code dtype}, converted a chunk at a time.
     */
    public static SafetensorsWriter.TensorSource fromFloat32(MemorySegment f32, long count, DType dtype) {
        if (f32.byteSize() < count * 4) {
            throw new IllegalArgumentException("float32 source holds " + f32.byteSize() / 4 + " elements, need " + count);
        }
        if (dtype == DType.F32) {
            return raw(f32.asSlice(0, count * 4));
        }
        return ch -> {
            try (Arena arena = Arena.ofConfined()) {
                long chunk = Math.min(CHUNK_ELEMENTS, Math.max(count, 1));
                MemorySegment buf = arena.allocate(chunk * dtype.bytes());
                for (long i = 0; i < count; i += chunk) {
                    long n = Math.min(chunk, count - i);
                    dtype.fromFloat32(f32.asSlice(i * 4, n * 4), buf, n);
                    SafetensorsWriter.writeFully(ch, buf.asSlice(0, n * dtype.bytes()).asByteBuffer());
                }
            }
        };
    }
}

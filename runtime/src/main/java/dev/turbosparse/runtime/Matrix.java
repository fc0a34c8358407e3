package dev.turbosparse.runtime;

import dev.turbosparse.model.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * A row-major weight matrix where it lies: usually a slice of a memory-mapped GGUF or safetensors file, never copied.
 * Each row is {@code cols} elements of {@code type} ({@link GgmlType}: F32, F16, BF16, or blocks of 32 for Q8_0 and
 * Q4_0), {@code rowBytes} apart.
 */
public record Matrix(String name, GgmlType type, long rows, long cols, MemorySegment data) {

    public Matrix {
        if (cols % type.blockElements() != 0) {
            throw new IllegalArgumentException(name + ": rows of " + cols + " elements are not whole " + type + " blocks");
        }
        long need = rows * type.bytesFor(cols);
        if (data.byteSize() < need) {
            throw new IllegalArgumentException(name + ": (" + rows + ", " + cols + ") " + type + " needs " + need
                    + " bytes, the data has " + data.byteSize());
        }
    }

    /** Bytes from one row to the next. */
    public long rowBytes() {
        return type.bytesFor(cols);
    }

    /** Bytes of the whole matrix. */
    public long bytes() {
        return rows * rowBytes();
    }

    /** Rows [first, first + count) as a matrix of their own. */
    public Matrix rows(long first, long count) {
        return new Matrix(name, type, count, cols, data.asSlice(first * rowBytes(), count * rowBytes()));
    }
}

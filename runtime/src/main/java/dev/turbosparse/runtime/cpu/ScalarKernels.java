package dev.turbosparse.runtime.cpu;

import dev.turbosparse.runtime.Matrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The reference kernels: one element at a time, in the order a reader would write them. Every type decodes as
 * {@link dev.turbosparse.model.gguf.GgmlType#toFloat32} does (F16 and BF16 widened exactly; Q8_0 {@code d * q};
 * Q4_0 {@code d * (nibble - 8)}, low nibbles first).
 */
public final class ScalarKernels implements RowKernels {

    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public float dot(Matrix m, long row, float[] x) {
        float sum = 0;
        long base = row * m.rowBytes();
        int n = (int) m.cols();
        for (int j = 0; j < n; j++) {
            sum += element(m, base, j) * x[j];
        }
        return sum;
    }

    @Override
    public void axpy(Matrix m, long row, float a, float[] y, int from, int to) {
        long base = row * m.rowBytes();
        for (int j = from; j < to; j++) {
            y[j] += a * element(m, base, j);
        }
    }

    /** Element j of the row that starts at byte {@code base}. */
    static float element(Matrix m, long base, int j) {
        MemorySegment d = m.data();
        return switch (m.type()) {
            case F32 -> d.get(FLOAT, base + 4L * j);
            case F16 -> Float.float16ToFloat(d.get(SHORT, base + 2L * j));
            case BF16 -> Float.intBitsToFloat(d.get(SHORT, base + 2L * j) << 16);
            case Q8_0 -> {
                long block = base + (j / 32) * 34L;
                yield Float.float16ToFloat(d.get(SHORT, block)) * d.get(ValueLayout.JAVA_BYTE, block + 2 + j % 32);
            }
            case Q4_0 -> {
                long block = base + (j / 32) * 18L;
                int i = j % 32;
                int q = d.get(ValueLayout.JAVA_BYTE, block + 2 + i % 16) & 0xFF;
                int nibble = i < 16 ? q & 0x0F : q >> 4;
                yield Float.float16ToFloat(d.get(SHORT, block)) * (nibble - 8);
            }
        };
    }
}

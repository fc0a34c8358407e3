package dev.turbosparse.model.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The transpose of a row-major matrix of 32-bit (float32) or 16-bit (F16, BF16) elements, in tiles so that both sides
 * are read and written a cache line at a time.
 */
public final class Transpose {

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int TILE = 32;

    private Transpose() {}

    /** {@code dst} (cols, rows) = transpose of {@code src} (rows, cols); the two must not overlap. */
    public static void f32(MemorySegment src, long rows, long cols, MemorySegment dst) {
        tiled(src, rows, cols, dst, 4, "float32");
    }

    /** {@code dst} (cols, rows) = transpose of {@code src} (rows, cols) of 16-bit elements; the two must not overlap. */
    public static void b16(MemorySegment src, long rows, long cols, MemorySegment dst) {
        tiled(src, rows, cols, dst, 2, "16-bit");
    }

    /** The transpose of elements of {@code width} bytes (4 or 2), tile by tile. */
    private static void tiled(MemorySegment src, long rows, long cols, MemorySegment dst, int width, String kind) {
        long bytes = rows * cols * width;
        if (src.byteSize() < bytes || dst.byteSize() < bytes) {
            throw new IndexOutOfBoundsException("a (" + rows + ", " + cols + ") " + kind + " matrix needs " + bytes
                    + " bytes; source has " + src.byteSize() + ", destination " + dst.byteSize());
        }
        for (long r0 = 0; r0 < rows; r0 += TILE) {
            long r1 = Math.min(rows, r0 + TILE);
            for (long c0 = 0; c0 < cols; c0 += TILE) {
                long c1 = Math.min(cols, c0 + TILE);
                for (long r = r0; r < r1; r++) {
                    for (long c = c0; c < c1; c++) {
                        if (width == 4) {
                            dst.setAtIndex(FLOAT, c * rows + r, src.getAtIndex(FLOAT, r * cols + c));
                        } else {
                            dst.setAtIndex(HALF, c * rows + r, src.getAtIndex(HALF, r * cols + c));
                        }
                    }
                }
            }
        }
    }
}

package dev.turbosparse.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import org.junit.jupiter.api.Test;

class TransposeTest {

    @Test
    void bothWidthsTransposeEveryElementOnShapesThatAreNotWholeTiles() {
        Random r = new Random(3);
        int[][] shapes = {{1, 1}, {1, 70}, {33, 1}, {31, 33}, {64, 96}, {100, 7}};
        try (Arena arena = Arena.ofConfined()) {
            for (int[] shape : shapes) {
                int rows = shape[0];
                int cols = shape[1];
                MemorySegment f32 = arena.allocate(4L * rows * cols);
                MemorySegment b16 = arena.allocate(2L * rows * cols);
                for (int i = 0; i < rows * cols; i++) {
                    f32.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, r.nextFloat());
                    b16.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) r.nextInt());
                }
                MemorySegment f32t = arena.allocate(4L * rows * cols);
                MemorySegment b16t = arena.allocate(2L * rows * cols);
                Transpose.f32(f32, rows, cols, f32t);
                Transpose.b16(b16, rows, cols, b16t);
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        String at = "(" + i + ", " + j + ") of " + rows + " x " + cols;
                        assertEquals(f32.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) i * cols + j),
                                f32t.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, (long) j * rows + i), at);
                        assertEquals(b16.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, (long) i * cols + j),
                                b16t.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, (long) j * rows + i), at);
                    }
                }
            }
            MemorySegment small = arena.allocate(2L * 10);
            assertThrows(IndexOutOfBoundsException.class, () -> Transpose.b16(small, 4, 4, small));
        }
    }
}

package dev.turbosparse.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.runtime.Matrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every Vector API kernel against its scalar twin, on random shapes with tails not divisible by the lanes. */
class KernelsTest {

    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A (rows, cols) matrix of random normal values stored as {@code type}, in {@code arena}. */
    static Matrix random(GgmlType type, int rows, int cols, Random r, Arena arena) {
        MemorySegment f32 = arena.allocate((long) rows * cols * 4);
        for (long i = 0; i < (long) rows * cols; i++) {
            f32.setAtIndex(FLOAT, i, (float) r.nextGaussian());
        }
        MemorySegment data = arena.allocate(type.bytesFor((long) rows * cols) + 7, 1).asSlice(3); // unaligned on purpose
        type.fromFloat32(f32, data, (long) rows * cols);
        return new Matrix("w", type, rows, cols, data);
    }

    static VectorKernels vector() {
        Assumptions.assumeTrue(VectorKernels.supported(), "fewer than 8 float lanes: the scalar kernels run");
        return new VectorKernels();
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void dotAndAxpyEqualTheScalarTwinOnRandomShapes(GgmlType type) {
        VectorKernels vec = vector();
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(type.ordinal() * 31L + 7);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 40; trial++) {
                int block = type.blockElements();
                int cols = block == 1 ? 1 + r.nextInt(300) : block * (1 + r.nextInt(12)); // tails of every length
                int rows = 1 + r.nextInt(5);
                Matrix m = random(type, rows, cols, r, arena);
                float[] x = new float[cols];
                for (int j = 0; j < cols; j++) {
                    x[j] = (float) r.nextGaussian();
                }
                for (int row = 0; row < rows; row++) {
                    float want = ref.dot(m, row, x);
                    double scale = 0;
                    for (int j = 0; j < cols; j++) {
                        scale += Math.abs(ScalarKernels.element(m, row * m.rowBytes(), j) * x[j]);
                    }
                    assertEquals(want, vec.dot(m, row, x), 1e-5 * scale + 1e-6,
                            type + " dot, cols " + cols + " (lanes " + VectorKernels.lanes() + ")");
                    float a = (float) r.nextGaussian();
                    int from = block == 1 ? r.nextInt(cols) : block * r.nextInt(cols / block);
                    int to = block == 1 ? from + r.nextInt(cols - from + 1) : cols;
                    float[] y1 = new float[cols];
                    float[] y2 = new float[cols];
                    for (int j = 0; j < cols; j++) {
                        y1[j] = y2[j] = (float) r.nextGaussian();
                    }
                    ref.axpy(m, row, a, y1, from, to);
                    vec.axpy(m, row, a, y2, from, to);
                    for (int j = 0; j < cols; j++) {
                        assertEquals(y1[j], y2[j], 1e-6f * (1 + Math.abs(y1[j])),
                                type + " axpy [" + from + ", " + to + ") of " + cols + " at " + j);
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void manyRowsAtOnceEqualTheScalarTwin(GgmlType type) {
        VectorKernels vec = vector();
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(type.ordinal() * 17L + 5);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 30; trial++) {
                int block = type.blockElements();
                int cols = block == 1 ? 1 + r.nextInt(300) : block * (1 + r.nextInt(12));
                int rows = 1 + r.nextInt(40);
                Matrix m = random(type, rows, cols, r, arena);
                // every third trial an input above 2^15, where F16 leaves its fast way
                float big = trial % 3 == 2 ? 1e5f : 1f;
                float[] x = new float[cols];
                for (int j = 0; j < cols; j++) {
                    x[j] = (float) r.nextGaussian() * big;
                }
                int[] list = subset(rows, r);
                int from = r.nextInt(list.length);
                int to = from + r.nextInt(list.length - from + 1);
                float[] out = new float[rows];
                vec.dots(m, trial % 2 == 0 ? null : list, from, to, x, out);
                for (int j = from; j < to; j++) {
                    int row = trial % 2 == 0 ? j : list[j];
                    double scale = 0;
                    for (int c = 0; c < cols; c++) {
                        scale += Math.abs(ScalarKernels.element(m, row * m.rowBytes(), c) * x[c]);
                    }
                    assertEquals(ref.dot(m, row, x), out[row], 1e-5 * scale + 1e-6, type + " dots row " + row + ", cols " + cols);
                    float[] alone = new float[rows];
                    vec.dots(m, null, row, row + 1, x, alone); // in a group of four or by itself: the same bits
                    assertEquals(Float.floatToIntBits(out[row]), Float.floatToIntBits(alone[row]), type + " row " + row);
                }
                float[] a = new float[rows];
                for (int i = 0; i < rows; i++) {
                    a[i] = (float) r.nextGaussian() * (i % 5 == 4 ? 1e5f : 1f); // some neurons above 2^15
                }
                int cFrom = block == 1 ? r.nextInt(cols) : block * r.nextInt(cols / block); // odd starts too
                int cTo = block == 1 ? cFrom + r.nextInt(cols - cFrom + 1) : cols;
                float[] y1 = new float[cols];
                float[] y2 = new float[cols];
                for (int j = 0; j < cols; j++) {
                    y1[j] = y2[j] = (float) r.nextGaussian();
                }
                int n = r.nextInt(list.length + 1);
                for (int k = 0; k < n; k++) {
                    ref.axpy(m, list[k], a[list[k]], y1, cFrom, cTo);
                }
                vec.axpys(m, list, n, a, y2, cFrom, cTo);
                for (int j = 0; j < cols; j++) {
                    double scale = Math.abs(y1[j]) + 1;
                    for (int k = 0; k < n && j >= cFrom && j < cTo; k++) {
                        scale += Math.abs(a[list[k]] * ScalarKernels.element(m, list[k] * m.rowBytes(), j));
                    }
                    assertEquals(y1[j], y2[j], 1e-6 * scale, type + " axpys [" + cFrom + ", " + cTo + ") of " + cols + " at " + j);
                }
                // rows of weight zero among them (what dense adds and exact leaves out) change no bit of the rest,
                // nor does reading the rest as scattered rows (exact's axpysScattered), eight rows at a time
                int[] padded = new int[rows];
                float[] a0 = a.clone();
                int m2 = 0;
                int used = 0;
                int unused = n;
                while (used < n || unused < rows) { // the n rows in their order, the others (weight 0) mixed in
                    if (unused < rows && (used == n || r.nextBoolean())) {
                        a0[list[unused]] = 0f;
                        padded[m2++] = list[unused++];
                    } else {
                        padded[m2++] = list[used++];
                    }
                }
                float[] y3 = new float[cols];
                float[] y4 = new float[cols];
                for (int j = 0; j < cols; j++) {
                    y3[j] = y4[j] = 1f + r.nextFloat();
                }
                vec.axpysScattered(m, list, n, a, y3, cFrom, cTo);
                vec.axpys(m, padded, m2, a0, y4, cFrom, cTo);
                for (int j = 0; j < cols; j++) {
                    assertEquals(Float.floatToIntBits(y3[j]), Float.floatToIntBits(y4[j]), type + " with zero rows, at " + j);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void anInputPreparedOnceServesEveryPartAndNoOtherType(GgmlType type) {
        VectorKernels vec = vector();
        Random r = new Random(type.ordinal() * 13L + 3);
        try (Arena arena = Arena.ofConfined()) {
            int cols = type.blockElements() == 1 ? 96 + 2 * r.nextInt(100) + 1 : 32 * 5;
            Matrix m = random(type, 37, cols, r, arena);
            float[] x = new float[cols];
            for (int j = 0; j < cols; j++) {
                x[j] = (float) r.nextGaussian();
            }
            float[] whole = new float[37];
            vec.dots(m, null, 0, 37, x, whole);
            RowKernels.Input in = vec.prepare(x, cols, type);
            float[] parts = new float[37];
            for (int from = 0; from < 37; from += 5) { // parts of five and a last one of two, one input
                vec.dots(m, null, from, Math.min(37, from + 5), in, parts);
            }
            for (int row = 0; row < 37; row++) {
                assertEquals(Float.floatToIntBits(whole[row]), Float.floatToIntBits(parts[row]), type + " row " + row);
            }
            if (type == GgmlType.F16 || type == GgmlType.BF16) {
                GgmlType other = type == GgmlType.F16 ? GgmlType.BF16 : GgmlType.F16;
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> vec.dots(m, null, 0, 4, vec.prepare(x, cols, other), parts));
                assertTrue(e.getMessage().contains("prepared for rows of " + cols + " " + other), e.getMessage());
                assertThrows(IllegalArgumentException.class,
                        () -> vec.dots(m, null, 0, 4, vec.prepare(x, cols - 1, type), parts));
            }
            float[] shorter = java.util.Arrays.copyOf(x, cols - 1);
            for (RowKernels k : new RowKernels[] {vec, new ScalarKernels()}) { // taken as it is, or prepared here
                for (org.junit.jupiter.api.function.Executable call : new org.junit.jupiter.api.function.Executable[] {
                    () -> k.dots(m, null, 0, 4, new RowKernels.Plain(shorter), parts),
                    () -> k.dots(m, null, 0, 4, shorter, parts)}) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
                    assertTrue(e.getMessage().contains("w: an input of " + (cols - 1) + " elements for rows of " + cols),
                            e.getMessage());
                }
            }
        }
    }

    @Test
    void shortFloatRowsAddedManyAtOnceGiveTheBitsOfOneAtATime() {
        VectorKernels vec = vector();
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(41);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 40; trial++) {
                int cols = 1 + r.nextInt(400); // attention's values: head_dim floats; longer rows too
                int rows = 1 + r.nextInt(60);
                Matrix m = random(GgmlType.F32, rows, cols, r, arena);
                int[] list = subset(rows, r);
                int n = r.nextInt(rows + 1);
                float[] a = gaussians(rows, r);
                int from = r.nextInt(cols);
                int to = from + r.nextInt(cols - from + 1);
                float[] y1 = gaussians(cols, r);
                float[] y2 = y1.clone();
                float[] y3 = y1.clone();
                vec.axpys(m, list, n, a, y1, from, to);
                for (int k = 0; k < n; k++) {
                    vec.axpy(m, list[k], a[list[k]], y2, from, to);
                    ref.axpy(m, list[k], a[list[k]], y3, from, to);
                }
                for (int j = 0; j < cols; j++) {
                    assertEquals(Float.floatToIntBits(y2[j]), Float.floatToIntBits(y1[j]),
                            "trial " + trial + ": " + n + " rows of " + cols + ", [" + from + ", " + to + ") at " + j);
                    assertEquals(y3[j], y1[j], 1e-5f * (1 + Math.abs(y3[j])), "against the scalar twin at " + j);
                }
            }
        }
    }

    @Test
    void manyInputsAgainstTheSameFloatRowsGiveTheBitsOfEachAlone() {
        VectorKernels vec = vector();
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(43);
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 40; trial++) {
                int cols = 1 + r.nextInt(300); // attention's head_dim, and rows too long for the short kernels
                int rows = 1 + r.nextInt(50);
                int inputs = 1 + r.nextInt(9); // a KV head's query heads: groups of four and the rest
                Matrix m = random(GgmlType.F32, rows, cols, r, arena);
                float[][] xs = new float[inputs][];
                float[][] as = new float[inputs][];
                for (int i = 0; i < inputs; i++) {
                    xs[i] = gaussians(cols, r);
                    as[i] = gaussians(rows, r);
                }
                int from = r.nextInt(rows);
                int to = from + r.nextInt(rows - from + 1);
                float[][] many = new float[inputs][rows];
                float[][] twin = new float[inputs][rows];
                vec.dotsMany(m, from, to, xs, many);
                ref.dotsMany(m, from, to, xs, twin);
                int[] list = subset(rows, r);
                int n = r.nextInt(rows + 1);
                int cFrom = r.nextInt(cols);
                int cTo = cFrom + r.nextInt(cols - cFrom + 1);
                float[][] ys = new float[inputs][];
                float[][] yTwin = new float[inputs][];
                for (int i = 0; i < inputs; i++) {
                    ys[i] = gaussians(cols, r);
                    yTwin[i] = ys[i].clone();
                }
                float[][] yAlone = new float[inputs][];
                for (int i = 0; i < inputs; i++) {
                    yAlone[i] = ys[i].clone();
                    vec.axpys(m, list, n, as[i], yAlone[i], cFrom, cTo);
                }
                vec.axpysMany(m, list, n, as, ys, cFrom, cTo);
                ref.axpysMany(m, list, n, as, yTwin, cFrom, cTo);
                for (int i = 0; i < inputs; i++) {
                    float[] alone = new float[rows];
                    vec.dots(m, null, from, to, xs[i], alone);
                    for (int k = from; k < to; k++) {
                        String at = "trial " + trial + ", input " + i + " of " + inputs + ", row " + k + " of " + cols;
                        assertEquals(Float.floatToIntBits(alone[k]), Float.floatToIntBits(many[i][k]), at);
                        assertEquals(twin[i][k], many[i][k], 1e-4f * (1 + Math.abs(twin[i][k])), at + ", scalar twin");
                    }
                    for (int j = 0; j < cols; j++) {
                        String at = "trial " + trial + ", output " + i + " of " + inputs + ", [" + cFrom + ", " + cTo
                                + ") at " + j;
                        assertEquals(Float.floatToIntBits(yAlone[i][j]), Float.floatToIntBits(ys[i][j]), at);
                        assertEquals(yTwin[i][j], ys[i][j], 1e-4f * (1 + Math.abs(yTwin[i][j])), at + ", scalar twin");
                    }
                }
            }
        }
    }

    /** {@code n} draws of a standard normal. */
    private static float[] gaussians(int n, Random r) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** The rows 0..rows-1 in a random order, each once. */
    private static int[] subset(int rows, Random r) {
        java.util.List<Integer> list = new java.util.ArrayList<>(
                java.util.stream.IntStream.range(0, rows).boxed().toList());
        java.util.Collections.shuffle(list, r);
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void halfPrecisionRowsWithInfinitiesOrNaNsGiveWhatExactWideningGives() {
        VectorKernels vec = vector();
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(23);
        short[] specials = {0x7C00, (short) 0xFC00, 0x7E00, (short) 0xFE01};
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 40; trial++) {
                int rows = 3;
                int cols = 64 + r.nextInt(200);
                Matrix m = random(GgmlType.F16, rows, cols, r, arena);
                int row = r.nextInt(rows);
                int col = r.nextInt(cols);
                m.data().set(SHORT, row * m.rowBytes() + 2L * col, specials[trial % specials.length]);
                float[] x = new float[cols];
                for (int j = 0; j < cols; j++) {
                    x[j] = trial % 4 == 3 && j == col ? 0f : (float) r.nextGaussian(); // infinity times zero: NaN
                }
                float[] out = new float[rows];
                vec.dots(m, null, 0, rows, x, out);
                for (int i = 0; i < rows; i++) {
                    float want = ref.dot(m, i, x);
                    if (i == row) {
                        assertEquals(want, out[i], 0f, "row " + i + " with " + Integer.toHexString(specials[trial % 4] & 0xFFFF));
                    } else {
                        assertEquals(want, out[i], 1e-4f * cols, "row " + i);
                    }
                }
                float[] a = {1.5f, -0.5f, 2f};
                a[row] = trial % 4 == 3 ? 0f : a[row];
                float[] y1 = new float[cols];
                float[] y2 = new float[cols];
                int[] all = {0, 1, 2};
                for (int k = 0; k < rows; k++) {
                    ref.axpy(m, k, a[k], y1, 0, cols);
                }
                vec.axpys(m, all, rows, a, y2, 0, cols);
                assertEquals(y1[col], y2[col], 0f, "the column of the special element");
                assertEquals(Float.isFinite(y1[(col + 1) % cols]), Float.isFinite(y2[(col + 1) % cols]), "its neighbour");
            }
        }
    }

    @Test
    void manyHalfPrecisionRowsAtOnceGiveWhatExactWideningGivesWithAnInfinityOrNaNInOneOfThem() {
        ScalarKernels ref = new ScalarKernels();
        Random r = new Random(29);
        short[] specials = {0x7C00, (short) 0xFC00, 0x7E00, (short) 0xFE01};
        VectorKernels vec = vector();
        try (Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 24; trial++) {
                int rows = 8 + r.nextInt(9);
                int cols = 2 * VectorKernels.lanes() * (2 + r.nextInt(6)) + r.nextInt(3) * 2;
                Matrix m = random(GgmlType.F16, rows, cols, r, arena);
                boolean special = trial % 3 != 0; // and a third of them without one
                int row = r.nextInt(rows);
                int col = r.nextInt(cols);
                if (special) {
                    m.data().set(SHORT, row * m.rowBytes() + 2L * col, specials[trial % specials.length]);
                }
                float[] x = new float[cols];
                for (int j = 0; j < cols; j++) {
                    x[j] = (float) r.nextGaussian();
                }
                float[] out = new float[rows];
                vec.dots(m, null, 0, rows, vec.prepare(x, cols, GgmlType.F16), out);
                int[] all = new int[rows];
                for (int i = 0; i < rows; i++) {
                    all[i] = i;
                }
                float[] listed = new float[rows]; // eight listed rows at once, then four, then one by one
                vec.dots(m, all, 0, rows, vec.prepare(x, cols, GgmlType.F16), listed);
                float[] a = new float[rows];
                for (int i = 0; i < rows; i++) {
                    assertEquals(Float.floatToIntBits(out[i]), Float.floatToIntBits(listed[i]),
                            "trial " + trial + ", row " + i + " listed");
                    a[i] = (float) r.nextGaussian();
                    float want = ref.dot(m, i, x);
                    if (special && i == row) {
                        assertEquals(want, out[i], 0f, "trial " + trial + ", the row with the special element");
                    } else {
                        assertEquals(want, out[i], 1e-4f * cols, "trial " + trial + ", row " + i);
                    }
                }
                float[] y1 = new float[cols];
                float[] y2 = new float[cols];
                for (int k = 0; k < rows; k++) {
                    ref.axpy(m, k, a[k], y1, 0, cols);
                }
                vec.axpys(m, all, rows, a, y2, 0, cols);
                float[] y3 = new float[cols];
                vec.axpysScattered(m, all, rows, a, y3, 0, cols); // eight at a time
                for (int c = 0; c < cols; c++) {
                    if (special && c == col) {
                        assertEquals(y1[c], y2[c], 0f, "trial " + trial + ", the column of the special element");
                    } else {
                        assertEquals(y1[c], y2[c], 1e-4f * rows, "trial " + trial + ", column " + c);
                    }
                    assertEquals(Float.floatToIntBits(y2[c]), Float.floatToIntBits(y3[c]),
                            "trial " + trial + ", column " + c + " scattered");
                }
            }
        }
    }

    @Test
    void aRowGivesTheSameBitsBeforeAndAfterTheJitCompilesTheKernel() {
        VectorKernels vec = vector();
        Random r = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : GgmlType.values()) {
                Matrix m = random(type, 1, 256, r, arena);
                float[] x = new float[256];
                for (int j = 0; j < x.length; j++) {
                    x[j] = (float) r.nextGaussian();
                }
                float first = vec.dot(m, 0, x);
                float[] out = new float[1];
                vec.dots(m, null, 0, 1, x, out);
                float firstOfMany = out[0];
                float last = first;
                for (int i = 0; i < 20_000; i++) {
                    last = vec.dot(m, 0, x);
                    vec.dots(m, null, 0, 1, x, out);
                }
                assertEquals(Float.floatToIntBits(first), Float.floatToIntBits(last), type + ": " + first + " then " + last);
                assertEquals(Float.floatToIntBits(firstOfMany), Float.floatToIntBits(out[0]),
                        type + " (many rows): " + firstOfMany + " then " + out[0]);
            }
        }
    }

    @Test
    void halfPrecisionWidensEveryKindOfValueExactly() {
        VectorKernels vec = vector();
        // normal, subnormal, zero, negative zero, the largest, infinities, a NaN, and ordinary values
        short[] f16 = {0x3C00, 0x0001, 0x03FF, 0x0000, (short) 0x8000, 0x7BFF, 0x7C00, (short) 0xFC00, 0x7E00,
            (short) 0xC500, 0x3555, 0x0400, (short) 0x8001, 0x4248, 0x2E66, (short) 0xB0F0};
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : new GgmlType[] {GgmlType.F16, GgmlType.BF16}) {
                MemorySegment data = arena.allocate(f16.length * 2L);
                for (int i = 0; i < f16.length; i++) {
                    data.setAtIndex(SHORT, i, f16[i]);
                }
                Matrix m = new Matrix("h", type, 1, f16.length, data);
                float[] y = new float[f16.length];
                vec.axpy(m, 0, 1f, y, 0, f16.length); // y = 0 + 1 * row: the widened values (-0 becomes +0)
                for (int i = 0; i < f16.length; i++) {
                    float want = type == GgmlType.F16 ? Float.float16ToFloat(f16[i]) : Float.intBitsToFloat(f16[i] << 16);
                    assertEquals(want, y[i], 0f, type + " element " + i + " (bits " + Integer.toHexString(f16[i] & 0xFFFF) + ")");
                }
            }
        }
    }

    @Test
    void quantizedRowsDecodeAsGgmlsReferenceDoes() {
        // one Q8_0 and one Q4_0 block from known values: the scalar element equals toFloat32 of the same bytes
        Random r = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : new GgmlType[] {GgmlType.Q8_0, GgmlType.Q4_0}) {
                Matrix m = random(type, 2, 64, r, arena);
                MemorySegment out = arena.allocate(128 * 4);
                type.toFloat32(m.data(), 0, out, 128);
                for (int row = 0; row < 2; row++) {
                    for (int j = 0; j < 64; j++) {
                        assertEquals(out.getAtIndex(FLOAT, row * 64L + j), ScalarKernels.element(m, row * m.rowBytes(), j),
                                type + " element " + j);
                    }
                }
            }
        }
    }
}

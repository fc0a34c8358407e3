package dev.turbosparse.runtime.cpu;

import static dev.turbosparse.runtime.cpu.ScalarKernels.SHORT;

import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.runtime.Matrix;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The row kernels on Java's Vector API, {@code L} float lanes at a time (the machine's preferred width: 16 with
 * AVX-512, 8 with AVX2). F16 and BF16 are widened in registers from their bits; Q8_0 and Q4_0 decode a 32-element
 * block in {@code 32 / L} steps and apply its scale once. A row's tail of fewer than {@code L} elements goes through
 * {@link ScalarKernels#element}.
 *
 * <p>Two rules keep the speed predictable, both learnt the hard way:
 * <ul>
 *   <li><b>No vector crosses a method boundary.</b> Each kernel is one method with its loop and every widening step
 *       written out in it. A helper that returns a vector is only fast if C2 inlines it, and whether it does depended
 *       on what compiled first: the same F16 dot ran at 5 or at 21 GB/s from one run to the next.</li>
 *   <li><b>Lanes are summed in a fixed order</b>, a tree written out (each lane with the one half a vector away,
 *       then a quarter, ...; shuffles and adds), not with {@code reduceLanes(ADD)}, whose order is the intrinsic's
 *       once compiled and lane by lane before: the same row could give two results a rounding apart. Four rows'
 *       sums share the tree's vectors (two rows to a vector, then four) and make the same additions as one row alone.
 *       Summing lane by lane, first to last, cost more than the row itself for rows of 256 halves.</li>
 * </ul>
 *
 * <p>F16 widening: its 15 bits of exponent and mantissa, moved up 13 bits and multiplied by 2^112, give the value of
 * normal and subnormal numbers alike; an exponent of all ones (infinity, NaN) is set to a float exponent of all ones;
 * the sign moves up 16 bits. BF16 is the top half of a float.
 *
 * <p>Many rows at once ({@link #dots}, {@link #axpys}: what a mat-vec and a neuron-major down projection are), F16
 * and BF16 take a faster way: an int vector holds {@code 2L} halves, its even elements in the low halves of the ints
 * and its odd elements in the high ones, so the input (or the output) is split once into its even and odd elements
 * and each int vector widens with two or three shifts and a mask, where converting shorts to ints costs more than all
 * the arithmetic. For F16 those bits are the value times 2^-112, so the input is multiplied by 2^112 once instead of
 * every weight (exact: a product by a power of two, the same rounding in the FMA) while it stays below 2^15; above
 * that, and for a row holding infinities or NaNs (found by a max over its bits as it is read), the general kernels
 * give the answer. Rows go four at a time: four streams of reads in flight, which is what the scattered rows of the
 * sparse modes need (one thread read a random eighth of a matrix's rows at 8-10 GB/s so, 5-6 one by one). A row
 * gives the same bits in a group of four (or eight) as by itself, and an output element receives its rows in the same
 * order.
 *
 * <p>Of a range of rows, the four rows of a {@link #dots} group are a quarter of the range apart, not neighbours. Four
 * neighbouring rows of a 2048-wide F16 matrix are four streams exactly 4 KiB apart, and this machine (AMD EPYC,
 * 2 threads) read them at 23-27 GB/s, with or without the arithmetic, where the same four streams a quarter of the
 * range apart read at 28-35 GB/s, as fast as one row after the other (docs/BENCHMARKS.md). Of a list of rows, already
 * apart, a group is four listed rows in turn, which read 5-6% faster than four a quarter of the list apart; listed
 * rows, and the rows of {@link #axpysScattered}, go eight at a time (F16 and BF16). In a harness over 1 GiB of fresh
 * memory (2 threads, a random fifth of the 4 KiB rows) eight listed rows at once read 7-20% faster than four, and
 * sixteen no faster than eight; the decoder's F16 up rows took 13% less time, its down rows 8% less, and its BF16 ones
 * 12% and 11% less. A whole range read as eight streams, or as four streams two neighbouring rows at a time, was
 * slower than four streams: dense keeps its four.
 */
public final class VectorKernels implements RowKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, shapeOf(L * 16));
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, shapeOf(L * 8));
    /** The shorts of one int vector: two halves of F16 or BF16 per int. */
    private static final VectorSpecies<Short> SI = VectorSpecies.of(short.class, F.vectorShape());
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** An F16's 15 bits of exponent and mantissa, moved up 13 bits, are its value times 2^-112. */
    private static final float F16_SCALE = 0x1p112f;
    /** Inputs of this magnitude or more go through the general F16 kernels: 2^15 · 2^112 is still finite. */
    private static final float F16_PAIRS_LIMIT = 0x1p15f;

    /** Lane i to lane i ^ (L/2), ^ (L/4), ^ (L/8) and ^ 1: the levels of the tree a vector's lanes are summed by. */
    private static final VectorShuffle<Float> SWAP_HALF = VectorShuffle.fromOp(F, i -> i ^ (L / 2));
    private static final VectorShuffle<Float> SWAP_QUARTER = VectorShuffle.fromOp(F, i -> i ^ (L / 4));
    private static final VectorShuffle<Float> SWAP_EIGHTH = VectorShuffle.fromOp(F, i -> i ^ Math.max(1, L / 8));
    private static final VectorShuffle<Float> SWAP_ONE = VectorShuffle.fromOp(F, i -> i ^ 1);
    /** Of two vectors a and b, a0 b0 a1 b1 ... from their lower halves, and from their upper halves. */
    private static final VectorShuffle<Float> ZIP_LOW = VectorShuffle.makeZip(F, 0);
    private static final VectorShuffle<Float> ZIP_HIGH = VectorShuffle.makeZip(F, 1);
    /**
     * Each thread's split output for {@link #axpys} (even elements, odd elements), kept from call to call: a sparse
     * mode's FFN block adds only 20-30 rows a call, and two new 4 KiB arrays and a merge an element at a time cost
     * about a tenth of that.
     */
    private static final ThreadLocal<float[][]> SPLIT_OUTPUT =
            ThreadLocal.withInitial(() -> new float[][] {new float[0], new float[0]});
    /** The upper half of the lanes, and the second and fourth quarters: where the four-row sums take row 1 and 3. */
    private static final VectorMask<Float> HIGH_HALF = VectorMask.fromLong(F, ((1L << L) - 1) & ~((1L << (L / 2)) - 1));
    private static final VectorMask<Float> ODD_QUARTERS = VectorMask.fromLong(F, quarters(L));

    /** Whether this machine has the lanes these kernels need: at least 8 floats (blocks of 32 in whole steps). */
    public static boolean supported() {
        return L >= 8 && 32 % L == 0;
    }

    /** The lanes i with (i & L/4) != 0. */
    private static long quarters(int lanes) {
        long bits = 0;
        for (int i = 0; i < lanes; i++) {
            if ((i & (lanes / 4)) != 0) {
                bits |= 1L << i;
            }
        }
        return bits;
    }

    private static VectorShape shapeOf(int bits) {
        return bits >= 64 ? VectorShape.forBitSize(bits) : VectorShape.S_64_BIT;
    }

    public VectorKernels() {
        if (!supported()) {
            throw new IllegalStateException("the Vector API kernels need at least 8 float lanes; this machine has " + L);
        }
    }

    /** The number of float lanes. */
    public static int lanes() {
        return L;
    }

    @Override
    public float dot(Matrix m, long row, float[] x) {
        MemorySegment d = m.data();
        long base = row * m.rowBytes();
        int n = (int) m.cols();
        float sum = switch (m.type()) {
            case F32 -> dotF32(d, base, x, n);
            case F16 -> dotF16(d, base, x, n);
            case BF16 -> dotBF16(d, base, x, n);
            case Q8_0 -> dotQ8(d, base, x, n);
            case Q4_0 -> dotQ4(d, base, x, n);
        };
        for (int j = n / L * L; j < n && m.type().blockElements() == 1; j++) {
            sum += ScalarKernels.element(m, base, j) * x[j];
        }
        return sum;
    }

    @Override
    public void axpy(Matrix m, long row, float a, float[] y, int from, int to) {
        MemorySegment d = m.data();
        long base = row * m.rowBytes();
        int end = switch (m.type()) {
            case F32 -> axpyF32(d, base, a, y, from, to);
            case F16 -> axpyF16(d, base, a, y, from, to);
            case BF16 -> axpyBF16(d, base, a, y, from, to);
            case Q8_0 -> axpyQ8(d, base, a, y, from, to);
            case Q4_0 -> axpyQ4(d, base, a, y, from, to);
        };
        for (int j = end; j < to; j++) {
            y[j] += a * ScalarKernels.element(m, base, j);
        }
    }

    /** An F16 or BF16 input split into its even and odd elements, for F16 times 2^112. */
    private record Pairs(float[] x, GgmlType type, int n, float[] xe, float[] xo) implements Input {}

    @Override
    public Input prepare(float[] x, int n, GgmlType type) {
        boolean f16 = type == GgmlType.F16;
        if (!(f16 || type == GgmlType.BF16) || n < 2 || f16 && !(maxAbs(x, n) < F16_PAIRS_LIMIT)) {
            return new Plain(x);
        }
        int pairs = n / 2;
        float scale = f16 ? F16_SCALE : 1f;
        float[] xe = new float[pairs];
        float[] xo = new float[pairs];
        for (int q = 0; q < pairs; q++) {
            xe[q] = x[2 * q] * scale;
            xo[q] = x[2 * q + 1] * scale;
        }
        return new Pairs(x, type, n, xe, xo);
    }

    @Override
    public void dots(Matrix m, int[] rows, int from, int to, Input in, float[] out) {
        if (m.type() == GgmlType.F32 && in instanceof Plain && to > from) {
            dotsF32(m, rows, from, to, in.x(), out);
            return;
        }
        if (!(in instanceof Pairs p) || to <= from) {
            RowKernels.super.dots(m, rows, from, to, in, out);
            return;
        }
        if (p.type() != m.type() || p.n() != m.cols()) {
            throw new IllegalArgumentException(m.name() + ": an input prepared for rows of " + p.n() + " " + p.type()
                    + ", not " + m.cols() + " " + m.type());
        }
        boolean f16 = p.type() == GgmlType.F16;
        float[] x = p.x();
        float[] xe = p.xe();
        float[] xo = p.xo();
        int pairs = xe.length;
        MemorySegment d = m.data();
        int tail = pairs / L * L * 2; // the elements from here on are the scalar tail
        float[] four = new float[4];
        // Four rows at a time, x loaded once for them. Of a range of rows, the k-th of each quarter, so that the four
        // streams of reads are a quarter of the range apart, not neighbours; of a list, four listed rows in turn
        // (see the class comment).
        long rb = m.rowBytes();
        if (rows != null) { // listed rows: eight at a time first
            float[] eight = new float[8];
            for (; to - from >= 8; from += 8) {
                if (f16) {
                    dotF16Pairs8(d, rows, from, rb, xe, xo, pairs, eight);
                } else {
                    dotBF16Pairs8(d, rows, from, rb, xe, xo, pairs, eight);
                }
                for (int i = 0; i < 8; i++) {
                    out[rows[from + i]] = finish(m, rows[from + i], eight[i], tail, x);
                }
            }
        }
        int groups = (to - from) / 4;
        int q = rows == null ? groups : 1;
        int step = rows == null ? 1 : 4;
        for (int k = from, g = 0; g < groups; g++, k += step) {
            int r0 = rows == null ? k : rows[k];
            int r1 = rows == null ? k + q : rows[k + q];
            int r2 = rows == null ? k + 2 * q : rows[k + 2 * q];
            int r3 = rows == null ? k + 3 * q : rows[k + 3 * q];
            if (f16) {
                dotF16Pairs4(d, r0 * rb, r1 * rb, r2 * rb, r3 * rb, xe, xo, pairs, four);
            } else {
                dotBF16Pairs4(d, r0 * rb, r1 * rb, r2 * rb, r3 * rb, xe, xo, pairs, four);
            }
            out[r0] = finish(m, r0, four[0], tail, x);
            out[r1] = finish(m, r1, four[1], tail, x);
            out[r2] = finish(m, r2, four[2], tail, x);
            out[r3] = finish(m, r3, four[3], tail, x);
        }
        for (int j = from + 4 * groups; j < to; j++) {
            int r = rows == null ? j : rows[j];
            long base = r * m.rowBytes();
            out[r] = finish(m, r, f16 ? dotF16Pairs(d, base, xe, xo, pairs) : dotBF16Pairs(d, base, xe, xo, pairs), tail, x);
        }
    }

    /**
     * {@link #dots} of F32 rows, four at a time in the same groups as the F16 and BF16 ones, {@code x} loaded once for
     * the four; each row gives the bits {@link #dot} gives it.
     */
    private static void dotsF32(Matrix m, int[] rows, int from, int to, float[] x, float[] out) {
        RowKernels.requireWidth(m, x);
        int n = (int) m.cols();
        MemorySegment d = m.data();
        long rb = m.rowBytes();
        float[] four = new float[4];
        int groups = (to - from) / 4;
        int q = rows == null ? groups : 1;
        int step = rows == null ? 1 : 4;
        for (int k = from, g = 0; g < groups; g++, k += step) {
            int r0 = rows == null ? k : rows[k];
            int r1 = rows == null ? k + q : rows[k + q];
            int r2 = rows == null ? k + 2 * q : rows[k + 2 * q];
            int r3 = rows == null ? k + 3 * q : rows[k + 3 * q];
            dotF32x4(d, r0 * rb, r1 * rb, r2 * rb, r3 * rb, x, n, four);
            out[r0] = tailF32(d, r0 * rb, four[0], x, n);
            out[r1] = tailF32(d, r1 * rb, four[1], x, n);
            out[r2] = tailF32(d, r2 * rb, four[2], x, n);
            out[r3] = tailF32(d, r3 * rb, four[3], x, n);
        }
        for (int j = from + 4 * groups; j < to; j++) {
            int r = rows == null ? j : rows[j];
            out[r] = tailF32(d, r * rb, dotF32(d, r * rb, x, n), x, n);
        }
    }

    /** Four inputs at a time against each F32 row ({@link #dotF32Inputs4}); other types and the rest one by one. */
    @Override
    public void dotsMany(Matrix m, int from, int to, float[][] xs, float[][] outs) {
        int i = 0;
        if (m.type() == GgmlType.F32) {
            int n = (int) m.cols();
            MemorySegment d = m.data();
            long rb = m.rowBytes();
            float[] four = new float[4];
            for (; i + 4 <= xs.length; i += 4) {
                float[] x0 = xs[i];
                float[] x1 = xs[i + 1];
                float[] x2 = xs[i + 2];
                float[] x3 = xs[i + 3];
                RowKernels.requireWidth(m, x0);
                RowKernels.requireWidth(m, x1);
                RowKernels.requireWidth(m, x2);
                RowKernels.requireWidth(m, x3);
                for (int r = from; r < to; r++) {
                    long base = r * rb;
                    dotF32Inputs4(d, base, x0, x1, x2, x3, n, four);
                    outs[i][r] = tailF32(d, base, four[0], x0, n);
                    outs[i + 1][r] = tailF32(d, base, four[1], x1, n);
                    outs[i + 2][r] = tailF32(d, base, four[2], x2, n);
                    outs[i + 3][r] = tailF32(d, base, four[3], x3, n);
                }
            }
        }
        for (; i < xs.length; i++) {
            dots(m, null, from, to, xs[i], outs[i]);
        }
    }

    /**
     * {@link #axpys} into four outputs at a time for short F32 slices ({@link #axpysF32Outputs4}: each row read once
     * for the four); other types, longer slices and the rest one output at a time.
     */
    @Override
    public void axpysMany(Matrix m, int[] rows, int n, float[][] as, float[][] ys, int from, int to) {
        int i = 0;
        if (shortF32(m, from, to)) {
            for (; i + 4 <= ys.length; i += 4) {
                axpysF32Outputs4(m, rows, n, as, ys, i, from, to);
            }
        }
        for (; i < ys.length; i++) {
            axpys(m, rows, n, as[i], ys[i], from, to);
        }
    }

    /** An F32 row's vector sum plus its elements past the last whole vector, as {@link #dot} adds them. */
    private static float tailF32(MemorySegment d, long base, float sum, float[] x, int n) {
        for (int j = n / L * L; j < n; j++) {
            sum += d.get(ScalarKernels.FLOAT, base + 4L * j) * x[j];
        }
        return sum;
    }

    /** A row's vector sum plus its scalar tail; a NaN sum (a row with an infinity or NaN) is computed again whole. */
    private float finish(Matrix m, int r, float sum, int tail, float[] x) {
        if (Float.isNaN(sum)) { // the sum of finite products cannot be NaN here
            return dot(m, r, x);
        }
        long base = r * m.rowBytes();
        for (int c = tail; c < (int) m.cols(); c++) {
            sum += ScalarKernels.element(m, base, c) * x[c];
        }
        return sum;
    }

    @Override
    public void axpys(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to) {
        axpys(m, rows, n, a, y, from, to, 4);
    }

    /** F16 and BF16 rows eight at a time (see the class comment). */
    @Override
    public void axpysScattered(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to) {
        axpys(m, rows, n, a, y, from, to, 8);
    }

    /**
     * {@link #axpys}: short F32 slices through {@link #axpysShortF32}, F16 and BF16 rows {@code size} (4 or 8) at a
     * time.
     */
    private void axpys(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to, int size) {
        if (shortF32(m, from, to)) {
            axpysShortF32(m, rows, n, a, y, from, to);
            return;
        }
        GgmlType t = m.type();
        boolean f16 = t == GgmlType.F16;
        if (n == 0 || !(f16 || t == GgmlType.BF16) || (from & 1) != 0 || to - from < 2) {
            RowKernels.super.axpys(m, rows, n, a, y, from, to);
            return;
        }
        int pairs = (to - from) / 2;
        int vectorPairs = pairs / L * L;
        int tailFrom = from + 2 * vectorPairs;
        float[][] split = SPLIT_OUTPUT.get();
        if (split[0].length < pairs) {
            split[0] = new float[pairs];
            split[1] = new float[pairs];
        }
        float[] ye = split[0];
        float[] yo = split[1];
        Arrays.fill(ye, 0, pairs, 0f);
        Arrays.fill(yo, 0, pairs, 0f);
        float[] yt = new float[to - tailFrom];
        int[] group = new int[size];
        int g = 0;
        for (int k = 0; k < n; k++) {
            int r = rows[k];
            if (f16 && !(Math.abs(a[r]) < F16_PAIRS_LIMIT)) {
                axpy(m, r, a[r], y, from, to);
                continue;
            }
            group[g++] = r;
            if (g == size) {
                addRows(m, group, size, a, ye, yo, yt, from, pairs, tailFrom, to);
                g = 0;
            }
        }
        addRows(m, group, g, a, ye, yo, yt, from, pairs, tailFrom, to);
        for (int q = 0; q < vectorPairs; q += L) { // the even and odd elements zipped back, a vector at a time
            FloatVector e = FloatVector.fromArray(F, ye, q);
            FloatVector o = FloatVector.fromArray(F, yo, q);
            int c = from + 2 * q;
            FloatVector.fromArray(F, y, c).add(e.rearrange(ZIP_LOW, o)).intoArray(y, c);
            FloatVector.fromArray(F, y, c + L).add(e.rearrange(ZIP_HIGH, o)).intoArray(y, c + L);
        }
        for (int c = tailFrom; c < to; c++) {
            y[c] += yt[c - tailFrom];
        }
    }

    /**
     * Adds the first {@code g} rows of {@code group}, each times its {@code a}, into the split output and the tail:
     * eight rows at once when there are eight, else the first four at once when there are four or more, the rest
     * one by one. Each output element receives the rows in the group's order however they are grouped, so the
     * grouping does not change a bit.
     */
    private void addRows(Matrix m, int[] group, int g, float[] a, float[] ye, float[] yo, float[] yt, int from,
            int pairs, int tailFrom, int to) {
        MemorySegment d = m.data();
        long rb = m.rowBytes();
        boolean f16 = m.type() == GgmlType.F16;
        int vectorPairs = pairs / L * L;
        int done = 0;
        if (g == 8 && f16) {
            float[] scaled = new float[8];
            for (int i = 0; i < 8; i++) {
                scaled[i] = a[group[i]] * F16_SCALE;
            }
            if (axpyF16Pairs8(d, group, rb, 2L * from, scaled, ye, yo, pairs)) {
                for (int i = 0; i < 8; i++) { // adds nothing for a row without one
                    specialsF16(d, group[i] * rb + 2L * from, a[group[i]], ye, yo, vectorPairs);
                }
            }
            done = 8;
        } else if (g == 8) {
            axpyBF16Pairs8(d, group, rb, 2L * from, a, ye, yo, pairs);
            done = 8;
        } else if (g >= 4) {
            long b0 = group[0] * rb + 2L * from;
            long b1 = group[1] * rb + 2L * from;
            long b2 = group[2] * rb + 2L * from;
            long b3 = group[3] * rb + 2L * from;
            if (f16) {
                int specials = axpyF16Pairs4(d, b0, b1, b2, b3, a[group[0]] * F16_SCALE, a[group[1]] * F16_SCALE,
                        a[group[2]] * F16_SCALE, a[group[3]] * F16_SCALE, ye, yo, pairs);
                for (int i = 0; i < 4; i++) {
                    if ((specials & (1 << i)) != 0) {
                        specialsF16(d, group[i] * rb + 2L * from, a[group[i]], ye, yo, vectorPairs);
                    }
                }
            } else {
                axpyBF16Pairs4(d, b0, b1, b2, b3, a[group[0]], a[group[1]], a[group[2]], a[group[3]], ye, yo, pairs);
            }
            done = 4;
        }
        for (int i = done; i < g; i++) {
            long base = group[i] * rb + 2L * from;
            float ar = a[group[i]];
            if (f16) {
                if (axpyF16Pairs(d, base, ar * F16_SCALE, ye, yo, pairs)) {
                    specialsF16(d, base, ar, ye, yo, vectorPairs);
                }
            } else {
                axpyBF16Pairs(d, base, ar, ye, yo, pairs);
            }
        }
        for (int i = 0; i < g; i++) {
            long base = group[i] * rb;
            for (int c = tailFrom; c < to; c++) {
                yt[c - tailFrom] += a[group[i]] * ScalarKernels.element(m, base, c);
            }
        }
    }

    /**
     * The longest slice of F32 rows {@link #axpysShortF32} takes: attention's values (head_dim floats a position) are
     * such rows. Longer slices go a row at a time, each slice added whole into the output.
     */
    private static final int SHORT_F32_SLICE = 256;

    /** Whether [from, to) of {@code m}'s rows is a short F32 slice of at least one vector ({@link #axpysShortF32}). */
    private static boolean shortF32(Matrix m, int from, int to) {
        return m.type() == GgmlType.F32 && to - from <= SHORT_F32_SLICE && to - from >= L;
    }

    /**
     * {@link #axpys} of short F32 row slices (attention's values, one row a position): the output's vectors stay in
     * registers, four at a time, while every row adds into them, where adding a row at a time loaded and stored them
     * once a row. Each output element receives the rows in their order, by the same fused multiply-add as
     * {@link #axpy} (the scalar tail, as there, by a product and a sum), so the bits are {@link #axpy}'s row by row.
     */
    private static void axpysShortF32(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to) {
        MemorySegment d = m.data();
        long rb = m.rowBytes();
        int vectorEnd = from + (to - from) / L * L;
        int j = from;
        for (; j + 4 * L <= vectorEnd; j += 4 * L) {
            FloatVector y0 = FloatVector.fromArray(F, y, j);
            FloatVector y1 = FloatVector.fromArray(F, y, j + L);
            FloatVector y2 = FloatVector.fromArray(F, y, j + 2 * L);
            FloatVector y3 = FloatVector.fromArray(F, y, j + 3 * L);
            for (int k = 0; k < n; k++) {
                long base = rows[k] * rb + 4L * j;
                FloatVector av = FloatVector.broadcast(F, a[rows[k]]);
                y0 = FloatVector.fromMemorySegment(F, d, base, LE).fma(av, y0);
                y1 = FloatVector.fromMemorySegment(F, d, base + 4L * L, LE).fma(av, y1);
                y2 = FloatVector.fromMemorySegment(F, d, base + 8L * L, LE).fma(av, y2);
                y3 = FloatVector.fromMemorySegment(F, d, base + 12L * L, LE).fma(av, y3);
            }
            y0.intoArray(y, j);
            y1.intoArray(y, j + L);
            y2.intoArray(y, j + 2 * L);
            y3.intoArray(y, j + 3 * L);
        }
        for (; j < vectorEnd; j += L) {
            FloatVector y0 = FloatVector.fromArray(F, y, j);
            for (int k = 0; k < n; k++) {
                y0 = FloatVector.fromMemorySegment(F, d, rows[k] * rb + 4L * j, LE)
                        .fma(FloatVector.broadcast(F, a[rows[k]]), y0);
            }
            y0.intoArray(y, j);
        }
        for (int k = 0; k < n && vectorEnd < to; k++) {
            long base = rows[k] * rb;
            for (int c = vectorEnd; c < to; c++) {
                y[c] += a[rows[k]] * ScalarKernels.element(m, base, c);
            }
        }
    }

    /**
     * {@link #axpysShortF32} into the outputs {@code ys[i..i+3]}, each with its weights {@code as[i..i+3]}: a row's two
     * vectors are loaded once and added into the four outputs, whose vectors stay in registers while every row adds
     * into them. Each output element receives the rows in their order by the same fused multiply-add, so each output
     * has the bits {@link #axpysShortF32} gives it alone.
     */
    private static void axpysF32Outputs4(Matrix m, int[] rows, int n, float[][] as, float[][] ys, int i, int from,
            int to) {
        MemorySegment d = m.data();
        long rb = m.rowBytes();
        float[] a0 = as[i];
        float[] a1 = as[i + 1];
        float[] a2 = as[i + 2];
        float[] a3 = as[i + 3];
        float[] y0 = ys[i];
        float[] y1 = ys[i + 1];
        float[] y2 = ys[i + 2];
        float[] y3 = ys[i + 3];
        int vectorEnd = from + (to - from) / L * L;
        int j = from;
        for (; j + 2 * L <= vectorEnd; j += 2 * L) {
            FloatVector p0 = FloatVector.fromArray(F, y0, j);
            FloatVector q0 = FloatVector.fromArray(F, y0, j + L);
            FloatVector p1 = FloatVector.fromArray(F, y1, j);
            FloatVector q1 = FloatVector.fromArray(F, y1, j + L);
            FloatVector p2 = FloatVector.fromArray(F, y2, j);
            FloatVector q2 = FloatVector.fromArray(F, y2, j + L);
            FloatVector p3 = FloatVector.fromArray(F, y3, j);
            FloatVector q3 = FloatVector.fromArray(F, y3, j + L);
            for (int k = 0; k < n; k++) {
                int r = rows[k];
                long base = r * rb + 4L * j;
                FloatVector w = FloatVector.fromMemorySegment(F, d, base, LE);
                FloatVector v = FloatVector.fromMemorySegment(F, d, base + 4L * L, LE);
                FloatVector b0 = FloatVector.broadcast(F, a0[r]);
                FloatVector b1 = FloatVector.broadcast(F, a1[r]);
                FloatVector b2 = FloatVector.broadcast(F, a2[r]);
                FloatVector b3 = FloatVector.broadcast(F, a3[r]);
                p0 = w.fma(b0, p0);
                q0 = v.fma(b0, q0);
                p1 = w.fma(b1, p1);
                q1 = v.fma(b1, q1);
                p2 = w.fma(b2, p2);
                q2 = v.fma(b2, q2);
                p3 = w.fma(b3, p3);
                q3 = v.fma(b3, q3);
            }
            p0.intoArray(y0, j);
            q0.intoArray(y0, j + L);
            p1.intoArray(y1, j);
            q1.intoArray(y1, j + L);
            p2.intoArray(y2, j);
            q2.intoArray(y2, j + L);
            p3.intoArray(y3, j);
            q3.intoArray(y3, j + L);
        }
        for (; j < vectorEnd; j += L) {
            FloatVector p0 = FloatVector.fromArray(F, y0, j);
            FloatVector p1 = FloatVector.fromArray(F, y1, j);
            FloatVector p2 = FloatVector.fromArray(F, y2, j);
            FloatVector p3 = FloatVector.fromArray(F, y3, j);
            for (int k = 0; k < n; k++) {
                int r = rows[k];
                FloatVector w = FloatVector.fromMemorySegment(F, d, r * rb + 4L * j, LE);
                p0 = w.fma(FloatVector.broadcast(F, a0[r]), p0);
                p1 = w.fma(FloatVector.broadcast(F, a1[r]), p1);
                p2 = w.fma(FloatVector.broadcast(F, a2[r]), p2);
                p3 = w.fma(FloatVector.broadcast(F, a3[r]), p3);
            }
            p0.intoArray(y0, j);
            p1.intoArray(y1, j);
            p2.intoArray(y2, j);
            p3.intoArray(y3, j);
        }
        for (int k = 0; k < n && vectorEnd < to; k++) {
            int r = rows[k];
            long base = r * rb;
            for (int c = vectorEnd; c < to; c++) {
                float e = ScalarKernels.element(m, base, c);
                y0[c] += a0[r] * e;
                y1[c] += a1[r] * e;
                y2[c] += a2[r] * e;
                y3[c] += a3[r] * e;
            }
        }
    }

    private static float maxAbs(float[] x, int n) {
        float max = 0;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, Math.abs(x[j])); // NaN stays NaN
        }
        return max;
    }

    /**
     * The F16 row at {@code base} against an input split and scaled by 2^112, over its first {@code pairs / L * L}
     * pairs; NaN when the row holds an infinity or a NaN there. One chain for the even elements and one for the odd,
     * as {@link #dotF16Pairs4} has per row, so that a row gives the same bits either way.
     */
    private static float dotF16Pairs(MemorySegment d, long base, float[] xe, float[] xo, int pairs) {
        FloatVector ae = FloatVector.zero(F);
        FloatVector ao = FloatVector.zero(F);
        ShortVector max = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, base + 4L * j, LE);
            max = max.max(i0.reinterpretAsShorts().and((short) 0x7FFF));
            ae = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(FloatVector.fromArray(F, xe, j), ae);
            ao = i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(FloatVector.fromArray(F, xo, j), ao);
        }
        if (max.reduceLanes(VectorOperators.MAX) >= 0x7C00) {
            return Float.NaN;
        }
        FloatVector acc = ae.add(ao);
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    /**
     * {@link #dotF16Pairs} for the eight listed rows {@code rows[k..k+7]} at once, into {@code out[0..7]}: eight
     * streams of reads in flight where {@link #dotF16Pairs4} has four, for rows scattered over a matrix (see the class
     * comment). One search for infinities and NaNs serves the eight (the registers are all taken); when it finds one,
     * the eight rows are read again one by one, which gives each the same bits as here.
     */
    private static void dotF16Pairs8(MemorySegment d, int[] rows, int k, long rb, float[] xe, float[] xo, int pairs,
            float[] out) {
        long b0 = rows[k] * rb;
        long b1 = rows[k + 1] * rb;
        long b2 = rows[k + 2] * rb;
        long b3 = rows[k + 3] * rb;
        long b4 = rows[k + 4] * rb;
        long b5 = rows[k + 5] * rb;
        long b6 = rows[k + 6] * rb;
        long b7 = rows[k + 7] * rb;
        FloatVector e0 = FloatVector.zero(F);
        FloatVector o0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector o1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector o2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        FloatVector o3 = FloatVector.zero(F);
        FloatVector e4 = FloatVector.zero(F);
        FloatVector o4 = FloatVector.zero(F);
        FloatVector e5 = FloatVector.zero(F);
        FloatVector o5 = FloatVector.zero(F);
        FloatVector e6 = FloatVector.zero(F);
        FloatVector o6 = FloatVector.zero(F);
        FloatVector e7 = FloatVector.zero(F);
        FloatVector o7 = FloatVector.zero(F);
        ShortVector max = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            FloatVector ve = FloatVector.fromArray(F, xe, j);
            FloatVector vo = FloatVector.fromArray(F, xo, j);
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            IntVector i4 = IntVector.fromMemorySegment(I, d, b4 + 4L * j, LE);
            IntVector i5 = IntVector.fromMemorySegment(I, d, b5 + 4L * j, LE);
            IntVector i6 = IntVector.fromMemorySegment(I, d, b6 + 4L * j, LE);
            IntVector i7 = IntVector.fromMemorySegment(I, d, b7 + 4L * j, LE);
            max = max.max(i0.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i1.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i2.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i3.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i4.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i5.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i6.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i7.reinterpretAsShorts().and((short) 0x7FFF));
            e0 = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e0);
            o0 = i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o0);
            e1 = i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e1);
            o1 = i1.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o1);
            e2 = i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e2);
            o2 = i2.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o2);
            e3 = i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e3);
            o3 = i3.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o3);
            e4 = i4.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e4);
            o4 = i4.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o4);
            e5 = i5.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e5);
            o5 = i5.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o5);
            e6 = i6.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e6);
            o6 = i6.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o6);
            e7 = i7.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e7);
            o7 = i7.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o7);
        }
        if (max.reduceLanes(VectorOperators.MAX) >= 0x7C00) { // rare: each row alone, NaN where it holds one
            for (int i = 0; i < 8; i++) {
                out[i] = dotF16Pairs(d, rows[k + i] * rb, xe, xo, pairs);
            }
            return;
        }
        FloatVector s0 = e0.add(o0);
        FloatVector s1 = e1.add(o1);
        FloatVector s2 = e2.add(o2);
        FloatVector s3 = e3.add(o3);
        FloatVector s4 = e4.add(o4);
        FloatVector s5 = e5.add(o5);
        FloatVector s6 = e6.add(o6);
        FloatVector s7 = e7.add(o7);
        // the tree of dotF16Pairs4, once for rows 0-3 and once for rows 4-7
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s45 = s4.blend(s5, HIGH_HALF).add(s5.blend(s4, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s67 = s6.blend(s7, HIGH_HALF).add(s7.blend(s6, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector lo = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        FloatVector hi = s45.blend(s67, ODD_QUARTERS).add(s67.blend(s45, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        lo = lo.add(lo.rearrange(SWAP_EIGHTH));
        hi = hi.add(hi.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            lo = lo.add(lo.rearrange(SWAP_ONE));
            hi = hi.add(hi.rearrange(SWAP_ONE));
        }
        out[0] = lo.lane(0);
        out[1] = lo.lane(L / 2);
        out[2] = lo.lane(L / 4);
        out[3] = lo.lane(3 * L / 4);
        out[4] = hi.lane(0);
        out[5] = hi.lane(L / 2);
        out[6] = hi.lane(L / 4);
        out[7] = hi.lane(3 * L / 4);
    }

    /** {@link #dotF16Pairs} for four rows at once, into {@code out[0..3]}. */
    private static void dotF16Pairs4(MemorySegment d, long b0, long b1, long b2, long b3, float[] xe, float[] xo,
            int pairs, float[] out) {
        FloatVector e0 = FloatVector.zero(F);
        FloatVector o0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector o1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector o2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        FloatVector o3 = FloatVector.zero(F);
        ShortVector m0 = ShortVector.zero(SI);
        ShortVector m1 = ShortVector.zero(SI);
        ShortVector m2 = ShortVector.zero(SI);
        ShortVector m3 = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            FloatVector ve = FloatVector.fromArray(F, xe, j);
            FloatVector vo = FloatVector.fromArray(F, xo, j);
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            m0 = m0.max(i0.reinterpretAsShorts().and((short) 0x7FFF));
            m1 = m1.max(i1.reinterpretAsShorts().and((short) 0x7FFF));
            m2 = m2.max(i2.reinterpretAsShorts().and((short) 0x7FFF));
            m3 = m3.max(i3.reinterpretAsShorts().and((short) 0x7FFF));
            e0 = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e0);
            o0 = i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o0);
            e1 = i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e1);
            o1 = i1.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o1);
            e2 = i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e2);
            o2 = i2.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o2);
            e3 = i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(ve, e3);
            o3 = i3.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(vo, o3);
        }
        FloatVector s0 = e0.add(o0);
        FloatVector s1 = e1.add(o1);
        FloatVector s2 = e2.add(o2);
        FloatVector s3 = e3.add(o3);
        // The tree of the single-row sum, for four rows at once: rows 0 and 1 share a vector, then all four do.
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector all = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        all = all.add(all.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            all = all.add(all.rearrange(SWAP_ONE));
        }
        float t0 = all.lane(0);
        float t2 = all.lane(L / 4);
        float t1 = all.lane(L / 2);
        float t3 = all.lane(3 * L / 4);
        out[0] = t0;
        out[1] = t1;
        out[2] = t2;
        out[3] = t3;
        if (m0.max(m1).max(m2).max(m3).reduceLanes(VectorOperators.MAX) >= 0x7C00) { // rare: find the rows
            out[0] = m0.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? Float.NaN : t0;
            out[1] = m1.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? Float.NaN : t1;
            out[2] = m2.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? Float.NaN : t2;
            out[3] = m3.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? Float.NaN : t3;
        }
    }

    /** The BF16 row at {@code base} against a split input, over its first {@code pairs / L * L} pairs. */
    private static float dotBF16Pairs(MemorySegment d, long base, float[] xe, float[] xo, int pairs) {
        FloatVector ae = FloatVector.zero(F);
        FloatVector ao = FloatVector.zero(F);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, base + 4L * j, LE);
            ae = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, xe, j), ae);
            ao = i0.and(0xFFFF_0000).reinterpretAsFloats().fma(FloatVector.fromArray(F, xo, j), ao);
        }
        FloatVector acc = ae.add(ao);
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    /**
     * {@link #dotBF16Pairs} for the eight listed rows {@code rows[k..k+7]} at once, into {@code out[0..7]}: the tree of
     * {@link #dotBF16Pairs4} once for rows 0-3 and once for rows 4-7.
     */
    private static void dotBF16Pairs8(MemorySegment d, int[] rows, int k, long rb, float[] xe, float[] xo, int pairs,
            float[] out) {
        long b0 = rows[k] * rb;
        long b1 = rows[k + 1] * rb;
        long b2 = rows[k + 2] * rb;
        long b3 = rows[k + 3] * rb;
        long b4 = rows[k + 4] * rb;
        long b5 = rows[k + 5] * rb;
        long b6 = rows[k + 6] * rb;
        long b7 = rows[k + 7] * rb;
        FloatVector e0 = FloatVector.zero(F);
        FloatVector o0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector o1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector o2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        FloatVector o3 = FloatVector.zero(F);
        FloatVector e4 = FloatVector.zero(F);
        FloatVector o4 = FloatVector.zero(F);
        FloatVector e5 = FloatVector.zero(F);
        FloatVector o5 = FloatVector.zero(F);
        FloatVector e6 = FloatVector.zero(F);
        FloatVector o6 = FloatVector.zero(F);
        FloatVector e7 = FloatVector.zero(F);
        FloatVector o7 = FloatVector.zero(F);
        for (int j = 0; j <= pairs - L; j += L) {
            FloatVector ve = FloatVector.fromArray(F, xe, j);
            FloatVector vo = FloatVector.fromArray(F, xo, j);
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            IntVector i4 = IntVector.fromMemorySegment(I, d, b4 + 4L * j, LE);
            IntVector i5 = IntVector.fromMemorySegment(I, d, b5 + 4L * j, LE);
            IntVector i6 = IntVector.fromMemorySegment(I, d, b6 + 4L * j, LE);
            IntVector i7 = IntVector.fromMemorySegment(I, d, b7 + 4L * j, LE);
            e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e0);
            o0 = i0.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o0);
            e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e1);
            o1 = i1.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o1);
            e2 = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e2);
            o2 = i2.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o2);
            e3 = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e3);
            o3 = i3.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o3);
            e4 = i4.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e4);
            o4 = i4.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o4);
            e5 = i5.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e5);
            o5 = i5.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o5);
            e6 = i6.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e6);
            o6 = i6.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o6);
            e7 = i7.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e7);
            o7 = i7.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o7);
        }
        FloatVector s0 = e0.add(o0);
        FloatVector s1 = e1.add(o1);
        FloatVector s2 = e2.add(o2);
        FloatVector s3 = e3.add(o3);
        FloatVector s4 = e4.add(o4);
        FloatVector s5 = e5.add(o5);
        FloatVector s6 = e6.add(o6);
        FloatVector s7 = e7.add(o7);
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s45 = s4.blend(s5, HIGH_HALF).add(s5.blend(s4, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s67 = s6.blend(s7, HIGH_HALF).add(s7.blend(s6, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector lo = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        FloatVector hi = s45.blend(s67, ODD_QUARTERS).add(s67.blend(s45, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        lo = lo.add(lo.rearrange(SWAP_EIGHTH));
        hi = hi.add(hi.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            lo = lo.add(lo.rearrange(SWAP_ONE));
            hi = hi.add(hi.rearrange(SWAP_ONE));
        }
        out[0] = lo.lane(0);
        out[1] = lo.lane(L / 2);
        out[2] = lo.lane(L / 4);
        out[3] = lo.lane(3 * L / 4);
        out[4] = hi.lane(0);
        out[5] = hi.lane(L / 2);
        out[6] = hi.lane(L / 4);
        out[7] = hi.lane(3 * L / 4);
    }

    /** {@link #dotBF16Pairs} for four rows at once, into {@code out[0..3]}. */
    private static void dotBF16Pairs4(MemorySegment d, long b0, long b1, long b2, long b3, float[] xe, float[] xo,
            int pairs, float[] out) {
        FloatVector e0 = FloatVector.zero(F);
        FloatVector o0 = FloatVector.zero(F);
        FloatVector e1 = FloatVector.zero(F);
        FloatVector o1 = FloatVector.zero(F);
        FloatVector e2 = FloatVector.zero(F);
        FloatVector o2 = FloatVector.zero(F);
        FloatVector e3 = FloatVector.zero(F);
        FloatVector o3 = FloatVector.zero(F);
        for (int j = 0; j <= pairs - L; j += L) {
            FloatVector ve = FloatVector.fromArray(F, xe, j);
            FloatVector vo = FloatVector.fromArray(F, xo, j);
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e0);
            o0 = i0.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o0);
            e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e1);
            o1 = i1.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o1);
            e2 = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e2);
            o2 = i2.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o2);
            e3 = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(ve, e3);
            o3 = i3.and(0xFFFF_0000).reinterpretAsFloats().fma(vo, o3);
        }
        FloatVector s0 = e0.add(o0);
        FloatVector s1 = e1.add(o1);
        FloatVector s2 = e2.add(o2);
        FloatVector s3 = e3.add(o3);
        // The tree of the single-row sum, for four rows at once: rows 0 and 1 share a vector, then all four do.
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector all = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        all = all.add(all.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            all = all.add(all.rearrange(SWAP_ONE));
        }
        float t0 = all.lane(0);
        float t2 = all.lane(L / 4);
        float t1 = all.lane(L / 2);
        float t3 = all.lane(3 * L / 4);
        out[0] = t0;
        out[1] = t1;
        out[2] = t2;
        out[3] = t3;
    }

    /**
     * Adds {@code scaledA} (a · 2^112) times the F16 row slice at {@code base} into the split output, over its first
     * {@code pairs / L * L} pairs; whether the slice holds an infinity or a NaN there.
     */
    private static boolean axpyF16Pairs(MemorySegment d, long base, float scaledA, float[] ye, float[] yo, int pairs) {
        FloatVector av = FloatVector.broadcast(F, scaledA);
        ShortVector max = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, base + 4L * j, LE);
            max = max.max(i0.reinterpretAsShorts().and((short) 0x7FFF));
            i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats()
                    .fma(av, FloatVector.fromArray(F, ye, j)).intoArray(ye, j);
            i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats()
                    .fma(av, FloatVector.fromArray(F, yo, j)).intoArray(yo, j);
        }
        return max.reduceLanes(VectorOperators.MAX) >= 0x7C00;
    }

    /**
     * {@link #axpyF16Pairs} for four rows at once (a0..a3 scaled by 2^112), each added in turn into every output
     * vector; bit i of the result says whether row i holds an infinity or a NaN.
     */
    private static int axpyF16Pairs4(MemorySegment d, long b0, long b1, long b2, long b3, float a0, float a1,
            float a2, float a3, float[] ye, float[] yo, int pairs) {
        FloatVector v0 = FloatVector.broadcast(F, a0);
        FloatVector v1 = FloatVector.broadcast(F, a1);
        FloatVector v2 = FloatVector.broadcast(F, a2);
        FloatVector v3 = FloatVector.broadcast(F, a3);
        ShortVector m0 = ShortVector.zero(SI);
        ShortVector m1 = ShortVector.zero(SI);
        ShortVector m2 = ShortVector.zero(SI);
        ShortVector m3 = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            m0 = m0.max(i0.reinterpretAsShorts().and((short) 0x7FFF));
            m1 = m1.max(i1.reinterpretAsShorts().and((short) 0x7FFF));
            m2 = m2.max(i2.reinterpretAsShorts().and((short) 0x7FFF));
            m3 = m3.max(i3.reinterpretAsShorts().and((short) 0x7FFF));
            FloatVector e = FloatVector.fromArray(F, ye, j);
            e = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v0, e);
            e = i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v1, e);
            e = i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v2, e);
            e = i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v3, e);
            e.intoArray(ye, j);
            FloatVector o = FloatVector.fromArray(F, yo, j);
            o = i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v0, o);
            o = i1.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v1, o);
            o = i2.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v2, o);
            o = i3.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v3, o);
            o.intoArray(yo, j);
        }
        if (m0.max(m1).max(m2).max(m3).reduceLanes(VectorOperators.MAX) < 0x7C00) { // the usual case: none
            return 0;
        }
        return (m0.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? 1 : 0)
                | (m1.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? 2 : 0)
                | (m2.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? 4 : 0)
                | (m3.reduceLanes(VectorOperators.MAX) >= 0x7C00 ? 8 : 0);
    }

    /**
     * {@link #axpyF16Pairs} for the eight rows of {@code group} at once, their slices {@code offset} bytes into the
     * rows ({@code scaled}: their a · 2^112), each added in turn into every output vector; whether any of them holds an
     * infinity or a NaN (one search for the eight: the registers are all taken).
     */
    private static boolean axpyF16Pairs8(MemorySegment d, int[] group, long rb, long offset, float[] scaled,
            float[] ye, float[] yo, int pairs) {
        long b0 = group[0] * rb + offset;
        long b1 = group[1] * rb + offset;
        long b2 = group[2] * rb + offset;
        long b3 = group[3] * rb + offset;
        long b4 = group[4] * rb + offset;
        long b5 = group[5] * rb + offset;
        long b6 = group[6] * rb + offset;
        long b7 = group[7] * rb + offset;
        FloatVector v0 = FloatVector.broadcast(F, scaled[0]);
        FloatVector v1 = FloatVector.broadcast(F, scaled[1]);
        FloatVector v2 = FloatVector.broadcast(F, scaled[2]);
        FloatVector v3 = FloatVector.broadcast(F, scaled[3]);
        FloatVector v4 = FloatVector.broadcast(F, scaled[4]);
        FloatVector v5 = FloatVector.broadcast(F, scaled[5]);
        FloatVector v6 = FloatVector.broadcast(F, scaled[6]);
        FloatVector v7 = FloatVector.broadcast(F, scaled[7]);
        ShortVector max = ShortVector.zero(SI);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            IntVector i4 = IntVector.fromMemorySegment(I, d, b4 + 4L * j, LE);
            IntVector i5 = IntVector.fromMemorySegment(I, d, b5 + 4L * j, LE);
            IntVector i6 = IntVector.fromMemorySegment(I, d, b6 + 4L * j, LE);
            IntVector i7 = IntVector.fromMemorySegment(I, d, b7 + 4L * j, LE);
            max = max.max(i0.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i1.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i2.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i3.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i4.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i5.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i6.reinterpretAsShorts().and((short) 0x7FFF))
                    .max(i7.reinterpretAsShorts().and((short) 0x7FFF));
            FloatVector e = FloatVector.fromArray(F, ye, j);
            e = i0.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v0, e);
            e = i1.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v1, e);
            e = i2.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v2, e);
            e = i3.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v3, e);
            e = i4.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v4, e);
            e = i5.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v5, e);
            e = i6.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v6, e);
            e = i7.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000)
                    .reinterpretAsFloats().fma(v7, e);
            e.intoArray(ye, j);
            FloatVector o = FloatVector.fromArray(F, yo, j);
            o = i0.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v0, o);
            o = i1.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v1, o);
            o = i2.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v2, o);
            o = i3.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v3, o);
            o = i4.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v4, o);
            o = i5.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v5, o);
            o = i6.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v6, o);
            o = i7.lanewise(VectorOperators.ASHR, 3).and(0x8FFF_E000).reinterpretAsFloats().fma(v7, o);
            o.intoArray(yo, j);
        }
        return max.reduceLanes(VectorOperators.MAX) >= 0x7C00;
    }

    /** {@link #axpyBF16Pairs} for four rows at once, each added in turn into every output vector. */
    private static void axpyBF16Pairs4(MemorySegment d, long b0, long b1, long b2, long b3, float a0, float a1,
            float a2, float a3, float[] ye, float[] yo, int pairs) {
        FloatVector v0 = FloatVector.broadcast(F, a0);
        FloatVector v1 = FloatVector.broadcast(F, a1);
        FloatVector v2 = FloatVector.broadcast(F, a2);
        FloatVector v3 = FloatVector.broadcast(F, a3);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            FloatVector e = FloatVector.fromArray(F, ye, j);
            e = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v0, e);
            e = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v1, e);
            e = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v2, e);
            e = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v3, e);
            e.intoArray(ye, j);
            FloatVector o = FloatVector.fromArray(F, yo, j);
            o = i0.and(0xFFFF_0000).reinterpretAsFloats().fma(v0, o);
            o = i1.and(0xFFFF_0000).reinterpretAsFloats().fma(v1, o);
            o = i2.and(0xFFFF_0000).reinterpretAsFloats().fma(v2, o);
            o = i3.and(0xFFFF_0000).reinterpretAsFloats().fma(v3, o);
            o.intoArray(yo, j);
        }
    }

    /**
     * {@link #axpyBF16Pairs} for the eight rows of {@code group} at once, their slices {@code offset} bytes into the
     * rows, each times its {@code a} and added in turn into every output vector.
     */
    private static void axpyBF16Pairs8(MemorySegment d, int[] group, long rb, long offset, float[] a, float[] ye,
            float[] yo, int pairs) {
        long b0 = group[0] * rb + offset;
        long b1 = group[1] * rb + offset;
        long b2 = group[2] * rb + offset;
        long b3 = group[3] * rb + offset;
        long b4 = group[4] * rb + offset;
        long b5 = group[5] * rb + offset;
        long b6 = group[6] * rb + offset;
        long b7 = group[7] * rb + offset;
        FloatVector v0 = FloatVector.broadcast(F, a[group[0]]);
        FloatVector v1 = FloatVector.broadcast(F, a[group[1]]);
        FloatVector v2 = FloatVector.broadcast(F, a[group[2]]);
        FloatVector v3 = FloatVector.broadcast(F, a[group[3]]);
        FloatVector v4 = FloatVector.broadcast(F, a[group[4]]);
        FloatVector v5 = FloatVector.broadcast(F, a[group[5]]);
        FloatVector v6 = FloatVector.broadcast(F, a[group[6]]);
        FloatVector v7 = FloatVector.broadcast(F, a[group[7]]);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, b0 + 4L * j, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, d, b1 + 4L * j, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, d, b2 + 4L * j, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, d, b3 + 4L * j, LE);
            IntVector i4 = IntVector.fromMemorySegment(I, d, b4 + 4L * j, LE);
            IntVector i5 = IntVector.fromMemorySegment(I, d, b5 + 4L * j, LE);
            IntVector i6 = IntVector.fromMemorySegment(I, d, b6 + 4L * j, LE);
            IntVector i7 = IntVector.fromMemorySegment(I, d, b7 + 4L * j, LE);
            FloatVector e = FloatVector.fromArray(F, ye, j);
            e = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v0, e);
            e = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v1, e);
            e = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v2, e);
            e = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v3, e);
            e = i4.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v4, e);
            e = i5.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v5, e);
            e = i6.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v6, e);
            e = i7.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(v7, e);
            e.intoArray(ye, j);
            FloatVector o = FloatVector.fromArray(F, yo, j);
            o = i0.and(0xFFFF_0000).reinterpretAsFloats().fma(v0, o);
            o = i1.and(0xFFFF_0000).reinterpretAsFloats().fma(v1, o);
            o = i2.and(0xFFFF_0000).reinterpretAsFloats().fma(v2, o);
            o = i3.and(0xFFFF_0000).reinterpretAsFloats().fma(v3, o);
            o = i4.and(0xFFFF_0000).reinterpretAsFloats().fma(v4, o);
            o = i5.and(0xFFFF_0000).reinterpretAsFloats().fma(v5, o);
            o = i6.and(0xFFFF_0000).reinterpretAsFloats().fma(v6, o);
            o = i7.and(0xFFFF_0000).reinterpretAsFloats().fma(v7, o);
            o.intoArray(yo, j);
        }
    }

    /**
     * After {@link #axpyF16Pairs} met an infinity or a NaN: adds {@code a} times each such element, which makes the
     * output what it is when every element is widened exactly (infinite or NaN; the finite stand-in added before
     * does not change that).
     */
    private static void specialsF16(MemorySegment d, long base, float a, float[] ye, float[] yo, int pairs) {
        for (int q = 0; q < pairs; q++) {
            short even = d.get(SHORT, base + 4L * q);
            short odd = d.get(SHORT, base + 4L * q + 2);
            if ((even & 0x7C00) == 0x7C00) {
                ye[q] += a * Float.float16ToFloat(even);
            }
            if ((odd & 0x7C00) == 0x7C00) {
                yo[q] += a * Float.float16ToFloat(odd);
            }
        }
    }

    /** Adds {@code a} times the BF16 row slice at {@code base} into the split output, over its first pairs. */
    private static void axpyBF16Pairs(MemorySegment d, long base, float a, float[] ye, float[] yo, int pairs) {
        FloatVector av = FloatVector.broadcast(F, a);
        for (int j = 0; j <= pairs - L; j += L) {
            IntVector i0 = IntVector.fromMemorySegment(I, d, base + 4L * j, LE);
            i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(av, FloatVector.fromArray(F, ye, j)).intoArray(ye, j);
            i0.and(0xFFFF_0000).reinterpretAsFloats().fma(av, FloatVector.fromArray(F, yo, j)).intoArray(yo, j);
        }
    }

    // ---- dot products: the sum over whole vectors of the row (the caller adds the tail) ------------------------

    private static float dotF32(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, d, base + 4L * j, LE).fma(FloatVector.fromArray(F, x, j), acc0);
            acc1 = FloatVector.fromMemorySegment(F, d, base + 4L * (j + L), LE)
                    .fma(FloatVector.fromArray(F, x, j + L), acc1);
        }
        for (; j <= n - L; j += L) {
            acc0 = FloatVector.fromMemorySegment(F, d, base + 4L * j, LE).fma(FloatVector.fromArray(F, x, j), acc0);
        }
        FloatVector acc = acc0.add(acc1);
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    /**
     * {@link #dotF32} of one row against four inputs at once, into {@code out[0..3]}: the row read once, the same two
     * chains per input, and the tree of {@link #dotF32x4} over the four.
     */
    private static void dotF32Inputs4(MemorySegment d, long base, float[] x0, float[] x1, float[] x2, float[] x3,
            int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) {
            FloatVector w = FloatVector.fromMemorySegment(F, d, base + 4L * j, LE);
            FloatVector v = FloatVector.fromMemorySegment(F, d, base + 4L * (j + L), LE);
            a0 = w.fma(FloatVector.fromArray(F, x0, j), a0);
            c0 = v.fma(FloatVector.fromArray(F, x0, j + L), c0);
            a1 = w.fma(FloatVector.fromArray(F, x1, j), a1);
            c1 = v.fma(FloatVector.fromArray(F, x1, j + L), c1);
            a2 = w.fma(FloatVector.fromArray(F, x2, j), a2);
            c2 = v.fma(FloatVector.fromArray(F, x2, j + L), c2);
            a3 = w.fma(FloatVector.fromArray(F, x3, j), a3);
            c3 = v.fma(FloatVector.fromArray(F, x3, j + L), c3);
        }
        for (; j <= n - L; j += L) {
            FloatVector w = FloatVector.fromMemorySegment(F, d, base + 4L * j, LE);
            a0 = w.fma(FloatVector.fromArray(F, x0, j), a0);
            a1 = w.fma(FloatVector.fromArray(F, x1, j), a1);
            a2 = w.fma(FloatVector.fromArray(F, x2, j), a2);
            a3 = w.fma(FloatVector.fromArray(F, x3, j), a3);
        }
        FloatVector s0 = a0.add(c0);
        FloatVector s1 = a1.add(c1);
        FloatVector s2 = a2.add(c2);
        FloatVector s3 = a3.add(c3);
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector all = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        all = all.add(all.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            all = all.add(all.rearrange(SWAP_ONE));
        }
        out[0] = all.lane(0);
        out[1] = all.lane(L / 2);
        out[2] = all.lane(L / 4);
        out[3] = all.lane(3 * L / 4);
    }

    /** {@link #dotF32} for four rows at once, into {@code out[0..3]}: the same two chains per row, the same tree. */
    private static void dotF32x4(MemorySegment d, long b0, long b1, long b2, long b3, float[] x, int n, float[] out) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector c0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector c1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector c2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        FloatVector c3 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(F, x, j);
            FloatVector x1 = FloatVector.fromArray(F, x, j + L);
            a0 = FloatVector.fromMemorySegment(F, d, b0 + 4L * j, LE).fma(x0, a0);
            c0 = FloatVector.fromMemorySegment(F, d, b0 + 4L * (j + L), LE).fma(x1, c0);
            a1 = FloatVector.fromMemorySegment(F, d, b1 + 4L * j, LE).fma(x0, a1);
            c1 = FloatVector.fromMemorySegment(F, d, b1 + 4L * (j + L), LE).fma(x1, c1);
            a2 = FloatVector.fromMemorySegment(F, d, b2 + 4L * j, LE).fma(x0, a2);
            c2 = FloatVector.fromMemorySegment(F, d, b2 + 4L * (j + L), LE).fma(x1, c2);
            a3 = FloatVector.fromMemorySegment(F, d, b3 + 4L * j, LE).fma(x0, a3);
            c3 = FloatVector.fromMemorySegment(F, d, b3 + 4L * (j + L), LE).fma(x1, c3);
        }
        for (; j <= n - L; j += L) {
            FloatVector x0 = FloatVector.fromArray(F, x, j);
            a0 = FloatVector.fromMemorySegment(F, d, b0 + 4L * j, LE).fma(x0, a0);
            a1 = FloatVector.fromMemorySegment(F, d, b1 + 4L * j, LE).fma(x0, a1);
            a2 = FloatVector.fromMemorySegment(F, d, b2 + 4L * j, LE).fma(x0, a2);
            a3 = FloatVector.fromMemorySegment(F, d, b3 + 4L * j, LE).fma(x0, a3);
        }
        FloatVector s0 = a0.add(c0);
        FloatVector s1 = a1.add(c1);
        FloatVector s2 = a2.add(c2);
        FloatVector s3 = a3.add(c3);
        // the tree of dotF32's sum, for four rows at once, as dotF16Pairs4 builds it
        FloatVector s01 = s0.blend(s1, HIGH_HALF).add(s1.blend(s0, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector s23 = s2.blend(s3, HIGH_HALF).add(s3.blend(s2, HIGH_HALF).rearrange(SWAP_HALF));
        FloatVector all = s01.blend(s23, ODD_QUARTERS).add(s23.blend(s01, ODD_QUARTERS).rearrange(SWAP_QUARTER));
        all = all.add(all.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            all = all.add(all.rearrange(SWAP_ONE));
        }
        out[0] = all.lane(0);
        out[1] = all.lane(L / 2);
        out[2] = all.lane(L / 4);
        out[3] = all.lane(3 * L / 4);
    }

    private static float dotF16(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) { // two chains of FMAs, each vector widened in place
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            IntVector h1 = (IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * (j + L), LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            IntVector b0 = h0.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
            IntVector b1 = h1.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
            FloatVector w0 = b0.reinterpretAsFloats().mul(0x1p112f)
                    .blend(b0.or(0x7F80_0000).reinterpretAsFloats(), h0.and(0x7C00).eq(0x7C00).cast(F))
                    .reinterpretAsInts().or(h0.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            FloatVector w1 = b1.reinterpretAsFloats().mul(0x1p112f)
                    .blend(b1.or(0x7F80_0000).reinterpretAsFloats(), h1.and(0x7C00).eq(0x7C00).cast(F))
                    .reinterpretAsInts().or(h1.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            acc0 = w0.fma(FloatVector.fromArray(F, x, j), acc0);
            acc1 = w1.fma(FloatVector.fromArray(F, x, j + L), acc1);
        }
        for (; j <= n - L; j += L) {
            IntVector h = (IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            IntVector bits = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
            VectorMask<Float> special = h.and(0x7C00).eq(0x7C00).cast(F);
            FloatVector w = bits.reinterpretAsFloats().mul(0x1p112f)
                    .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), special).reinterpretAsInts()
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            acc0 = w.fma(FloatVector.fromArray(F, x, j), acc0);
        }
        FloatVector acc = acc0.add(acc1);
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    private static float dotBF16(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) {
            FloatVector w0 = ((IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w1 = ((IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * (j + L), LE)
                    .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc0 = w0.fma(FloatVector.fromArray(F, x, j), acc0);
            acc1 = w1.fma(FloatVector.fromArray(F, x, j + L), acc1);
        }
        for (; j <= n - L; j += L) {
            FloatVector w = ((IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            acc0 = w.fma(FloatVector.fromArray(F, x, j), acc0);
        }
        FloatVector acc = acc0.add(acc1);
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    private static float dotQ8(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int j = 0; j < n; j += 32) {
            long block = base + (j / 32) * 34L;
            FloatVector s = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, d, block + 2 + k, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                s = q.fma(FloatVector.fromArray(F, x, j + k), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(d.get(SHORT, block))), acc);
        }
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    private static float dotQ4(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int j = 0; j < n; j += 32) {
            long block = base + (j / 32) * 18L;
            FloatVector s = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, d, block + 2 + k, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F).sub((byte) 8)
                        .convertShape(VectorOperators.B2F, F, 0);
                s = lo.fma(FloatVector.fromArray(F, x, j + k), s);
                s = hi.fma(FloatVector.fromArray(F, x, j + 16 + k), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(d.get(SHORT, block))), acc);
        }
        acc = acc.add(acc.rearrange(SWAP_HALF));
        acc = acc.add(acc.rearrange(SWAP_QUARTER));
        acc = acc.add(acc.rearrange(SWAP_EIGHTH));
        if (L == 16) {
            acc = acc.add(acc.rearrange(SWAP_ONE));
        }
        return acc.lane(0);
    }

    // ---- scaled rows added into y[from, to): each returns where its whole vectors end (the caller does the rest) --

    private static int axpyF32(MemorySegment d, long base, float a, float[] y, int from, int to) {
        FloatVector av = FloatVector.broadcast(F, a);
        int j = from;
        for (; j <= to - L; j += L) {
            FloatVector.fromMemorySegment(F, d, base + 4L * j, LE).fma(av, FloatVector.fromArray(F, y, j)).intoArray(y, j);
        }
        return j;
    }

    private static int axpyF16(MemorySegment d, long base, float a, float[] y, int from, int to) {
        FloatVector av = FloatVector.broadcast(F, a);
        int j = from;
        for (; j <= to - L; j += L) {
            IntVector h = (IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0);
            IntVector bits = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
            VectorMask<Float> special = h.and(0x7C00).eq(0x7C00).cast(F);
            FloatVector w = bits.reinterpretAsFloats().mul(0x1p112f)
                    .blend(bits.or(0x7F80_0000).reinterpretAsFloats(), special).reinterpretAsInts()
                    .or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
            w.fma(av, FloatVector.fromArray(F, y, j)).intoArray(y, j);
        }
        return j;
    }

    private static int axpyBF16(MemorySegment d, long base, float a, float[] y, int from, int to) {
        FloatVector av = FloatVector.broadcast(F, a);
        int j = from;
        for (; j <= to - L; j += L) {
            FloatVector w = ((IntVector) ShortVector.fromMemorySegment(S, d, base + 2L * j, LE)
                    .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            w.fma(av, FloatVector.fromArray(F, y, j)).intoArray(y, j);
        }
        return j;
    }

    private static int axpyQ8(MemorySegment d, long base, float a, float[] y, int from, int to) {
        for (int j = from; j < to; j += 32) {
            long block = base + (j / 32) * 34L;
            FloatVector ad = FloatVector.broadcast(F, a * Float.float16ToFloat(d.get(SHORT, block)));
            for (int k = 0; k < 32; k += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, d, block + 2 + k, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                q.fma(ad, FloatVector.fromArray(F, y, j + k)).intoArray(y, j + k);
            }
        }
        return to;
    }

    private static int axpyQ4(MemorySegment d, long base, float a, float[] y, int from, int to) {
        for (int j = from; j < to; j += 32) {
            long block = base + (j / 32) * 18L;
            FloatVector ad = FloatVector.broadcast(F, a * Float.float16ToFloat(d.get(SHORT, block)));
            for (int k = 0; k < 16; k += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, d, block + 2 + k, LE);
                FloatVector lo = (FloatVector) q.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
                FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F).sub((byte) 8)
                        .convertShape(VectorOperators.B2F, F, 0);
                lo.fma(ad, FloatVector.fromArray(F, y, j + k)).intoArray(y, j + k);
                hi.fma(ad, FloatVector.fromArray(F, y, j + 16 + k)).intoArray(y, j + 16 + k);
            }
        }
        return to;
    }
}

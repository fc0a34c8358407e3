package dev.turbosparse.runtime.cpu;

import static dev.turbosparse.runtime.cpu.ScalarKernels.SHORT;

import dev.turbosparse.runtime.Matrix;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
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
 *   <li><b>Lanes are summed in a fixed order</b> ({@code lane(i)}, first to last), not with {@code reduceLanes(ADD)},
 *       whose order is the intrinsic's once compiled and lane by lane before: the same row could give two results a
 *       rounding apart.</li>
 * </ul>
 *
 * <p>F16 widening: its 15 bits of exponent and mantissa, moved up 13 bits and multiplied by 2^112, give the value of
 * normal and subnormal numbers alike; an exponent of all ones (infinity, NaN) is set to a float exponent of all ones;
 * the sign moves up 16 bits. BF16 is the top half of a float.
 */
public final class VectorKernels implements RowKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, shapeOf(L * 16));
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, shapeOf(L * 8));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Whether this machine has the lanes these kernels need: at least 8 floats (blocks of 32 in whole steps). */
    public static boolean supported() {
        return L >= 8 && 32 % L == 0;
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
        float sum = 0;
        for (int i = 0; i < L; i++) {
            sum += acc.lane(i);
        }
        return sum;
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
        float sum = 0;
        for (int i = 0; i < L; i++) {
            sum += acc.lane(i);
        }
        return sum;
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
        float sum = 0;
        for (int i = 0; i < L; i++) {
            sum += acc.lane(i);
        }
        return sum;
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
        float sum = 0;
        for (int i = 0; i < L; i++) {
            sum += acc.lane(i);
        }
        return sum;
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
        float sum = 0;
        for (int i = 0; i < L; i++) {
            sum += acc.lane(i);
        }
        return sum;
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

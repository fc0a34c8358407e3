package dev.turbosparse.runtime.cpu;

import static dev.turbosparse.runtime.cpu.ScalarKernels.FLOAT;
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
 * AVX-512, 8 with AVX2). F16 and BF16 are widened in registers from their bits (F16 by rebiasing the exponent, with
 * infinities and NaN kept); Q8_0 and Q4_0 decode a 32-element block in {@code 32 / L} steps and apply its scale once.
 * A row's tail of fewer than {@code L} elements goes through {@link ScalarKernels#element}. Results do not depend
 * on whether the JIT has compiled a kernel yet: lanes are summed in a fixed order.
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
        return switch (m.type()) {
            case F32 -> dotF32(d, base, x, n);
            case F16, BF16 -> dotHalf(m, d, base, x, n);
            case Q8_0 -> dotQ8(d, base, x, n);
            case Q4_0 -> dotQ4(d, base, x, n);
        };
    }

    @Override
    public void axpy(Matrix m, long row, float a, float[] y, int from, int to) {
        MemorySegment d = m.data();
        long base = row * m.rowBytes();
        switch (m.type()) {
            case F32 -> {
                FloatVector av = FloatVector.broadcast(F, a);
                int j = from;
                for (; j <= to - L; j += L) {
                    FloatVector w = FloatVector.fromMemorySegment(F, d, base + 4L * j, LE);
                    w.fma(av, FloatVector.fromArray(F, y, j)).intoArray(y, j);
                }
                for (; j < to; j++) {
                    y[j] += a * d.get(FLOAT, base + 4L * j);
                }
            }
            case F16, BF16 -> {
                FloatVector av = FloatVector.broadcast(F, a);
                boolean f16 = m.type() == dev.turbosparse.model.gguf.GgmlType.F16;
                int j = from;
                for (; j <= to - L; j += L) {
                    FloatVector w = widen(d, base + 2L * j, f16);
                    w.fma(av, FloatVector.fromArray(F, y, j)).intoArray(y, j);
                }
                for (; j < to; j++) {
                    y[j] += a * ScalarKernels.element(m, base, j);
                }
            }
            case Q8_0 -> {
                for (int j = from; j < to; j += 32) {
                    long block = base + (j / 32) * 34L;
                    FloatVector ad = FloatVector.broadcast(F, a * Float.float16ToFloat(d.get(SHORT, block)));
                    for (int k = 0; k < 32; k += L) {
                        FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, d, block + 2 + k, LE)
                                .convertShape(VectorOperators.B2F, F, 0);
                        q.fma(ad, FloatVector.fromArray(F, y, j + k)).intoArray(y, j + k);
                    }
                }
            }
            case Q4_0 -> {
                for (int j = from; j < to; j += 32) {
                    long block = base + (j / 32) * 18L;
                    FloatVector ad = FloatVector.broadcast(F, a * Float.float16ToFloat(d.get(SHORT, block)));
                    for (int k = 0; k < 16; k += L) {
                        ByteVector q = ByteVector.fromMemorySegment(B, d, block + 2 + k, LE);
                        FloatVector lo = nibbles(q.and((byte) 0x0F));
                        FloatVector hi = nibbles(q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F));
                        lo.fma(ad, FloatVector.fromArray(F, y, j + k)).intoArray(y, j + k);
                        hi.fma(ad, FloatVector.fromArray(F, y, j + 16 + k)).intoArray(y, j + 16 + k);
                    }
                }
            }
        }
    }

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
        float sum = sum(acc0.add(acc1));
        for (; j < n; j++) {
            sum += d.get(FLOAT, base + 4L * j) * x[j];
        }
        return sum;
    }

    private static float dotHalf(Matrix m, MemorySegment d, long base, float[] x, int n) {
        boolean f16 = m.type() == dev.turbosparse.model.gguf.GgmlType.F16;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - 2 * L; j += 2 * L) {
            acc0 = widen(d, base + 2L * j, f16).fma(FloatVector.fromArray(F, x, j), acc0);
            acc1 = widen(d, base + 2L * (j + L), f16).fma(FloatVector.fromArray(F, x, j + L), acc1);
        }
        for (; j <= n - L; j += L) {
            acc0 = widen(d, base + 2L * j, f16).fma(FloatVector.fromArray(F, x, j), acc0);
        }
        float sum = sum(acc0.add(acc1));
        for (; j < n; j++) {
            sum += ScalarKernels.element(m, base, j) * x[j];
        }
        return sum;
    }

    /**
     * L half-precision values at byte {@code at}, widened to float. BF16 is the top half of a float. F16's 15 bits of
     * exponent and mantissa, moved up 13 bits and multiplied by 2^112, give the value of normal and subnormal numbers
     * alike; an exponent of all ones (infinity, NaN) becomes a float exponent of all ones.
     */
    private static FloatVector widen(MemorySegment d, long at, boolean f16) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, d, at, LE).convertShape(VectorOperators.S2I, I, 0);
        if (!f16) {
            return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
        }
        IntVector bits = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector magnitude = bits.reinterpretAsFloats().mul(0x1p112f);
        VectorMask<Float> special = h.and(0x7C00).eq(0x7C00).cast(F);
        magnitude = magnitude.blend(bits.or(0x7F80_0000).reinterpretAsFloats(), special);
        return magnitude.reinterpretAsInts().or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    private static float dotQ8(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int j = 0; j < n; j += 32) {
            long block = base + (j / 32) * 34L;
            FloatVector sum = FloatVector.zero(F);
            for (int k = 0; k < 32; k += L) {
                FloatVector q = (FloatVector) ByteVector.fromMemorySegment(B, d, block + 2 + k, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                sum = q.fma(FloatVector.fromArray(F, x, j + k), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, Float.float16ToFloat(d.get(SHORT, block))), acc);
        }
        return sum(acc);
    }

    private static float dotQ4(MemorySegment d, long base, float[] x, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int j = 0; j < n; j += 32) {
            long block = base + (j / 32) * 18L;
            FloatVector sum = FloatVector.zero(F);
            for (int k = 0; k < 16; k += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, d, block + 2 + k, LE);
                sum = nibbles(q.and((byte) 0x0F)).fma(FloatVector.fromArray(F, x, j + k), sum);
                sum = nibbles(q.lanewise(VectorOperators.LSHR, 4).and((byte) 0x0F))
                        .fma(FloatVector.fromArray(F, x, j + 16 + k), sum);
            }
            acc = sum.fma(FloatVector.broadcast(F, Float.float16ToFloat(d.get(SHORT, block))), acc);
        }
        return sum(acc);
    }

    /**
     * The sum of a vector's lanes, first to last. Not {@code reduceLanes(ADD)}: its order is the intrinsic's once C2
     * compiles a method and lane by lane before, so the same row could give two results a rounding apart.
     */
    private static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < L; i++) {
            s += v.lane(i);
        }
        return s;
    }

    /** Nibbles 0..15 as the floats -8..7. */
    private static FloatVector nibbles(ByteVector q) {
        return (FloatVector) q.sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }
}

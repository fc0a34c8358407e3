package dev.turbosparse.runtime.cpu;

import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.runtime.Matrix;

/**
 * The two operations every weight layout reduces to, one matrix row at a time: a dot product with the input (a row
 * of a mat-vec), and a scaled row added into an output (a neuron of a neuron-major down projection). Each weight
 * type has them twice: {@link ScalarKernels} (the reference) and {@link VectorKernels} (Java's Vector API), tested
 * against each other.
 */
public interface RowKernels {

    /** {@code sum_j m[row][j] * x[j]} over the row's {@code m.cols()} elements. */
    float dot(Matrix m, long row, float[] x);

    /**
     * {@code y[j] += a * m[row][j]} for j in [from, to). For the block types (Q8_0, Q4_0) {@code from} and {@code to}
     * are multiples of 32, or {@code to} is the row's end.
     */
    void axpy(Matrix m, long row, float a, float[] y, int from, int to);

    /**
     * An input made ready for {@link #dots} over matrices of one weight type and width: what a kernel derives from
     * {@code x} for many rows (the Vector API's F16 and BF16 kernels split it into its even and odd elements) is made
     * once per mat-vec, not once per part of it. Valid while {@code x} does not change.
     */
    interface Input {
        /** The input itself. */
        float[] x();
    }

    /** An input the kernels use as it is. */
    record Plain(float[] x) implements Input {}

    /** {@code x} prepared for dots over rows of {@code n} elements of {@code type}. */
    default Input prepare(float[] x, int n, GgmlType type) {
        return new Plain(x);
    }

    /**
     * {@code out[r] = m[r] · x} for every row r listed in {@code rows[from, to)}, or for r in [from, to) when
     * {@code rows} is null: a mat-vec's rows, with {@code x} prepared once for many rows by {@link #prepare} for
     * {@code m}'s type and width.
     */
    default void dots(Matrix m, int[] rows, int from, int to, Input x, float[] out) {
        requireWidth(m, x.x());
        for (int j = from; j < to; j++) {
            int r = rows == null ? j : rows[j];
            out[r] = dot(m, r, x.x());
        }
    }

    /** {@link #dots(Matrix, int[], int, int, Input, float[])} with {@code x} prepared for this call alone. */
    default void dots(Matrix m, int[] rows, int from, int to, float[] x, float[] out) {
        requireWidth(m, x);
        dots(m, rows, from, to, prepare(x, (int) m.cols(), m.type()), out);
    }

    /** Refuses, naming {@code m}, an input shorter than its rows. */
    static void requireWidth(Matrix m, float[] x) {
        if (x.length < m.cols()) {
            throw new IllegalArgumentException(m.name() + ": an input of " + x.length + " elements for rows of "
                    + m.cols());
        }
    }

    /**
     * {@code y[j] += a[r] * m[r][j]} for j in [from, to), summed over the rows r in {@code rows[0, n)}: a
     * neuron-major down projection over its active neurons, for kernels that accumulate once for many rows.
     */
    default void axpys(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to) {
        for (int k = 0; k < n; k++) {
            axpy(m, rows[k], a[rows[k]], y, from, to);
        }
    }

    /**
     * {@link #axpys} of rows scattered over {@code m} (a sparse mode's active neurons), which a kernel may read more of
     * at once than it does of a whole range's rows; the same result, bit for bit.
     */
    default void axpysScattered(Matrix m, int[] rows, int n, float[] a, float[] y, int from, int to) {
        axpys(m, rows, n, a, y, from, to);
    }

    /**
     * {@code outs[i][r] = m[r] · xs[i]} for every input i and every row r in [from, to): several inputs against the
     * same rows (the query heads of one KV head against its cached keys), which a kernel may read once for all of them.
     * Each result has the bits {@link #dots} gives it for its input alone.
     */
    default void dotsMany(Matrix m, int from, int to, float[][] xs, float[][] outs) {
        for (int i = 0; i < xs.length; i++) {
            dots(m, null, from, to, xs[i], outs[i]);
        }
    }

    /**
     * {@link #axpys} into several outputs, each with its own weights: {@code ys[i][j] += as[i][r] * m[r][j]} for j in
     * [from, to), summed over the rows r in {@code rows[0, n)} in their order (the query heads of one KV head, adding
     * its cached values), which a kernel may read once for all of them. Each output has the bits {@link #axpys} gives it.
     */
    default void axpysMany(Matrix m, int[] rows, int n, float[][] as, float[][] ys, int from, int to) {
        for (int i = 0; i < ys.length; i++) {
            axpys(m, rows, n, as[i], ys[i], from, to);
        }
    }

    /** The kernels this machine runs fastest: the Vector API where it has lanes enough, else the scalar ones. */
    static RowKernels best() {
        return VectorKernels.supported() ? new VectorKernels() : new ScalarKernels();
    }
}

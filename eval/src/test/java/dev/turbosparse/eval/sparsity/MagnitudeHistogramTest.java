package dev.turbosparse.eval.sparsity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Thresholds from the magnitude histogram, against exact quantiles; thresholding zeroes what lies below. */
class MagnitudeHistogramTest {

    @Test
    void thresholdsAreQuantilesOfTheMagnitudesToWithinABin() {
        Random r = new Random(3);
        float[] h = new float[100_000];
        for (int i = 0; i < h.length; i++) {
            // a fifth exact zeros, the rest Gaussian with a wide range of magnitudes
            h[i] = i % 5 == 0 ? 0f : (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
        }
        MagnitudeHistogram hist = new MagnitudeHistogram(1, 2);
        hist.count(0, 1, h);
        float[] sorted = new float[h.length];
        for (int i = 0; i < h.length; i++) {
            sorted[i] = Math.abs(h[i]);
        }
        Arrays.sort(sorted);
        assertEquals(0, hist.threshold(0, 1, 0.15), "the exact zeros alone reach 15%");
        for (double share : new double[] {0.3, 0.5, 0.8, 0.95}) {
            double t = hist.threshold(0, 1, share);
            double exact = sorted[(int) Math.ceil(share * h.length) - 1];
            assertTrue(t >= exact && t <= exact * Math.pow(10, 1.0 / MagnitudeHistogram.BINS_PER_DECADE) * 1.0001,
                    share + ": threshold " + t + ", exact quantile " + exact);
            long below = 0;
            for (float v : sorted) {
                below += v < t ? 1 : 0;
            }
            assertEquals(share, (double) below / h.length, 0.005, "the share below the threshold");
        }
        assertTrue(Double.isNaN(hist.threshold(0, 0, 0.5)), "an expert that saw nothing");
    }

    @Test
    void thresholdingZeroesTheEntriesBelowAndCountsThem() {
        NeuronProfile profile = new NeuronProfile(1, 1, 4);
        Thresholds t = new Thresholds(new double[][] {{0.5}}, profile);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray h = m.create(new float[] {0.1f, -0.7f, 0.5f, -0.2f, 0f, 2f, -0.49f, 0.51f}, new Shape(2, 4));
            NDArray out = t.transform(0, 0, h);
            // (a zeroed negative entry is -0.0, which is zero)
            assertArrayEquals(new float[] {0f, -0.7f, 0.5f, 0f, 0f, 2f, 0f, 0.51f}, out.toFloatArray(), 0f);
            t.observe(0, 0, out);
        }
        assertEquals(0.5, profile.zeroFraction(0, 0));
    }
}

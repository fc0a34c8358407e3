package dev.turbosparse.eval.sparsity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Counting zeros and per-neuron activity, on tensors and on float arrays. */
class NeuronProfileTest {

    @Test
    void tensorAndArrayCountsAgree() {
        Random r = new Random(7);
        int neurons = 24;
        int rows = 10;
        float[] h = new float[rows * neurons];
        for (int i = 0; i < h.length; i++) {
            h[i] = r.nextInt(3) == 0 ? r.nextFloat() : 0f;
        }
        NeuronProfile onArrays = new NeuronProfile(2, 3, neurons);
        onArrays.count(1, 2, h, rows);
        NeuronProfile onTensors = new NeuronProfile(2, 3, neurons);
        try (NDManager m = NDManager.newBaseManager()) {
            // (batch, seq, neurons) as a dense FFN gives it
            onTensors.observe(1, 2, m.create(h, new Shape(2, rows / 2, neurons)));
        }
        assertEquals(rows, onTensors.tokens(1, 2));
        assertEquals(onArrays.zeros(1, 2), onTensors.zeros(1, 2));
        assertArrayEquals(onArrays.activationFrequency(1, 2), onTensors.activationFrequency(1, 2));
        long zeros = 0;
        for (float v : h) {
            zeros += v == 0f ? 1 : 0;
        }
        assertEquals(zeros, onArrays.zeros(1, 2));
        // neuron 0's frequency by hand
        int active = 0;
        for (int t = 0; t < rows; t++) {
            active += h[t * neurons] != 0f ? 1 : 0;
        }
        assertEquals((double) active / rows, onArrays.activationFrequency(1, 2)[0]);
        assertTrue(Double.isNaN(onArrays.zeroFraction(0, 0)), "no token reached layer 0 expert 0");
        assertEquals((double) zeros / (rows * neurons), onArrays.zeroFraction(1), 1e-15,
                "the layer's fraction over its experts: only expert 2 saw tokens");
    }

    @Test
    void profilesAddUp() {
        NeuronProfile a = new NeuronProfile(1, 1, 2);
        a.count(0, 0, new float[] {1, 0, 0, 0}, 2);
        NeuronProfile b = new NeuronProfile(1, 1, 2);
        b.count(0, 0, new float[] {1, 1}, 1);
        a.add(b);
        assertEquals(3, a.tokens(0, 0));
        assertArrayEquals(new double[] {2.0 / 3, 1.0 / 3}, a.activationFrequency(0, 0));
        assertEquals(0.5, a.zeroFraction(0, 0));
    }
}

package dev.turbosparse.activations;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

class ZeroCounterTest {

    @Test
    void countsExactZerosPerLayerAndExpertFromArraysAndNdArrays() {
        ZeroCounter c = new ZeroCounter(2, 3);
        float[] h = {0f, 1f, -0f, 2f, 0f, 1e-30f}; // -0 is a zero; a denormal-ish tiny value is not
        try (NDManager m = NDManager.newBaseManager()) {
            c.observe(0, 1, m.create(h, new Shape(2, 3)));
        }
        c.count(0, 1, h, 0, h.length);
        c.count(1, 0, h, 3, 6);
        assertEquals(6, c.zeros(0, 1));
        assertEquals(12, c.elements(0, 1));
        assertEquals(0.5, c.zeroFraction(0, 1), 0);
        assertEquals(1.0 / 3, c.zeroFraction(1, 0), 1e-15);
        assertTrue(Double.isNaN(c.zeroFraction(0, 0)), "an expert with no tokens has no fraction");
        double[] perLayer = c.zeroFractionPerLayer();
        assertArrayEquals(new double[] {0.5, 1.0 / 3}, perLayer, 1e-15);
        c.reset();
        assertTrue(Double.isNaN(c.zeroFractionPerLayer()[0]));
    }

    @Test
    void rejectsIndicesOutsideTheModel() {
        ZeroCounter c = new ZeroCounter(2, 1);
        assertThrows(IndexOutOfBoundsException.class, () -> c.count(2, 0, new float[1], 0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> c.count(0, 1, new float[1], 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ZeroCounter(0, 1));
    }
}

package dev.turbosparse.activations;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FfnActivationTest {

    @Test
    void namesResolveIncludingHuggingFaceAliases() {
        assertSame(FfnActivation.SILU, FfnActivation.byName("silu"));
        assertSame(FfnActivation.SILU, FfnActivation.byName("swish"));
        assertSame(FfnActivation.GELU, FfnActivation.byName("GELU"));
        assertSame(FfnActivation.GELU_PYTORCH_TANH, FfnActivation.byName("gelu_new"));
        assertSame(FfnActivation.RELU, FfnActivation.byName("relu"));
        assertSame(FfnActivation.DRELU, FfnActivation.byName("drelu"));
        assertEquals("relu", FfnActivation.DRELU.hiddenAct());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FfnActivation.byName("tanh"));
        assertTrue(e.getMessage().contains("'tanh'") && e.getMessage().contains("drelu"), e.getMessage());
    }

    @Test
    void scalarValuesMatchKnownFigures() {
        // Reference values from the closed forms in double precision.
        assertEquals(0.7310585786, FfnActivation.silu(1f), 1e-7);
        assertEquals(-0.2689414214, FfnActivation.silu(-1f), 1e-7);
        assertEquals(0.8413447461, FfnActivation.gelu(1f), 1e-7);
        assertEquals(-0.0455002639, FfnActivation.gelu(-2f), 1e-7);
        assertEquals(0.8411919906, FfnActivation.geluTanh(1f), 1e-7);
        assertEquals(0.5204998778, FfnActivation.erf(0.5), 2e-7);
        assertEquals(-0.9953222650, FfnActivation.erf(-2.0), 2e-7);
        assertEquals(0.0, FfnActivation.erf(0.0), 2e-7);
    }

    @Test
    void dreluIsZeroWheneverGateOrUpIsNotPositive() {
        FfnActivation d = FfnActivation.DRELU;
        // -0.0 counts as an exact zero too (== compares them equal), so compare with ==.
        assertTrue(d.apply(-1f, 2f) == 0f);
        assertTrue(d.apply(1f, -2f) == 0f);
        assertTrue(d.apply(0f, 3f) == 0f);
        assertEquals(6f, d.apply(2f, 3f));
        // ReGLU keeps the sign of up: only the gate is rectified.
        assertEquals(-6f, FfnActivation.RELU.apply(2f, -3f));
        assertTrue(FfnActivation.RELU.apply(-2f, -3f) == 0f);
        assertTrue(d.zeroGateMeansZeroOutput() && FfnActivation.RELU.zeroGateMeansZeroOutput());
        assertTrue(!FfnActivation.SILU.zeroGateMeansZeroOutput());
    }

    @ParameterizedTest
    @EnumSource(FfnActivation.class)
    void ndArrayOpMatchesScalarTwin(FfnActivation act) {
        Random rnd = new Random(7);
        int n = 4 * 29; // 29: not a multiple of any vector width
        float[] gate = new float[n];
        float[] up = new float[n];
        for (int i = 0; i < n; i++) {
            gate[i] = (float) (rnd.nextGaussian() * 3);
            up[i] = (float) (rnd.nextGaussian() * 3);
        }
        gate[0] = 0f;
        up[1] = 0f;
        float[] expected = new float[n];
        act.apply(gate, up, expected, n);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray g = m.create(gate, new Shape(4, 29));
            float[] got = act.apply(g, m.create(up, new Shape(4, 29))).toFloatArray();
            for (int i = 0; i < n; i++) {
                float tol = 2e-6f * Math.max(1f, Math.abs(expected[i]));
                assertEquals(expected[i], got[i], tol, act + " at " + i + " gate=" + gate[i] + " up=" + up[i]);
                if (act.zeroGateMeansZeroOutput() && gate[i] <= 0) {
                    assertTrue(got[i] == 0f, act + " must give an exact zero for a non-positive gate, got " + got[i]);
                }
            }
        }
    }

    @Test
    void arrayOpRejectsShortArrays() {
        assertThrows(IllegalArgumentException.class,
                () -> FfnActivation.SILU.apply(new float[2], new float[3], new float[3], 3));
    }
}

package dev.turbosparse.model.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplerTest {

    private static final float[] LOGITS = {1f, 3f, 2.5f, -1f, 0f};

    @Test
    void greedyPicksTheLargestLogit() {
        assertEquals(1, Sampler.greedy().next(LOGITS));
        assertEquals(0, Sampler.argMax(new float[] {2f, 2f}), "first of equal values");
    }

    @Test
    void topKOneIsGreedyWhateverTheTemperature() {
        Sampler s = new Sampler(5.0, 1, 1.0, 3);
        for (int i = 0; i < 50; i++) {
            assertEquals(1, s.next(LOGITS));
        }
    }

    @Test
    void topPKeepsOnlyTheNucleus() {
        // softmax(1, 3, 2.5, -1, 0): token 1 has ~0.56, token 2 ~0.34: p = 0.8 keeps exactly these two.
        Sampler s = new Sampler(1.0, 0, 0.8, 5);
        int[] counts = new int[5];
        for (int i = 0; i < 2000; i++) {
            counts[s.next(LOGITS)]++;
        }
        assertEquals(0, counts[0] + counts[3] + counts[4]);
        double share = counts[1] / 2000.0;
        assertTrue(Math.abs(share - 0.56 / 0.90) < 0.04, "token 1 drawn " + share);
    }

    @Test
    void sameSeedSameTokens() {
        Sampler a = new Sampler(1.0, 0, 1.0, 42);
        Sampler b = new Sampler(1.0, 0, 1.0, 42);
        for (int i = 0; i < 100; i++) {
            assertEquals(a.next(LOGITS), b.next(LOGITS));
        }
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, -2, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, 1.5, 0));
    }
}

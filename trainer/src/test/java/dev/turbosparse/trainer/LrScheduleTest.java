package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LrScheduleTest {

    @Test
    void warmupRisesLinearlyToTheLearningRate() {
        LrSchedule s = new LrSchedule(1e-3, 1e-4, 4, 100, true);
        assertEquals(2.5e-4, s.at(0), 1e-15);
        assertEquals(5e-4, s.at(1), 1e-15);
        assertEquals(1e-3, s.at(3), 1e-15);
    }

    @Test
    void cosineFallsFromTheLearningRateToTheMinimumAtTheLastStep() {
        LrSchedule s = new LrSchedule(5e-5, 5e-6, 10, 110, true);
        assertEquals(5e-5, s.at(10), 1e-18);
        assertEquals((5e-5 + 5e-6) / 2, s.at(10 + 99 / 2.0 == 59.5 ? 59 : 60), 1e-6);
        assertEquals(5e-6, s.at(109), 1e-18);
        for (long t = 11; t < 110; t++) {
            assertTrue(s.at(t) <= s.at(t - 1), "monotone at " + t);
        }
    }

    @Test
    void constantStaysAfterWarmup() {
        LrSchedule s = new LrSchedule(3e-4, 3e-4, 2, 50, false);
        assertEquals(1.5e-4, s.at(0), 1e-15);
        assertEquals(3e-4, s.at(2));
        assertEquals(3e-4, s.at(49));
    }
}

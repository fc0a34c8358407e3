package dev.turbosparse.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Against values CPython 3.11.7 printed for the same calls (the command is in each comment). */
class PythonRandomTest {

    static List<Integer> range(int n) {
        return IntStream.range(0, n).boxed().toList();
    }

    @Test
    void rawOutputOfSeed1234() {
        // r = random.Random(1234); [r.getrandbits(32) for _ in range(3)]
        PythonRandom r = new PythonRandom(1234);
        assertEquals(4150886329L, r.nextUint32());
        assertEquals(3342196574L, r.nextUint32());
        assertEquals(1892932127L, r.nextUint32());
    }

    @Test
    void sampleUsesThePoolAndTheSetAlgorithmsAsCPythonDoes() {
        // r = random.Random(1234); r.sample(range(10), 5), r.sample(range(1000), 25), r.sample(range(40), 8)
        PythonRandom r = new PythonRandom(1234);
        assertEquals(List.of(7, 1, 0, 9, 4), r.sample(range(10), 5));
        assertEquals(List.of(35, 687, 709, 85, 100, 784, 363, 242, 17, 31, 807, 16, 354, 663, 638, 495, 630, 474, 152,
                93, 187, 730, 117, 865, 14), r.sample(range(1000), 25));
        assertEquals(List.of(32, 31, 15, 4, 34, 29, 36, 5), r.sample(range(40), 8));
        // random.Random(2**40 + 7).sample(range(100), 3): a seed of two 32-bit words
        assertEquals(List.of(78, 95, 81), new PythonRandom((1L << 40) + 7).sample(range(100), 3));
    }
}

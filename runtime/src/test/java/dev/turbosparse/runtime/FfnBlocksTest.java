package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.runtime.bench.BenchModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sparse modes go over the FFN in blocks of neurons, each with its own partial output (Decoder#blocks). The
 * parity models have one block (192 neurons); this model has three, the last one short (600 = 256 + 256 + 88).
 */
class FfnBlocksTest {

    @Test
    void blocksGiveTheSameBitsOnOneThreadAsOnTwoAndExactStaysDense(@TempDir Path dir) throws IOException {
        String json = Files.readString(Path.of("../configs/models/tiny-mistral-drelu.json"), StandardCharsets.UTF_8)
                .replace("\"intermediate_size\": 192", "\"intermediate_size\": 600");
        ModelConfig config = ConfigIO.parse("tiny-mistral-drelu.json", json.getBytes(StandardCharsets.UTF_8));
        assertEquals(600, config.intermediateSize());
        BenchModel.write(config, 0.9, 0.3, 4, DType.F32, 3, dir, done -> { });
        int[] ids = {1, 415, 2936, 9060, 285, 1142, 28723, 5, 17, 300};
        try (RuntimeModel m = RuntimeLoader.load(dir)) {
            float[][] dense = logits(m, Decoder.Mode.DENSE, 2, ids);
            float[][] exact1 = logits(m, Decoder.Mode.EXACT, 1, ids);
            float[][] exact2 = logits(m, Decoder.Mode.EXACT, 2, ids);
            float[][] predicted1 = logits(m, Decoder.Mode.PREDICTED, 1, ids);
            float[][] predicted2 = logits(m, Decoder.Mode.PREDICTED, 2, ids);
            double max = 0;
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < dense[t].length; v++) {
                    assertEquals(Float.floatToIntBits(exact1[t][v]), Float.floatToIntBits(exact2[t][v]),
                            "exact, one thread against two, position " + t + ", logit " + v);
                    assertEquals(Float.floatToIntBits(predicted1[t][v]), Float.floatToIntBits(predicted2[t][v]),
                            "predicted, one thread against two, position " + t + ", logit " + v);
                    max = Math.max(max, Math.abs(dense[t][v] - exact2[t][v]));
                }
            }
            // dense reads the folder's row-major down projection, exact the neuron-major copy: other sums, same model
            assertTrue(max <= 1e-5, "exact differs from dense by " + max);
            try (Decoder d = new Decoder(m, Decoder.Mode.EXACT, ids.length, 2, Float.NaN)) {
                d.logits(ids);
                assertTrue(d.neuronShare() > 0.02 && d.neuronShare() < 0.2, "exact's share of down rows: "
                        + d.neuronShare());
            }
        }
    }

    @Test
    void aBlockListsEachOfItsNeuronsOnceAQuarterOfTheBlockApart() {
        for (int[] range : new int[][] {{0, 256}, {512, 600}, {7, 10}, {3, 3}, {100, 117}}) {
            int lo = range[0];
            int hi = range[1];
            int[] order = Decoder.quarterOrder(lo, hi);
            int[] sorted = order.clone();
            Arrays.sort(sorted);
            assertEquals(Arrays.toString(IntStream.range(lo, hi).toArray()),
                    Arrays.toString(sorted), "every neuron of [" + lo + ", " + hi + ") once");
            int q = (hi - lo) / 4;
            for (int g = 0; g + 4 <= 4 * q; g += 4) { // four listed in turn: one from each quarter
                for (int s = 0; s < 4; s++) {
                    assertEquals(lo + s * q + g / 4, order[g + s], "[" + lo + ", " + hi + ") at " + (g + s));
                }
            }
        }
    }

    private static float[][] logits(RuntimeModel m, Decoder.Mode mode, int threads, int[] ids) {
        try (Decoder d = new Decoder(m, mode, ids.length, threads, Float.NaN)) {
            return d.logits(ids);
        }
    }
}

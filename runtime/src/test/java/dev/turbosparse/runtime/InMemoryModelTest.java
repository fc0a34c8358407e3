package dev.turbosparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A model read into the process's own memory ({@link RuntimeModel#inMemory}) decodes as the mapped one does. */
class InMemoryModelTest {

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral"})
    void theCopyGivesTheMappedModelsLogitsBitForBitAndReleasesTheFile(String fixture) {
        int[] ids = RuntimeParityTest.inputs(fixture)[0];
        float[][] mapped;
        try (RuntimeModel m = RuntimeLoader.load(RuntimeParityTest.parity(fixture));
                Decoder d = new Decoder(m, Decoder.Mode.DENSE, ids.length, 2, Float.NaN)) {
            mapped = d.logits(ids);
        }
        RuntimeModel m = RuntimeLoader.load(RuntimeParityTest.parity(fixture));
        List<MemorySegment> before = m.weightSegments();
        long total = before.stream().mapToLong(MemorySegment::byteSize).sum();
        List<Long> progress = new ArrayList<>();
        try (RuntimeModel copy = m.inMemory(progress::add);
                Decoder d = new Decoder(copy, Decoder.Mode.DENSE, ids.length, 2, Float.NaN)) {
            float[][] got = d.logits(ids);
            for (int t = 0; t < ids.length; t++) {
                for (int v = 0; v < got[t].length; v++) {
                    assertEquals(Float.floatToIntBits(mapped[t][v]), Float.floatToIntBits(got[t][v]),
                            fixture + ", position " + t + ", logit " + v);
                }
            }
            List<MemorySegment> after = copy.weightSegments();
            assertEquals(before.size(), after.size(), "one copy per matrix");
            for (MemorySegment s : after) {
                assertFalse(s.isMapped(), "a copy is the process's own memory, not the file's");
            }
            assertEquals(total, progress.getLast(), "progress counts every byte copied");
            assertEquals(after.size(), progress.size(), "progress after each matrix");
        }
        // the mapped file was released once copied
        assertThrows(IllegalStateException.class, () -> before.getFirst().get(ValueLayout.JAVA_BYTE, 0));
    }
}

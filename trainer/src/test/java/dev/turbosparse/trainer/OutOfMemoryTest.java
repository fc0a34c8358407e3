package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real allocation failure of torch is recognised and explained with a micro-batch that keeps the step's size. */
class OutOfMemoryTest {

    @TempDir
    Path dir;

    @Test
    void torchsAllocationFailureBecomesAdvice() throws Exception {
        EngineException e;
        try (NDManager m = NDManager.newBaseManager()) {
            // 2^44 floats: 64 TiB, more than any machine that runs this test has
            e = assertThrows(EngineException.class, () -> m.zeros(new Shape(1L << 44), DataType.FLOAT32));
        }
        assertTrue(OutOfMemory.is(e), e.getMessage());
        Path f = dir.resolve("r.yaml");
        Files.writeString(f, RecipeTest.GOOD);
        Recipe r = Recipe.read(f, List.of());
        String message = OutOfMemory.explain(e, r, 7).getMessage();
        assertTrue(message.startsWith("step 7: out of device memory ("), message);
        assertTrue(message.contains("--set micro_batch=2 --set grad_accumulation=4"), message);
        assertTrue(!message.contains("\n"), "one line: " + message);
    }

    @Test
    void otherFailuresAreNotMistakenForIt() {
        assertTrue(!OutOfMemory.is(new EngineException("shape mismatch: [2, 3] vs [3, 2]")));
        assertTrue(OutOfMemory.is(new OutOfMemoryError("Java heap space")));
    }
}

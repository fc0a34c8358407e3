package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SwapCommandTest {

    @Test
    void swapsSwiGluForDreluAndChangesTheLogitsNotTheWeights(@TempDir Path dir) throws Exception {
        Path src = CliRun.parity("mistral");
        Path out = dir.resolve("drelu");
        CliRun run = CliRun.of("swap", "--model", src.toString(), "--activation", "drelu", "--out", out.toString());
        assertEquals(0, run.exit(), run.err());
        assertArrayEquals(Files.readAllBytes(src.resolve("model.safetensors")),
                Files.readAllBytes(out.resolve("model.safetensors")));
        assertTrue(CliRun.of("inspect", "--model", out.toString()).out()
                .contains("ffn          dReLU (hidden_act relu, ffn_activation drelu)"));
        String before = CliRun.of("logits", "--model", src.toString(), "--tokens", "5,6,7", "--format", "json").out();
        String after = CliRun.of("logits", "--model", out.toString(), "--tokens", "5,6,7", "--format", "json").out();
        assertNotEquals(before, after, "the FFN now computes relu(gate) * relu(up)");

        run = CliRun.of("swap", "--model", out.toString(), "--activation", "relu", "--out", out.toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("pass --force"), run.err());
        run = CliRun.of("swap", "--model", out.toString(), "--activation", "tanh", "--out", dir.resolve("x").toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("unknown FFN activation 'tanh'"), run.err());
    }
}

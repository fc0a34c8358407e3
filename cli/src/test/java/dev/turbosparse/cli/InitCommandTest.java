package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InitCommandTest {

    @Test
    void writesASeededCheckpointThatLoadsAndRefusesToOverwrite(@TempDir Path dir) throws Exception {
        Path config = CliRun.root().resolve("configs/models/tiny-mistral-drelu.json");
        Path a = dir.resolve("a");
        CliRun run = CliRun.of("init", "--config", config.toString(), "--out", a.toString(), "--seed", "1",
                "--tokenizer", CliRun.root().resolve("testdata/tokenizers/mistral-v0.1").toString());
        assertEquals(0, run.exit(), run.err());
        assertArrayEquals(Files.readAllBytes(CliRun.tinyModel().resolve("model.safetensors")),
                Files.readAllBytes(a.resolve("model.safetensors")), "the bundled model is this command's output");

        CliRun inspect = CliRun.of("inspect", "--model", a.toString(), "--format", "json");
        assertEquals(2_146_624, JsonMapper.builder().build().readTree(inspect.out()).get("parameters").get("total").asLong());
        CliRun logits = CliRun.of("logits", "--model", a.toString(), "--tokens", "1,22557", "--format", "json");
        assertEquals(0, logits.exit(), logits.err());

        run = CliRun.of("init", "--config", config.toString(), "--out", a.toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("already holds a checkpoint; pass --force"), run.err());

        Path f32 = dir.resolve("f32");
        run = CliRun.of("init", "--config", config.toString(), "--out", f32.toString(), "--dtype", "f32",
                "--max-shard-bytes", "3000000");
        assertEquals(0, run.exit(), run.err());
        assertTrue(Files.exists(f32.resolve("model.safetensors.index.json")), "8.6 MB of f32 in 3 MB shards");

        run = CliRun.of("init", "--config", config.toString(), "--out", dir.resolve("x").toString(), "--dtype", "int4");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("unknown weight type 'int4'"), run.err());

        // A tokenizer larger than the config's vocabulary is refused before anything is written.
        Path small = dir.resolve("small.json");
        Files.writeString(small, Files.readString(config).replace("\"vocab_size\": 32000", "\"vocab_size\": 1000"));
        Path partial = dir.resolve("partial");
        run = CliRun.of("init", "--config", small.toString(), "--out", partial.toString(), "--tokenizer",
                CliRun.root().resolve("testdata/tokenizers/mistral-v0.1").toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("more than the config's vocab_size 1000"), run.err());
        assertTrue(!Files.exists(partial), "no folder is made for a refused init");
    }
}

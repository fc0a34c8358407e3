package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** prepare and mixture, end to end on the bundled web/code/math sample. */
class DataCommandsTest {

    @TempDir
    static Path dir;
    private static Path data;

    @BeforeAll
    static void prepareTheBundledSample() {
        data = dir.resolve("data");
        // The demo mixture definition names the sample's sources; the output goes to a temporary folder.
        CliRun run = CliRun.of("prepare", "--config", CliRun.root().resolve("configs/mixtures/demo.yaml").toString(),
                "--seq-len", "128", "--out", data.toString());
        assertEquals(0, run.exit(), run.err());
        List<String> lines = run.out().lines().toList();
        assertTrue(lines.get(0).startsWith("source"), run.out());
        assertTrue(lines.get(1).startsWith("web") && lines.get(2).startsWith("code") && lines.get(3).startsWith("math"),
                run.out());
    }

    @Test
    void preparedSourcesHaveManifestsAndShards() {
        for (String s : List.of("web", "code", "math")) {
            assertTrue(Files.exists(data.resolve(s).resolve("manifest.json")), s);
            assertTrue(Files.exists(data.resolve(s).resolve("train-00000.arrow")), s);
        }
    }

    @Test
    void mixtureJsonContractGivesProportionsAndEpochs() throws Exception {
        CliRun run = CliRun.of("mixture", "--data", data.toString(), "--weights", "web=0.7,code=0.2,math=0.1",
                "--sequences", "10000", "--seed", "3", "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode json = JsonMapper.builder().build().readTree(run.out());
        assertEquals(2, json.size(), "exactly proportions and epochs: " + run.out());
        assertEquals(0.7, json.get("proportions").get("web").asDouble(), 0.01);
        assertEquals(0.2, json.get("proportions").get("code").asDouble(), 0.01);
        assertEquals(0.1, json.get("proportions").get("math").asDouble(), 0.01);
        assertTrue(json.get("epochs").get("web").asDouble() > 1, "7,000 sequences repeat the small web sample");
        assertTrue(run.err().contains("source 'web' is repeated"), "repetition is never silent: " + run.err());
    }

    @Test
    void theDemoConfigDrivesTheMixtureToo() throws Exception {
        CliRun run = CliRun.of("mixture", "--config", CliRun.root().resolve("configs/mixtures/demo.yaml").toString(),
                "--data", data.toString(), "--sequences", "1000", "--format", "json");
        assertEquals(0, run.exit(), run.err());
        JsonNode json = JsonMapper.builder().build().readTree(run.out());
        assertEquals(0.7, json.get("proportions").get("web").asDouble(), 0.01);
    }

    @Test
    void badMixturesAndInputsGiveOneLine() {
        CliRun run = CliRun.of("mixture", "--data", data.toString(), "--weights", "web=0.7,code=0", "--sequences", "10");
        assertEquals(1, run.exit());
        assertEquals("mixture: the weight of source 'code' must be a positive number, got 0.0", run.errorLine());
        run = CliRun.of("mixture", "--data", data.toString(), "--weights", "web=1,books=1", "--sequences", "10");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().startsWith("mixture: source 'books' was never prepared under "), run.err());
        run = CliRun.of("prepare", "--input", "web=" + dir.resolve("nowhere"), "--tokenizer",
                CliRun.root().resolve("testdata/tokenizers/mistral-v0.1").toString(), "--seq-len", "8", "--out",
                dir.resolve("x").toString());
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().startsWith("prepare: source 'web': ") && run.errorLine().endsWith("nowhere not found"),
                run.err());
        run = CliRun.of("prepare", "--input", "web", "--tokenizer", "t", "--seq-len", "8", "--out", "o");
        assertEquals(2, run.exit(), "NAME=URI is required: " + run.err());
    }
}

package dev.turbosparse.data.mixture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.TestData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixtureConfigTest {

    private static Path configs() {
        return TestData.root().getParent().resolve("configs/mixtures");
    }

    @Test
    void theDemoMixtureNamesTheBundledSample() {
        MixtureConfig c = MixtureConfig.read(configs().resolve("demo.yaml"));
        assertEquals(256, c.seqLen());
        assertEquals(java.util.List.of("web", "code", "math"), java.util.List.copyOf(c.sources().keySet()));
        for (MixtureConfig.Source s : c.sources().values()) {
            assertTrue(Files.isDirectory(Path.of(s.input())), s.input());
        }
        assertTrue(Files.isRegularFile(Path.of(c.tokenizer()).resolve("tokenizer.json")), c.tokenizer());
        assertEquals(0.7, c.spec().targets().get("web"), 1e-12);
    }

    @Test
    void thePaperMixtureUsesThePapersDatasetsAndSequenceLength() {
        MixtureConfig c = MixtureConfig.read(configs().resolve("paper.yaml"));
        assertEquals(4096, c.seqLen());
        assertTrue(c.sources().keySet().containsAll(java.util.List.of("wanjuan-cc", "open-web-math", "pes2o", "pile",
                "the-stack", "github-code")));
        assertEquals(1.0, c.spec().targets().values().stream().mapToDouble(Double::doubleValue).sum(), 1e-12);
        assertTrue(c.data().startsWith("hdfs://"), "URIs are kept as they are");
    }

    @Test
    void unknownKeysAndWrongTypesAreNamed(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("m.yaml");
        Files.writeString(f, "tokenizer: t\nseq_len: 8\ndata: d\nsources:\n  web:\n    weight: 1\n    input: x\n    wieght: 2\n");
        DataException e = assertThrows(DataException.class, () -> MixtureConfig.read(f));
        assertTrue(e.getMessage().contains("key 'sources.web.wieght'"), e.getMessage());
        Files.writeString(f, "tokenizer: t\nseq_len: long\ndata: d\nsources:\n  web: {weight: 1, input: x}\n");
        e = assertThrows(DataException.class, () -> MixtureConfig.read(f));
        assertTrue(e.getMessage().contains("key 'seq_len'"), e.getMessage());
        Files.writeString(f, "tokenizer: t\nseq_len: 8\ndata: d\nsources:\n  web: {input: x}\n");
        e = assertThrows(DataException.class, () -> MixtureConfig.read(f));
        assertTrue(e.getMessage().contains("weight"), e.getMessage());
    }
}

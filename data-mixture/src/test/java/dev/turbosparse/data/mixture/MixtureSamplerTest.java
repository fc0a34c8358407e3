package dev.turbosparse.data.mixture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.TestData;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.prepare.PrepareSettings;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixtureSamplerTest {

    private static final Configuration CONF = Fs.configuration();
    @TempDir
    static Path dir;
    private static Path data;

    static Path corpus(String name, int docs, String word) throws IOException {
        Path src = Files.createDirectories(dir.resolve("raw").resolve(name));
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < docs; i++) {
            b.append("{\"text\": \"").append(word).append(' ').append(i).append(' ')
                    .append((word + " ").repeat(3 + i % 5)).append("\"}\n");
        }
        Files.writeString(src.resolve("part.jsonl"), b);
        return src;
    }

    @BeforeAll
    static void prepare() throws IOException {
        data = dir.resolve("data");
        Map<String, String> sources = new LinkedHashMap<>();
        sources.put("web", corpus("web", 600, "web").toString());
        sources.put("code", corpus("code", 300, "code").toString());
        sources.put("math", corpus("math", 60, "math").toString());
        try (Tokenizer t = TestData.tokenizer()) {
            PrepareSettings s = new PrepareSettings(15, null, "text", List.of(), List.of(), null, true, 0.05, 7, false,
                    false, false);
            new Preparer(CONF, s, data.toString(), t, null).prepare(sources);
        }
    }

    private static MixtureSampler open(String weights, long seed) {
        return MixtureSampler.open(data.toString(), MixtureSpec.parse(weights, 1.0), seed, CONF);
    }

    @Test
    void realisedProportionsTrackTheTargetsWithinOnePercent() {
        MixtureSampler s = open("web=0.7,code=0.2,math=0.1", 1);
        for (int i = 0; i < 100; i++) {
            s.next(100);
        }
        MixtureReport r = s.report();
        assertEquals(10_000, r.sequences());
        assertTrue(r.maxDeviation() < 0.01, "max deviation " + r.maxDeviation() + " in " + r.sources());
        assertTrue(r.maxDeviation() < 0.001, "the deficit rule keeps it within a few sequences: " + r.maxDeviation());
        assertTrue(r.sources().get("math").epochs() > 10, "math is small: it is repeated, and that is reported");
        MixtureReport.Source web = r.sources().get("web");
        assertEquals(web.sequences() * 16, web.tokens());
    }

    @Test
    void temperatureFlattensTheTargets() {
        Map<String, Double> t = MixtureSpec.parse("web=0.7,code=0.2,math=0.1", 2.0).targets();
        double norm = Math.sqrt(0.7) + Math.sqrt(0.2) + Math.sqrt(0.1);
        assertEquals(Math.sqrt(0.1) / norm, t.get("math"), 1e-12);
        assertTrue(t.get("math") > 0.1);
    }

    @Test
    void sameSeedSameStreamAnotherSeedAnother() {
        int[] a = open("web=0.5,code=0.3,math=0.2", 7).next(500);
        int[] b = open("web=0.5,code=0.3,math=0.2", 7).next(500);
        int[] c = open("web=0.5,code=0.3,math=0.2", 8).next(500);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
    }

    @Test
    void resumingFromASavedStateContinuesTheIdenticalStream() {
        MixtureSampler whole = open("web=0.5,code=0.3,math=0.2", 3);
        MixtureSampler first = open("web=0.5,code=0.3,math=0.2", 3);
        for (int i = 0; i < 37; i++) {
            assertArrayEquals(whole.next(13), first.next(13));
        }
        SamplerState saved = first.state();
        MixtureSampler resumed = open("web=0.5,code=0.3,math=0.2", 3);
        resumed.restore(saved);
        for (int i = 0; i < 50; i++) {
            assertArrayEquals(whole.next(13), resumed.next(13), "batch " + (37 + i) + " after resume");
        }
        assertThrows(DataException.class, () -> open("web=0.5,code=0.3,math=0.2", 4).restore(saved));
        assertThrows(DataException.class, () -> open("web=0.6,code=0.2,math=0.2", 3).restore(saved));
    }

    @Test
    void everyEpochVisitsEverySequenceOnce() {
        MixtureSampler s = MixtureSampler.open(data.toString(), MixtureSpec.parse("math=1", 1.0), 5, CONF);
        long n = s.manifest("math").sequences();
        int w = s.width();
        for (int epoch = 0; epoch < 3; epoch++) {
            int[] rows = s.next((int) n);
            Set<String> seen = new HashSet<>();
            for (int r = 0; r < n; r++) {
                seen.add(Arrays.toString(Arrays.copyOfRange(rows, r * w, (r + 1) * w)));
            }
            assertEquals(n, seen.size(), "epoch " + epoch + " is a permutation of the source");
        }
        assertEquals(3.0, s.report().sources().get("math").epochs(), 1e-12);
    }

    @Test
    void heldOutSequencesAreApartFromTraining() {
        MixtureSampler s = open("web=1", 1);
        Manifest m = s.manifest("web");
        assertTrue(m.heldout().sequences() > 0, "5% of 600 documents are held out");
        int[] held = s.heldout("web", 1000);
        assertEquals(m.heldout().sequences() * 16, held.length);
    }

    @Test
    void badMixturesAreRefused() {
        assertTrue(assertThrows(DataException.class, () -> MixtureSpec.parse("web=0.7,code=0", 1)).getMessage()
                .contains("the weight of source 'code' must be a positive number, got 0.0"));
        assertTrue(assertThrows(DataException.class, () -> MixtureSpec.parse("web=NaN", 1)).getMessage()
                .contains("'web' must be a positive number, got NaN"));
        assertTrue(assertThrows(DataException.class, () -> MixtureSpec.parse("web=-1", 1)).getMessage()
                .contains("got -1.0"));
        assertTrue(assertThrows(DataException.class, () -> MixtureSpec.parse("web=x", 1)).getMessage()
                .contains("is not a number: 'x'"));
        assertTrue(assertThrows(DataException.class, () -> MixtureSpec.parse("web=1", 0)).getMessage()
                .contains("temperature must be a positive number"));
        DataException e = assertThrows(DataException.class, () -> open("web=0.5,books=0.5", 1));
        assertTrue(e.getMessage().startsWith("source 'books' was never prepared under "), e.getMessage());
    }
}

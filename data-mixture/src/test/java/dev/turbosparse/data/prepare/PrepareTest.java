package dev.turbosparse.data.prepare;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.TestData;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.shard.Shards;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrepareTest {

    private static Tokenizer tokenizer;
    private static final Configuration CONF = Fs.configuration();

    @BeforeAll
    static void load() {
        tokenizer = TestData.tokenizer();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    static String doc(int i) {
        return "Document number " + i + " talks about sparse activations, ReLU and the speed of decoding. "
                + "x".repeat(i % 7) + " The end of " + i + ".";
    }

    /** A JSONL corpus of n documents split over two files, plus bad lines in the second file. */
    static Path jsonlCorpus(Path dir, int n) throws IOException {
        Path src = Files.createDirectories(dir.resolve("web"));
        StringBuilder a = new StringBuilder();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String line = "{\"id\": " + i + ", \"text\": \"" + doc(i) + "\"}\n";
            (i < n / 2 ? a : b).append(line);
        }
        Files.writeString(src.resolve("part-0.jsonl"), a);
        Files.writeString(src.resolve("part-1.jsonl"), b);
        return src;
    }

    private static Preparer preparer(Path out, PrepareSettings s) {
        return new Preparer(CONF, s, out.toString(), tokenizer, null);
    }

    private static PrepareSettings settings(int seqLen, double heldout, int shardSequences, boolean keepTokens) {
        return new PrepareSettings(seqLen, null, "text", List.of(), List.of(), null, true, heldout, shardSequences,
                false, keepTokens, false);
    }

    private static int[] readAll(Path sourceDir, Manifest m, List<Manifest.Shard> shards) {
        FileSystem fs = Fs.fs(Fs.path(sourceDir.toString()), CONF);
        List<Integer> all = new ArrayList<>();
        for (Manifest.Shard s : shards) {
            for (int t : Shards.read(fs, Fs.path(sourceDir.resolve(s.file()).toString()), s.sha256(), s.sequences(),
                    m.seqLen(), m.tokenizer().sha256())) {
                all.add(t);
            }
        }
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void packsDocumentsWithBosAndEosIntoFullSequencesAcrossShards(@TempDir Path dir) throws IOException {
        Path src = jsonlCorpus(dir, 40);
        Path out = dir.resolve("out");
        Manifest m = preparer(out, settings(31, 0, 5, false)).prepare(Map.of("web", src.toString())).get("web");
        // The expected stream: <s> doc </s> for every document, in file order.
        List<Integer> stream = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            stream.add(1);
            for (long id : tokenizer.encode(doc(i), false, false)) {
                stream.add((int) id);
            }
            stream.add(2);
        }
        int width = 32;
        assertEquals(40, m.documents());
        assertEquals(stream.size(), m.tokens());
        assertEquals(stream.size() / width, m.sequences());
        assertEquals(stream.size() % width, m.droppedTokens(), "the tail short of a sequence is counted, not padded");
        assertEquals((m.sequences() + 4) / 5, m.shards().size(), "5 sequences per shard");
        int[] packed = readAll(out.resolve("web"), m, m.shards());
        for (int i = 0; i < packed.length; i++) {
            assertEquals(stream.get(i), packed[i], "token " + i);
        }
        assertTrue(m.tokenizer().sha256().equals(tokenizer.fingerprint()));
        assertEquals(0, m.skipped().records());
        assertTrue(!Files.exists(out.resolve("web/_tokens")), "intermediate token files are removed");
    }

    @Test
    void sameInputsGiveByteIdenticalShardsAndManifests(@TempDir Path dir) throws IOException {
        Path src = jsonlCorpus(dir, 60);
        Map<String, byte[]> a = prepareAndRead(src, dir.resolve("a"));
        Map<String, byte[]> b = prepareAndRead(src, dir.resolve("b"));
        assertEquals(a.keySet(), b.keySet());
        a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k));
        assertTrue(a.keySet().stream().anyMatch(k -> k.startsWith("heldout-")), "a held-out split: " + a.keySet());
    }

    private static Map<String, byte[]> prepareAndRead(Path src, Path out) throws IOException {
        preparer(out, settings(15, 0.1, 8, false)).prepare(Map.of("web", src.toString()));
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(out.resolve("web"))) {
            for (Path p : s.toList()) {
                files.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return files;
    }

    @Test
    void aRerunReusesTokenizedFilesAndRestoresADamagedOutput(@TempDir Path dir) throws IOException {
        Path src = jsonlCorpus(dir, 60);
        Path out = dir.resolve("out");
        preparer(out, settings(15, 0.1, 8, true)).prepare(Map.of("web", src.toString()));
        Map<String, byte[]> first = new TreeMap<>();
        try (Stream<Path> s = Files.list(out.resolve("web"))) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                first.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        // A crash after the first shard: the manifest and the later shards are gone, a temporary file is left.
        Files.delete(out.resolve("web/manifest.json"));
        Files.delete(out.resolve("web/train-00001.arrow"));
        Files.writeString(out.resolve("web/_tmp.train-00002.arrow.123"), "half a shard");
        Files.write(out.resolve("web/train-00002.arrow"), new byte[] {1, 2, 3});
        List<String> reused = new ArrayList<>();
        new Preparer(CONF, settings(15, 0.1, 8, true), out.toString(), tokenizer, null)
                .prepare(Map.of("web", src.toString()));
        try (Stream<Path> s = Files.list(out.resolve("web"))) {
            for (Path p : s.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().startsWith("_"))
                    .toList()) {
                assertArrayEquals(first.get(p.getFileName().toString()), Files.readAllBytes(p), p.toString());
            }
        }
        // A complete, verified source is skipped whole.
        Preparer again = new Preparer(CONF, settings(15, 0.1, 8, true), out.toString(), tokenizer, new Preparer.Listener() {
            @Override
            public void done(SourcePlan plan, Manifest manifest, boolean wasReused) {
                reused.add(plan.name() + "=" + wasReused);
            }
        });
        again.prepare(Map.of("web", src.toString()));
        assertEquals(List.of("web=true"), reused);
    }

    @Test
    void badRecordsAreCountedWithFileAndLineOrFailUnderStrict(@TempDir Path dir) throws IOException {
        Path src = Files.createDirectories(dir.resolve("web"));
        byte[] notUtf8 = {'{', '"', 't', 'e', 'x', 't', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}', '\n'};
        try (OutputStream o = Files.newOutputStream(src.resolve("a.jsonl"))) {
            o.write("{\"text\": \"good one\"}\n".getBytes(StandardCharsets.UTF_8));
            o.write("{\"text\": \"broken\n".getBytes(StandardCharsets.UTF_8));
            o.write("{\"body\": \"no text field\"}\n".getBytes(StandardCharsets.UTF_8));
            o.write(notUtf8);
            o.write("\n".getBytes(StandardCharsets.UTF_8));
            o.write("[1, 2]\n{\"text\": 42}\n{\"text\": \"\"}\n{\"text\": \"good two\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        Manifest m = preparer(dir.resolve("out"), settings(3, 0, 0, false)).prepare(Map.of("web", src.toString()))
                .get("web");
        assertEquals(2, m.documents());
        assertEquals(6, m.skipped().records());
        Map<String, Long> byReason = m.skipped().byReason();
        assertEquals(1L, byReason.get("malformed JSON"));
        assertEquals(1L, byReason.get("no field 'text'"));
        assertEquals(1L, byReason.get("not valid UTF-8"));
        assertEquals(1L, byReason.get("not a JSON object"));
        assertEquals(1L, byReason.get("field 'text' is not a string"));
        assertEquals(1L, byReason.get("empty text"));
        assertEquals("a.jsonl", m.skipped().first().get(0).file());
        assertEquals(2, m.skipped().first().get(0).line());
        assertEquals(4, m.skipped().first().get(2).line(), "the UTF-8 line, blank line 5 is not a record");

        PrepareSettings strict = new PrepareSettings(3, null, "text", List.of(), List.of(), null, true, 0, 0, true,
                false, false);
        DataException e = assertThrows(DataException.class,
                () -> preparer(dir.resolve("strict"), strict).prepare(Map.of("web", src.toString())));
        assertTrue(e.getMessage().startsWith("a.jsonl:2: malformed JSON"), e.getMessage());
    }

    @Test
    void anEmptySourceIsAnError(@TempDir Path dir) throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        DataException e = assertThrows(DataException.class,
                () -> preparer(dir.resolve("out"), settings(8, 0, 0, false)).prepare(Map.of("web", empty.toString())));
        assertTrue(e.getMessage().contains("source 'web': no files under"), e.getMessage());
        Files.writeString(empty.resolve("a.jsonl"), "{\"text\": \"\"}\n\n");
        e = assertThrows(DataException.class,
                () -> preparer(dir.resolve("out"), settings(8, 0, 0, false)).prepare(Map.of("web", empty.toString())));
        assertTrue(e.getMessage().contains("source 'web': no documents in 1 file(s)")
                && e.getMessage().contains("empty text=1"), e.getMessage());
    }

    @Test
    void gzipAndZstdJsonlAndTextFoldersWithGlobs(@TempDir Path dir) throws IOException {
        Path src = Files.createDirectories(dir.resolve("mixed"));
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(src.resolve("a.jsonl.gz")))) {
            o.write("{\"text\": \"from gzip\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        try (OutputStream o = new com.github.luben.zstd.ZstdOutputStream(Files.newOutputStream(src.resolve("b.jsonl.zst")))) {
            o.write("{\"text\": \"from zstd\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        Manifest m = preparer(dir.resolve("out"), settings(2, 0, 0, false)).prepare(Map.of("web", src.toString()))
                .get("web");
        assertEquals("jsonl", m.input().format());
        assertEquals(2, m.documents());

        Path code = Files.createDirectories(dir.resolve("code/pkg/tests"));
        Files.writeString(dir.resolve("code/pkg/a.py"), "def f():\n    return 1\n");
        Files.writeString(dir.resolve("code/pkg/b.py"), "def g():\n    return 2\n");
        Files.writeString(code.resolve("test_a.py"), "assert f() == 1\n");
        Files.writeString(dir.resolve("code/pkg/notes.txt"), "not code\n");
        Files.write(dir.resolve("code/pkg/blob.py"), new byte[] {'x', 0, 1, 2});
        Files.writeString(dir.resolve("code/pkg/.hidden.py"), "secret = 1\n");
        PrepareSettings globs = new PrepareSettings(2, null, "text", List.of("**.py"), List.of("**/tests/**"), null,
                true, 0, 0, false, false, false);
        Manifest c = preparer(dir.resolve("out"), globs).prepare(new LinkedHashMap<>(Map.of("code",
                dir.resolve("code").toString()))).get("code");
        assertEquals("text", c.input().format());
        assertEquals(3, c.input().files(), "a.py, b.py, blob.py: tests/, notes.txt and hidden files left out");
        assertEquals(2, c.documents());
        assertEquals(1L, c.skipped().byReason().get("binary file"));
    }
}

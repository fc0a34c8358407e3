package dev.turbosparse.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.TestData;
import dev.turbosparse.model.io.ModelFormatException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SafetensorsTest {

    @Test
    void readsTheParityFixture() {
        try (SafetensorsFile f = SafetensorsFile.open(TestData.parity("mistral").resolve("model.safetensors"))) {
            assertEquals("pt", f.metadata().get("format"));
            TensorInfo q = f.info("model.layers.0.self_attn.q_proj.weight");
            assertEquals(DType.BF16, q.dtype());
            assertTrue(q.hasShape(64, 64));
            TensorInfo embed = f.info("model.embed_tokens.weight");
            assertTrue(embed.hasShape(512, 64));
            float[] norm = f.readFloats("model.norm.weight");
            assertEquals(64, norm.length);
            double mean = 0;
            for (float v : norm) {
                mean += v / norm.length;
            }
            assertEquals(1.0, mean, 0.05, "RMSNorm weights are drawn as 1 + 0.1 N(0,1)");
        }
        try (SafetensorsFile ref = SafetensorsFile.open(TestData.parity("mistral").resolve("reference.safetensors"))) {
            long[] ids = ref.readLongs("input_ids");
            assertEquals(40, ids.length);
            assertEquals(462, ids[0], "first input id of reference.json");
        }
    }

    @Test
    void bf16RoundsToNearestEvenLikeTorch() {
        assertEquals((short) 0x3F80, DType.floatToBf16(1.0f));
        assertEquals((short) 0x3F80, DType.floatToBf16(1.00390625f), "halfway rounds to the even 1.0");
        assertEquals((short) 0x3F82, DType.floatToBf16(1.01171875f), "halfway rounds to the even 0x3F82");
        assertEquals((short) 0x3F81, DType.floatToBf16(1.0079f));
        assertEquals((short) 0x7F80, DType.floatToBf16(Float.POSITIVE_INFINITY));
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.NaN))));
        assertEquals(-2.5f, DType.bf16ToFloat(DType.floatToBf16(-2.5f)));
    }

    /** Writes every tensor of the fixture converted to {@code dtype}; returns the raw bytes per tensor. */
    private static List<SafetensorsWriter.Entry> fixtureAs(SafetensorsFile src, DType dtype, Arena arena) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (TensorInfo t : src.tensors().values()) {
            MemorySegment f32 = arena.allocate(t.numel() * 4);
            src.readFloat32(t, f32);
            entries.add(new SafetensorsWriter.Entry(t.name(), dtype, t.shape(),
                    TensorSources.fromFloat32(f32, t.numel(), dtype)));
        }
        return entries;
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16"})
    void loadSaveLoadIsBitIdenticalSingleAndSharded(DType dtype, @TempDir Path dir) throws IOException {
        Path first = dir.resolve("first");
        try (Arena arena = Arena.ofConfined();
                SafetensorsFile src = SafetensorsFile.open(TestData.parity("mixtral").resolve("model.safetensors"))) {
            SafetensorsWriter.writeCheckpoint(first, fixtureAs(src, dtype, arena), Long.MAX_VALUE,
                    SafetensorsWriter.PT_METADATA);
        }
        assertTrue(Files.exists(first.resolve("model.safetensors")));
        Path sharded = dir.resolve("sharded");
        Path again = dir.resolve("again");
        try (SafetensorsCheckpoint a = SafetensorsCheckpoint.open(first)) {
            SafetensorsWriter.writeCheckpoint(sharded, rawEntries(a), 40_000, SafetensorsWriter.PT_METADATA);
            try (SafetensorsCheckpoint s = SafetensorsCheckpoint.open(sharded)) {
                assertTrue(s.files().size() > 3, "40 kB shards split the model: " + s.files().size());
                assertSameTensors(a, s);
                SafetensorsWriter.writeCheckpoint(again, rawEntries(s), Long.MAX_VALUE, SafetensorsWriter.PT_METADATA);
            }
            try (SafetensorsCheckpoint b = SafetensorsCheckpoint.open(again)) {
                assertSameTensors(a, b);
            }
        }
        assertArrayEquals(Files.readAllBytes(first.resolve("model.safetensors")),
                Files.readAllBytes(again.resolve("model.safetensors")), "the writer is deterministic");
        assertTrue(Files.exists(sharded.resolve(SafetensorsCheckpoint.INDEX_FILE)));
    }

    @Test
    void rewritingAFolderWithAnotherLayoutRemovesTheOldFiles(@TempDir Path dir) throws IOException {
        try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(TestData.parity("mistral"))) {
            SafetensorsWriter.writeCheckpoint(dir, rawEntries(src), 30_000, SafetensorsWriter.PT_METADATA);
            assertTrue(Files.exists(dir.resolve(SafetensorsCheckpoint.INDEX_FILE)));
            SafetensorsWriter.writeCheckpoint(dir, rawEntries(src), Long.MAX_VALUE, SafetensorsWriter.PT_METADATA);
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of("model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    private static List<SafetensorsWriter.Entry> rawEntries(SafetensorsCheckpoint c) {
        List<SafetensorsWriter.Entry> out = new ArrayList<>();
        c.tensors().forEach((name, l) -> out.add(new SafetensorsWriter.Entry(name, l.info().dtype(), l.info().shape(),
                TensorSources.raw(l.file().bytes(l.info())))));
        return out;
    }

    private static void assertSameTensors(SafetensorsCheckpoint a, SafetensorsCheckpoint b) {
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        a.tensors().forEach((name, la) -> {
            SafetensorsCheckpoint.Located lb = b.get(name);
            assertEquals(la.info().dtype(), lb.info().dtype(), name);
            assertArrayEquals(la.info().shape(), lb.info().shape(), name);
            MemorySegment x = la.file().bytes(la.info());
            MemorySegment y = lb.file().bytes(lb.info());
            assertEquals(-1, x.mismatch(y), name + " differs");
        });
    }

    // ---- malformed files: each a one-line error naming the file and the tensor or field ----

    private static Path writeRaw(Path dir, long headerLen, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLen).put(h);
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, b.array());
        return p;
    }

    private static String openFails(Path p) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void headerLengthBeyondTheFile(@TempDir Path dir) throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertTrue(openFails(writeRaw(dir, 1L << 62, h, 4)).contains("header length 4611686018427387904 exceeds the file size"));
        assertTrue(openFails(writeRaw(dir, -1L, h, 4)).contains("header length 18446744073709551615 exceeds"));
    }

    @Test
    void tensorOffsetPastTheEnd(@TempDir Path dir) throws IOException {
        String h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}";
        String msg = openFails(writeRaw(dir, h.length(), h, 16));
        assertTrue(msg.contains("tensor 'w': data ends at byte 32 of the data section, but the file holds only 16"), msg);
    }

    @Test
    void shapeDisagreeingWithByteCount(@TempDir Path dir) throws IOException {
        String h = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,5],\"data_offsets\":[0,32]}}";
        String msg = openFails(writeRaw(dir, h.length(), h, 32));
        assertTrue(msg.contains("tensor 'w': shape [3,5] of BF16 needs 30 bytes, but data_offsets [0,32] span 32"), msg);
    }

    @Test
    void unknownDtype(@TempDir Path dir) throws IOException {
        String h = "{\"w\":{\"dtype\":\"F4_E2M1\",\"shape\":[2],\"data_offsets\":[0,1]}}";
        assertTrue(openFails(writeRaw(dir, h.length(), h, 1)).contains("tensor 'w': unknown dtype 'F4_E2M1'"));
    }

    @Test
    void truncatedFiles(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("t.safetensors");
        Files.write(p, new byte[] {1, 2, 3});
        assertTrue(openFails(p).contains("truncated: 3 bytes"));
        byte[] whole = Files.readAllBytes(TestData.parity("mistral").resolve("model.safetensors"));
        Files.write(p, java.util.Arrays.copyOf(whole, whole.length - 1000));
        String msg = openFails(p);
        assertTrue(msg.contains("(truncated?)") && msg.contains("tensor '"), msg);
    }

    @Test
    void invalidHeaderJsonAndOverlaps(@TempDir Path dir) throws IOException {
        String h = "{\"w\": [";
        assertTrue(openFails(writeRaw(dir, h.length(), h, 0)).contains("header is not valid JSON"));
        String dup = "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                + "\"v\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}";
        assertTrue(openFails(writeRaw(dir, dup.length(), dup, 3)).contains("overlaps"));
        String twice = "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        assertTrue(openFails(writeRaw(dir, twice.length(), twice, 1)).contains("Duplicate field 'w'"));
    }

    @Test
    void anEmptyTensorDoesNotHideAnOverlap(@TempDir Path dir) throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[100],\"data_offsets\":[0,100]},"
                + "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[50,50]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[20],\"data_offsets\":[60,80]}}";
        assertTrue(openFails(writeRaw(dir, h.length(), h, 100)).contains("tensor 'b' overlaps tensor 'a'"));
    }

    @Test
    void namesWithControlCharactersStayOnOneLine(@TempDir Path dir) throws IOException {
        String h = "{\"a\\nb\":{\"dtype\":\"X9\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        assertTrue(openFails(writeRaw(dir, h.length(), h, 1)).contains("tensor 'a\\nb': unknown dtype 'X9'"));
    }

    @Test
    void aFailedSaveLeavesTheOldCheckpointWhole(@TempDir Path dir) throws IOException {
        try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(TestData.parity("mistral"))) {
            SafetensorsWriter.writeCheckpoint(dir, rawEntries(src), 30_000, SafetensorsWriter.PT_METADATA);
        }
        Map<String, byte[]> before = new java.util.TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                before.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        // The same layout again, with new values (zeros), and a source that fails in the last shard: by then the
        // earlier shards are written.
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(TestData.parity("mistral"))) {
            src.tensors().forEach((name, l) -> entries.add(new SafetensorsWriter.Entry(name, l.info().dtype(),
                    l.info().shape(), ch -> SafetensorsWriter.writeFully(ch, ByteBuffer.allocate((int) l.info().byteSize())))));
            SafetensorsWriter.Entry last = entries.removeLast();
            entries.add(new SafetensorsWriter.Entry(last.name(), last.dtype(), last.shape(),
                    ch -> { throw new IOException("disk full"); }));
            assertThrows(IOException.class,
                    () -> SafetensorsWriter.writeCheckpoint(dir, entries, 30_000, SafetensorsWriter.PT_METADATA));
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> now = files.toList();
            assertEquals(before.keySet(), new java.util.TreeSet<>(now.stream().map(p -> p.getFileName().toString()).toList()),
                    "no temporary or new file is left");
            for (Path p : now) {
                assertArrayEquals(before.get(p.getFileName().toString()), Files.readAllBytes(p), p + " is unchanged");
            }
        }
    }

    @Test
    void indexNamingAMissingTensorOrFile(@TempDir Path dir) throws IOException {
        try (SafetensorsCheckpoint src = SafetensorsCheckpoint.open(TestData.parity("mistral"))) {
            SafetensorsWriter.writeCheckpoint(dir, rawEntries(src), 30_000, SafetensorsWriter.PT_METADATA);
        }
        Path index = dir.resolve(SafetensorsCheckpoint.INDEX_FILE);
        String text = Files.readString(index);
        Files.writeString(index, text.replace("\"model.norm.weight\"", "\"model.norm.weights\""));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("lists tensor 'model.norm.weights'"), e.getMessage());
        Files.writeString(index, text.replace("\"model-00001-of-", "\"model-00099-of-"));
        e = assertThrows(ModelFormatException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("model-00099-of-") && e.getMessage().contains("not found"), e.getMessage());
        Files.writeString(index, text.replace("\"model-00001-of-", "\"../model-00001-of-"));
        e = assertThrows(ModelFormatException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("not a file of this folder"), e.getMessage());
        Files.writeString(index, text.replace("\"model-00001-of-", "\"mo\\u0000del-00001-of-"));
        e = assertThrows(ModelFormatException.class, () -> SafetensorsCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("mo\\x00del-00001-of-") && e.getMessage().contains("not a file of this folder"),
                e.getMessage());
    }

    @Test
    void closedFileRefusesAccessInsteadOfCrashing() {
        SafetensorsFile f = SafetensorsFile.open(TestData.parity("mistral").resolve("model.safetensors"));
        TensorInfo t = f.info("model.norm.weight");
        MemorySegment bytes = f.bytes(t);
        f.close();
        assertThrows(IllegalStateException.class, () -> bytes.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void writerRejectsASourceOfTheWrongLength(@TempDir Path dir) {
        SafetensorsWriter.Entry e = new SafetensorsWriter.Entry("w", DType.F32, new long[] {2},
                ch -> SafetensorsWriter.writeFully(ch, ByteBuffer.allocate(4)));
        assertThrows(IllegalStateException.class,
                () -> SafetensorsWriter.writeFile(dir.resolve("x.safetensors"), List.of(e), Map.of()));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(0, files.count(), "no half-written or temporary file is left behind");
        } catch (IOException ex) {
            throw new AssertionError(ex);
        }
    }
}

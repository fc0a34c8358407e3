package dev.turbosparse.model.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.TestData;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.SafetensorsFile;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GgufTest {

    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    @Test
    void readsTheLlamaCppFixture() {
        try (GgufFile g = GgufFile.open(TestData.parity("mixtral").resolve("model.f32.gguf"))) {
            assertEquals(3, g.version());
            assertEquals("llama", g.getString("general.architecture"));
            assertEquals(4L, g.requireLong("llama.expert_count"));
            assertEquals(512, ((java.util.List<?>) g.metadata().get("tokenizer.ggml.tokens")).size());
            GgufFile.TensorInfo gate = g.tensor("blk.0.ffn_gate_exps.weight");
            assertEquals(GgmlType.F32, gate.type());
            assertEquals("[64, 192, 4]", Arrays.toString(gate.dims()));
            assertEquals("[4, 192, 64]", Arrays.toString(gate.shape()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mixtral"})
    void metadataGivesTheHuggingFaceConfig(String name) {
        ModelConfig hf = ConfigIO.read(TestData.parity(name));
        try (GgufFile g = GgufFile.open(TestData.parity(name).resolve("model.f32.gguf"))) {
            ModelConfig c = LlamaGguf.config(g);
            assertEquals(hf.getClass(), c.getClass());
            assertEquals(hf.vocabSize(), c.vocabSize());
            assertEquals(hf.hiddenSize(), c.hiddenSize());
            assertEquals(hf.intermediateSize(), c.intermediateSize());
            assertEquals(hf.numHiddenLayers(), c.numHiddenLayers());
            assertEquals(hf.numAttentionHeads(), c.numAttentionHeads());
            assertEquals(hf.numKeyValueHeads(), c.numKeyValueHeads());
            assertEquals(hf.headDim(), c.headDim());
            assertEquals(hf.ropeTheta(), c.ropeTheta());
            assertEquals(hf.rmsNormEps(), c.rmsNormEps(), 1e-12, "stored as float32 in GGUF");
            assertEquals(hf.maxPositionEmbeddings(), c.maxPositionEmbeddings());
            assertEquals(hf.numExperts(), c.numExperts());
            assertEquals(hf.expertsPerToken(), c.expertsPerToken());
            assertEquals(hf.activation(), c.activation());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mixtral"})
    void weightsEqualTheSafetensorsOnesAndLogitsMatchTorchAndLlamaCpp(String name) throws IOException {
        Path dir = TestData.parity(name);
        try (CausalLM fromGguf = LlamaGguf.load(dir.resolve("model.f32.gguf"), manager, null);
                CausalLM fromHf = HfCheckpoint.load(dir, manager)) {
            fromHf.parametersByName().forEach((k, p) -> assertEquals(-1,
                    MemorySegment.ofArray(p.getArray().toFloatArray())
                            .mismatch(MemorySegment.ofArray(fromGguf.parametersByName().get(k).getArray().toFloatArray())),
                    name + ": " + k + " (q/k un-permuted, experts unstacked)"));
            float[] torch;
            float[] llamaCpp;
            long[] ids;
            try (SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
                torch = ref.readFloats("logits");
                llamaCpp = ref.readFloats("logits_llamacpp");
                ids = ref.readLongs("input_ids");
            }
            try (NDManager step = manager.newSubManager()) {
                NDArray x = step.create(ids, new Shape(2, 20));
                float[] got = fromGguf.forward(new ParameterStore(step, false), x, CausalLM.Options.DEFAULT, false)
                        .logits().toFloatArray();
                float scale = 0;
                float dTorch = 0;
                float dLlama = 0;
                for (int i = 0; i < got.length; i++) {
                    scale = Math.max(scale, Math.abs(torch[i]));
                    dTorch = Math.max(dTorch, Math.abs(got[i] - torch[i]));
                    dLlama = Math.max(dLlama, Math.abs(got[i] - llamaCpp[i]));
                }
                assertTrue(dTorch <= 1e-4 * scale, name + ": vs torch " + dTorch);
                assertTrue(dLlama <= 1e-4 * scale, name + ": vs llama.cpp " + dLlama);
            }
        }
    }

    @Test
    void q8AndQ4BlocksDequantizeAsGgmlDefinesThem() {
        try (Arena a = Arena.ofConfined()) {
            // Q8_0: scale 0.5 (fp16 0x3800), q = -16..15 -> x = q / 2
            ByteBuffer q8 = ByteBuffer.allocate(34).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3800);
            for (int i = 0; i < 32; i++) {
                q8.put((byte) (i - 16));
            }
            MemorySegment out = a.allocate(32 * 4);
            GgmlType.Q8_0.toFloat32(MemorySegment.ofArray(q8.array()), 0, out, 32);
            for (int i = 0; i < 32; i++) {
                assertEquals((i - 16) * 0.5f, out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i));
            }
            // Q4_0: scale 2 (fp16 0x4000); byte i holds element i in the low nibble, element i+16 in the high one
            ByteBuffer q4 = ByteBuffer.allocate(18).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x4000);
            for (int i = 0; i < 16; i++) {
                q4.put((byte) ((15 - i) << 4 | i));
            }
            GgmlType.Q4_0.toFloat32(MemorySegment.ofArray(q4.array()), 0, out, 32);
            for (int i = 0; i < 16; i++) {
                assertEquals((i - 8) * 2f, out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i));
                assertEquals((15 - i - 8) * 2f, out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 16 + i));
            }
        }
    }

    // ---- bad input: one line naming the file and the field or tensor ----

    private static String fails(Path dir, byte[] bytes) throws IOException {
        Path p = dir.resolve("bad.gguf");
        Files.write(p, bytes);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private static GgufBytes oneTensor(long offset, int type) {
        return new GgufBytes().string("general.architecture", "llama")
                .tensor("w", new long[] {4}, type, offset, GgufBytes.floats(1, 2, 3, 4));
    }

    @Test
    void aWellFormedMinimalFileReads(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("ok.gguf");
        Files.write(p, oneTensor(0, 0).build());
        try (GgufFile g = GgufFile.open(p); Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(16);
            g.readFloat32(g.tensor("w"), 0, 4, out);
            assertEquals(3f, out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 2));
        }
    }

    @Test
    void badMagic(@TempDir Path dir) throws IOException {
        assertTrue(fails(dir, oneTensor(0, 0).magic("GGML").build()).contains("not a GGUF file: magic is \"GGML\""));
    }

    @Test
    void unsupportedVersion(@TempDir Path dir) throws IOException {
        assertTrue(fails(dir, oneTensor(0, 0).version(1).build()).contains("GGUF version 1 is not supported"));
        assertTrue(fails(dir, oneTensor(0, 0).version(4).build()).contains("GGUF version 4 is not supported"));
    }

    @Test
    void tensorOffsetOutOfBounds(@TempDir Path dir) throws IOException {
        byte[] b = oneTensor(0, 0).build();
        byte[] cut = Arrays.copyOf(b, b.length - 8); // the data of w no longer fits
        assertTrue(fails(dir, cut).contains("tensor 'w': data [0, +16) lies beyond the end of the file"));
        GgufBytes far = new GgufBytes().info("w", new long[] {4}, 0, 1L << 40);
        assertTrue(fails(dir, far.build()).contains("tensor 'w': data [1099511627776, +16) lies beyond"));
        assertTrue(fails(dir, new GgufBytes().tensor("w", new long[] {4}, 0, 3, new byte[16]).build())
                .contains("offset 3 is not a multiple of the alignment 32"));
    }

    @Test
    void unknownType(@TempDir Path dir) throws IOException {
        assertTrue(fails(dir, oneTensor(0, 12).build()).contains("tensor 'w': unknown or unsupported ggml type 12"));
    }

    @Test
    void numericArraysStayPrimitiveAndKeysAreBounded(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("array.gguf");
        Files.write(p, oneTensor(0, 0).u8Array("big.array", 1 << 20, (byte) -1).build());
        try (GgufFile g = GgufFile.open(p)) {
            byte[] a = (byte[]) g.metadata().get("big.array"); // one byte per element, not a boxed Long
            assertEquals(1 << 20, a.length);
            assertEquals(255, a[7] & 0xFF);
            assertEquals(1 << 20, g.arrayLength("big.array"));
        }
        String longKey = "k".repeat(70_000);
        assertTrue(fails(dir, oneTensor(0, 0).string(longKey, "v").build()).contains("key of 70000 bytes is longer than"));
    }

    @Test
    void namesWithControlCharactersStayOnOneLine(@TempDir Path dir) throws IOException {
        String msg = fails(dir, oneTensor(0, 0).string("a\nb", "x").string("a\nb", "y").build());
        assertTrue(msg.contains("metadata key 'a\\nb' appears twice"), msg);
    }

    @Test
    void impossibleHyperparametersAreRefusedNotDividedBy(@TempDir Path dir) throws IOException {
        GgufBytes b = new GgufBytes().string("general.architecture", "llama").u32("llama.embedding_length", 64)
                .u32("llama.attention.head_count", 0).u32("llama.block_count", 1).u32("llama.feed_forward_length", 8)
                .u32("llama.context_length", 16).tensor("token_embd.weight", new long[] {4}, 0, 0, new byte[16]);
        Path p = dir.resolve("heads.gguf");
        Files.write(p, b.build());
        try (GgufFile g = GgufFile.open(p)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaGguf.config(g));
            assertTrue(e.getMessage().contains("'llama.attention.head_count' must be positive, got 0"), e.getMessage());
        }
        b = new GgufBytes().string("general.architecture", "llama").u32("llama.embedding_length", 64)
                .u32("llama.attention.head_count", 4).u32("llama.block_count", 1).u32("llama.feed_forward_length", 8)
                .u32("llama.context_length", 16).tensor("token_embd.weight", new long[] {4}, 0, 0, new byte[16]);
        Files.write(p, b.build());
        try (GgufFile g = GgufFile.open(p)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaGguf.config(g));
            assertTrue(e.getMessage().contains("'token_embd.weight' has dims [4]; an embedding table has two"), e.getMessage());
        }
    }

    @Test
    void partialBlocksAreNotReadSilently(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("q8.gguf");
        Files.write(p, new GgufBytes().tensor("q", new long[] {64}, 8, 0, new byte[68]).build());
        try (GgufFile g = GgufFile.open(p); Arena a = Arena.ofConfined()) {
            GgufFile.TensorInfo q = g.tensor("q");
            assertThrows(IndexOutOfBoundsException.class, () -> g.readFloat32(q, 5, 32, a.allocate(128)));
            assertThrows(IndexOutOfBoundsException.class, () -> g.readFloat32(q, 32, Long.MAX_VALUE - 8, a.allocate(128)));
            g.readFloat32(q, 32, 32, a.allocate(128)); // the second whole block
        }
    }

    @Test
    void truncatedHeaderAndHugeCounts(@TempDir Path dir) throws IOException {
        byte[] fixture = Files.readAllBytes(TestData.parity("mistral").resolve("model.f32.gguf"));
        String msg = fails(dir, Arrays.copyOf(fixture, 5000));
        assertTrue(msg.contains("past the end of the file") && msg.contains("truncated?"), msg);
        assertTrue(fails(dir, Arrays.copyOf(fixture, 10)).contains("truncated: 10 bytes"));
        assertTrue(fails(dir, oneTensor(0, 0).tensorCount(Long.MAX_VALUE).build())
                .contains("tensor_count 9223372036854775807 cannot fit"));
        assertTrue(fails(dir, new GgufBytes().tensor("w", new long[] {1, 1, 1, 1, 1}, 0, 0, new byte[4]).build())
                .contains("5 dimensions; ggml allows 1 to 4"));
    }

    @Test
    void theWriterAlignsTensorDataToWhatItRecords(@TempDir Path dir) throws IOException {
        float[][] values = {{1f, 2f, 3f}, {-4f, 5f, 6f, 7f, 8f}};
        for (int alignment : new int[] {GgufFile.DEFAULT_ALIGNMENT, 4096}) {
            GgufWriter w = new GgufWriter().alignment(alignment).putString("general.architecture", "llama");
            for (int t = 0; t < values.length; t++) {
                float[] v = values[t];
                w.tensor("t" + t, new long[] {v.length}, GgmlType.F32, ch -> {
                    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                    for (float f : v) {
                        b.putFloat(f);
                    }
                    ch.write(b.flip());
                });
            }
            Path p = dir.resolve("a" + alignment + ".gguf");
            w.write(p);
            try (GgufFile g = GgufFile.open(p); Arena a = Arena.ofConfined()) {
                // GGUF's default needs no key; any other is written, as llama.cpp reads it
                assertEquals(alignment == GgufFile.DEFAULT_ALIGNMENT ? null : (Object) (long) alignment,
                        g.metadata().get("general.alignment"));
                for (int t = 0; t < values.length; t++) {
                    GgufFile.TensorInfo info = g.tensor("t" + t);
                    assertEquals(0, info.fileOffset() % alignment, "t" + t + " at " + info.fileOffset());
                    MemorySegment out = a.allocate(4L * values[t].length);
                    g.readFloat32(info, 0, values[t].length, out);
                    assertEquals(values[t][values[t].length - 1],
                            out.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, values[t].length - 1));
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().alignment(48));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().alignment(4096).alignment(64));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter().putUint32("general.alignment", 64));
    }
}

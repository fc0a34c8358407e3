package dev.turbosparse.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.activations.ZeroCounter;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.ModelFormatException;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.safetensors.DType;
import dev.turbosparse.model.safetensors.SafetensorsCheckpoint;
import dev.turbosparse.model.safetensors.SafetensorsWriter;
import dev.turbosparse.model.safetensors.TensorSources;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HfCheckpointTest {

    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    private static Map<String, float[]> values(CausalLM m) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        m.parametersByName().forEach((k, p) -> out.put(k, p.getArray().toFloatArray()));
        return out;
    }

    private static void assertSameValues(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        a.forEach((k, v) -> {
            float[] w = b.get(k);
            assertEquals(v.length, w.length, k);
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(w[i]), k + "[" + i + "]");
            }
        });
    }

    @ParameterizedTest
    @CsvSource({"BF16,0", "BF16,20000", "F16,0", "F16,20000", "F32,0", "F32,20000"})
    void loadSaveLoadIsBitIdentical(DType dtype, long shardBytes, @TempDir Path dir) throws IOException {
        long maxShard = shardBytes == 0 ? Long.MAX_VALUE : shardBytes;
        Path first = dir.resolve("first");
        Path second = dir.resolve("second");
        try (CausalLM original = HfCheckpoint.load(TestData.parity("mixtral"), manager)) {
            HfCheckpoint.save(original, first, dtype, maxShard);
        }
        assertEquals(shardBytes != 0, Files.exists(first.resolve(SafetensorsCheckpoint.INDEX_FILE)));
        assertEquals(dtype.torchName(), ConfigIO.read(first).torchDtype());
        try (CausalLM a = HfCheckpoint.load(first, manager)) {
            HfCheckpoint.save(a, second, dtype, maxShard);
            try (CausalLM b = HfCheckpoint.load(second, manager)) {
                assertSameValues(values(a), values(b));
            }
        }
        if (dtype == DType.BF16 && shardBytes == 0) {
            // The fixture is BF16: saving its weights as BF16 reproduces every stored byte.
            try (SafetensorsCheckpoint fixture = SafetensorsCheckpoint.open(TestData.parity("mixtral"));
                    SafetensorsCheckpoint saved = SafetensorsCheckpoint.open(first)) {
                fixture.tensors().forEach((name, l) -> {
                    SafetensorsCheckpoint.Located s = saved.get(name);
                    assertEquals(-1, l.file().bytes(l.info()).mismatch(s.file().bytes(s.info())), name);
                });
            }
        }
    }

    @Test
    void randomCheckpointOnDiskEqualsInitialisedModel(@TempDir Path dir) throws IOException {
        ModelConfig c = TinyConfigs.mixtral(50, 32, 48, "drelu", "");
        HfCheckpoint.writeRandom(c, dir, DType.F32, 42, 10_000, null);
        try (CausalLM fromDisk = HfCheckpoint.load(dir, manager); CausalLM inMemory = HfCheckpoint.random(c, manager, 42)) {
            assertSameValues(values(fromDisk), values(inMemory));
            float[] norm = inMemory.parametersByName().get("norm").getArray().toFloatArray();
            assertEquals(1f, norm[0], "RMSNorm weights start at 1");
        }
    }

    private static double dreluZeroFraction(CausalLM model) {
        ZeroCounter zeros = new ZeroCounter(model.config().numHiddenLayers(), model.config().numExperts());
        try (NDManager step = manager.newSubManager()) {
            NDArray ids = step.create(new long[] {5, 77, 300, 12, 9, 401, 250, 3}, new Shape(1, 8));
            model.forward(new ParameterStore(step, false), ids, CausalLM.Options.DEFAULT.withObserver(zeros), false);
        }
        double sum = 0;
        for (double f : zeros.zeroFractionPerLayer()) {
            sum += f / model.config().numHiddenLayers();
        }
        return sum;
    }

    @Test
    void swapTurnsSwiGluIntoDreluWithoutTouchingAWeight(@TempDir Path dir) throws IOException {
        Path swapped = dir.resolve("drelu");
        ModelConfig c = HfCheckpoint.swapActivation(TestData.parity("mistral"), swapped, FfnActivation.DRELU);
        assertEquals("relu", c.hiddenAct());
        assertEquals("drelu", c.ffnActivation());
        assertEquals(FfnActivation.DRELU, ConfigIO.read(swapped).activation());
        assertArrayEquals(Files.readAllBytes(TestData.parity("mistral").resolve("model.safetensors")),
                Files.readAllBytes(swapped.resolve("model.safetensors")));
        try (CausalLM silu = HfCheckpoint.load(TestData.parity("mistral"), manager);
                CausalLM drelu = HfCheckpoint.load(swapped, manager)) {
            assertEquals(0.0, dreluZeroFraction(silu), "SwiGLU has no exact zeros");
            double z = dreluZeroFraction(drelu);
            assertTrue(z > 0.6 && z < 0.9, "dReLU on random weights zeroes about 3/4 of h, got " + z);
        }
        HfCheckpoint.swapActivation(swapped, swapped, FfnActivation.RELU);
        assertEquals(FfnActivation.RELU, ConfigIO.read(swapped).activation(), "ReGLU, in place");
        assertEquals("relu", ConfigIO.read(swapped).ffnActivation());
    }

    // ---- bad input: one line naming the file and the tensor ----

    /** Writes the fixture's tensors minus {@code drop}, plus {@code add} (a copy of model.norm.weight). */
    private static void writeEdited(Path src, Path dst, String drop, String add, String reshape) throws IOException {
        Files.createDirectories(dst);
        Files.copy(src.resolve("config.json"), dst.resolve("config.json"));
        try (SafetensorsCheckpoint c = SafetensorsCheckpoint.open(src)) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            c.tensors().forEach((name, l) -> {
                if (!name.equals(drop)) {
                    long[] shape = l.info().shape();
                    if (name.equals(reshape)) {
                        shape = new long[] {shape[1], shape[0]};
                    }
                    entries.add(new SafetensorsWriter.Entry(name, l.info().dtype(), shape,
                            TensorSources.raw(l.file().bytes(l.info()))));
                }
            });
            if (add != null) {
                var norm = c.get("model.norm.weight");
                entries.add(new SafetensorsWriter.Entry(add, norm.info().dtype(), norm.info().shape(),
                        TensorSources.raw(norm.file().bytes(norm.info()))));
            }
            SafetensorsWriter.writeCheckpoint(dst, entries, Long.MAX_VALUE, SafetensorsWriter.PT_METADATA);
        }
    }

    private static String loadFails(Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> HfCheckpoint.load(dir, manager).close());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void missingTensorIsNamed(@TempDir Path dir) throws IOException {
        writeEdited(TestData.parity("mistral"), dir, "model.layers.1.mlp.up_proj.weight", null, null);
        String msg = loadFails(dir);
        assertTrue(msg.startsWith(dir.resolve("model.safetensors") + ": the weights do not match config.json"), msg);
        assertTrue(msg.contains("1 tensor(s) missing, first 'model.layers.1.mlp.up_proj.weight'"), msg);
    }

    @Test
    void unexpectedTensorIsNamed(@TempDir Path dir) throws IOException {
        writeEdited(TestData.parity("mistral"), dir, null, "model.layers.0.mlp.extra.weight", null);
        assertTrue(loadFails(dir).contains("1 unexpected tensor(s), first 'model.layers.0.mlp.extra.weight'"));
    }

    @Test
    void aPredictorTensorWithoutItsFc1IsNamed(@TempDir Path dir) throws IOException {
        writeEdited(TestData.parity("mistral"), dir, null, "model.layers.0.mlp.predictor.fc9.weight", null);
        assertTrue(loadFails(dir).contains("has predictor tensor 'model.layers.0.mlp.predictor.fc9.weight' but not"
                + " 'model.layers.0.mlp.predictor.fc1.weight'"));
    }

    @Test
    void shapeDisagreeingWithTheConfigIsNamed(@TempDir Path dir) throws IOException {
        writeEdited(TestData.parity("mistral"), dir, null, null, "model.layers.0.mlp.down_proj.weight");
        String msg = loadFails(dir);
        assertTrue(msg.contains("tensor 'model.layers.0.mlp.down_proj.weight' has shape [192, 64], but config.json"
                + " implies [64, 192]"), msg);
    }

    @Test
    void mixtralConfigOverMistralTensorsIsRefused(@TempDir Path dir) throws IOException {
        Files.copy(TestData.parity("mistral").resolve("model.safetensors"), dir.resolve("model.safetensors"));
        Files.copy(TestData.parity("mixtral").resolve("config.json"), dir.resolve("config.json"));
        String msg = loadFails(dir);
        assertTrue(msg.contains("missing, first 'model.layers.0.block_sparse_moe.gate.weight'"), msg);
        assertTrue(msg.contains("config.json says Mixtral, but these are Mistral weights with a dense FFN"), msg);
    }

    @Test
    void anEmptySequenceGivesEmptyLogitsForEveryArchitecture() {
        for (String name : List.of("mistral", "mixtral")) {
            try (CausalLM model = HfCheckpoint.load(TestData.parity(name), manager);
                    NDManager step = manager.newSubManager()) {
                NDArray ids = step.create(new long[0], new Shape(1, 0));
                NDArray logits = model.forward(new ParameterStore(step, false), ids, CausalLM.Options.DEFAULT, false)
                        .logits();
                assertEquals(new Shape(1, 0, 512), logits.getShape(), name);
            }
        }
    }

    @Test
    void tokenIdOutsideTheVocabularyIsRefused() {
        try (CausalLM model = HfCheckpoint.load(TestData.parity("mistral"), manager);
                NDManager step = manager.newSubManager()) {
            NDArray ids = step.create(new long[] {1, 2, 512}, new Shape(1, 3));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(new ParameterStore(step, false), ids, CausalLM.Options.DEFAULT, false));
            assertEquals("token id 512 at (sequence 0, position 2) is outside the vocabulary [0, 512)", e.getMessage());
        }
    }
}

package dev.turbosparse.model.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ModelConfig;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Regression test for use-after-free in the backward pass (see TorchTensors): a garbage collection and fresh direct
 * buffers between forward and backward must not change a single gradient bit. With DJL's {@code x.mul(2f)} in the
 * forward pass this test fails every time.
 */
class GradientMemorySafetyTest {

    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> tinyModels() {
        return TrainingReadinessTest.tinyModels();
    }

    private static Map<String, float[]> gradients(CausalLM model, long[] ids, boolean disturb) {
        try (NDManager step = manager.newSubManager()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray x = step.create(ids, new Shape(2, ids.length / 2));
                NDArray loss = LmLoss.mean(model.forward(new ParameterStore(step, false), x,
                        CausalLM.Options.DEFAULT, false).logits(), x);
                if (disturb) {
                    System.gc();
                    List<ByteBuffer> reuse = new ArrayList<>();
                    for (int i = 0; i < 4000; i++) {
                        ByteBuffer b = ByteBuffer.allocateDirect(64);
                        for (int j = 0; j < 64; j += 4) {
                            b.putInt(j, 0x7fc00000); // NaN wherever freed memory is handed out again
                        }
                        reuse.add(b);
                    }
                }
                gc.backward(loss);
            }
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Map.Entry<String, Parameter> p : model.parametersByName().entrySet()) {
                try (NDArray g = p.getValue().getArray().getGradient()) {
                    out.put(p.getKey(), g.toFloatArray());
                    g.set(new ai.djl.ndarray.index.NDIndex("..."), 0);
                }
            }
            return out;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyModels")
    void collectingGarbageBetweenForwardAndBackwardChangesNoGradient(String name, ModelConfig config) {
        long[] ids = new long[32];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = (i * 7 + 3) % config.vocabSize();
        }
        try (CausalLM model = HfCheckpoint.random(config, manager, 4)) {
            model.setTrainable(true);
            Map<String, float[]> calm = gradients(model, ids, false);
            for (int round = 0; round < 3; round++) {
                Map<String, float[]> disturbed = gradients(model, ids, true);
                for (String p : calm.keySet()) {
                    assertArrayEquals(calm.get(p), disturbed.get(p), name + ": gradient of " + p);
                }
            }
        }
    }
}

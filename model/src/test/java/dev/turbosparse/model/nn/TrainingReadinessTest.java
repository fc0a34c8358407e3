package dev.turbosparse.model.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;

import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.TinyConfigs;
import dev.turbosparse.model.config.ModelConfig;

import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Backward through every block: autograd against finite differences, and an optimiser that actually learns. */
class TrainingReadinessTest {

    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    static Stream<Arguments> tinyModels() { // shared with GradientMemorySafetyTest
        // initializer_range 0.2 keeps pre-activations away from ReLU's kink at the finite-difference step.
        String wide = "\"initializer_range\": 0.2";
        return Stream.of(
                Arguments.of("mistral-silu", TinyConfigs.mistral(40, 16, 24, "silu", wide)),
                Arguments.of("mistral-drelu-swa", TinyConfigs.mistral(40, 16, 24, "drelu", wide + ", \"sliding_window\": 3")),
                Arguments.of("mistral-gelu-tied", TinyConfigs.mistral(40, 16, 24, "gelu_pytorch_tanh",
                        wide + ", \"tie_word_embeddings\": true")),
                Arguments.of("mixtral-drelu", TinyConfigs.mixtral(40, 16, 24, "drelu", wide)));
    }

    private static long[] randomIds(int n, int vocab, long seed) {
        Random r = new Random(seed);
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        return ids;
    }

    private static double loss(CausalLM model, long[] ids, Shape shape) {
        try (NDManager step = manager.newSubManager()) {
            NDArray x = step.create(ids, shape);
            return LmLoss.mean(model.forward(new ParameterStore(step, false), x, CausalLM.Options.DEFAULT, false)
                    .logits(), x).getDouble();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyModels")
    void gradientsMatchFiniteDifferences(String name, ModelConfig config) {
        Shape shape = new Shape(2, 6);
        long[] ids = randomIds(12, config.vocabSize(), 11);
        try (CausalLM model = HfCheckpoint.random(config, manager, 5, DataType.FLOAT64)) {
            model.setTrainable(true);
            try (NDManager step = manager.newSubManager();
                    GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray x = step.create(ids, shape);
                NDArray loss = LmLoss.mean(model.forward(new ParameterStore(step, false), x,
                        CausalLM.Options.DEFAULT, false).logits(), x);
                gc.backward(loss);
            }
            Random pick = new Random(3);
            double eps = 1e-6;
            int checked = 0;
            for (Map.Entry<String, Parameter> p : model.parametersByName().entrySet()) {
                NDArray w = p.getValue().getArray();
                double[] grad;
                try (NDArray g = w.getGradient()) {
                    grad = g.toDoubleArray();
                }
                double gradNorm = 0;
                for (double g : grad) {
                    gradNorm += g * g;
                }
                assertTrue(gradNorm > 0, name + ": no gradient reaches " + p.getKey());
                DoubleBuffer view = w.toByteBuffer(true).order(ByteOrder.nativeOrder()).asDoubleBuffer();
                for (int trial = 0; trial < 3; trial++) {
                    int i = pick.nextInt(grad.length);
                    double orig = view.get(i);
                    view.put(i, orig + eps);
                    double up = loss(model, ids, shape);
                    view.put(i, orig - eps);
                    double down = loss(model, ids, shape);
                    view.put(i, orig);
                    double numeric = (up - down) / (2 * eps);
                    double err = Math.abs(numeric - grad[i]);
                    assertTrue(err <= 1e-7 + 1e-5 * Math.abs(numeric), name + ": d loss / d " + p.getKey() + "[" + i
                            + "]: autograd " + grad[i] + ", finite difference " + numeric);
                    checked++;
                }
            }
            assertTrue(checked >= 3 * 20, "every parameter tensor was checked");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyModels")
    void fiftyAdamWStepsOnOneBatchCutTheLossTenfold(String name, ModelConfig config) {
        Shape shape = new Shape(2, 16);
        long[] ids = randomIds(32, config.vocabSize(), 21);
        Optimizer adamW = Optimizer.adamW().optLearningRateTracker(Tracker.fixed(1e-2f)).optWeightDecays(0.0f).build();
        try (CausalLM model = HfCheckpoint.random(config, manager, 9)) {
            model.setTrainable(true);
            double first = Double.NaN;
            double last = Double.NaN;
            for (int step = 0; step < 50; step++) {
                try (NDManager stepManager = manager.newSubManager()) {
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray x = stepManager.create(ids, shape);
                        NDArray loss = LmLoss.mean(model.forward(new ParameterStore(stepManager, false), x,
                                CausalLM.Options.DEFAULT, true).logits(), x);
                        gc.backward(loss);
                        last = loss.getFloat();
                    }
                    for (Parameter p : model.parametersByName().values()) {
                        try (NDArray g = p.getArray().getGradient()) {
                            adamW.update(p.getId(), p.getArray(), g);
                            g.set(new NDIndex("..."), 0); // torch accumulates gradients: clear for the next step
                        }
                    }
                }
                if (step == 0) {
                    first = last;
                }
            }
            assertTrue(last * 10 <= first, name + ": loss went from " + first + " to " + last + " in 50 steps");
        }
    }
}

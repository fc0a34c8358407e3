package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.TorchTensors;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.LmLoss;

import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * Two replicas, each with half the rows, in two threads, give the gradient one replica gives with all rows; after the
 * update every replica holds the model's new weights. (Both replicas are on the CPU here: the code path is the one
 * several GPUs take, without the copies between devices.)
 */
class DataParallelTest {

    private static final ModelConfig CONFIG = ConfigIO.read(TestPaths.config("models/tiny-mistral-swiglu.json"));

    private static long[] rows(int n, int width) {
        Random r = new Random(5);
        long[] ids = new long[n * width];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = r.nextInt(CONFIG.vocabSize());
        }
        return ids;
    }

    private static void backward(CausalLM model, ParameterStore ps, GradientCollector gc, NDManager parent, long[] ids,
            int n, int width, double scale) {
        try (NDManager m = parent.newSubManager()) {
            NDArray batch = TorchTensors.longs(m, ids, new Shape(n, width));
            NDArray logits = model.forward(ps, batch.get(new NDIndex(":, :-1")), CausalLM.Options.DEFAULT, true).logits();
            NDArray loss = LmLoss.tokenNll(logits, batch.get(new NDIndex(":, 1:"))).mean();
            gc.backward(loss.mul(TorchTensors.scalar(loss, scale)));
        }
    }

    @Test
    void twoReplicasAgreeWithOne() {
        int width = 17;
        long[] ids = rows(4, width);
        long[] half0 = java.util.Arrays.copyOfRange(ids, 0, 2 * width);
        long[] half1 = java.util.Arrays.copyOfRange(ids, 2 * width, 4 * width);
        try (NDManager manager = NDManager.newBaseManager();
                CausalLM single = HfCheckpoint.random(CONFIG, manager, 3);
                CausalLM replicated = HfCheckpoint.random(CONFIG, manager, 3);
                DataParallel one = new DataParallel(single, List.of(Device.cpu()), false);
                DataParallel two = new DataParallel(replicated, List.of(Device.cpu(), Device.cpu()), true)) {
            single.setTrainable(true);
            replicated.setTrainable(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                one.run(k -> {
                    backward(single, one.store(k), gc, manager, ids, 4, width, 1.0);
                    return null;
                });
                two.run(k -> {
                    backward(replicated, two.store(k), gc, manager, k == 0 ? half0 : half1, 2, width, 0.5);
                    return null;
                });
            }
            two.reduceGradients();
            Map<String, Parameter> a = single.parametersByName();
            Map<String, Parameter> b = replicated.parametersByName();
            for (String name : a.keySet()) {
                try (NDArray ga = a.get(name).getArray().getGradient(); NDArray gb = b.get(name).getArray().getGradient()) {
                    float[] x = ga.toFloatArray();
                    float[] y = gb.toFloatArray();
                    double norm = 0;
                    double diff = 0;
                    for (int i = 0; i < x.length; i++) {
                        norm += x[i] * (double) x[i];
                        diff += (x[i] - y[i]) * (double) (x[i] - y[i]);
                    }
                    assertTrue(norm > 0, name + " has a gradient");
                    assertTrue(Math.sqrt(diff) <= 1e-5 * Math.sqrt(norm) + 1e-9, name + ": relative difference "
                            + Math.sqrt(diff / norm));
                }
            }
            try (AdamW opt = new AdamW(b, 0.9, 0.95, 1e-8, 0.1)) {
                opt.step(1e-3, 1.0);
            }
            two.broadcast();
            for (Parameter p : b.values()) {
                float[] main = p.getArray().toFloatArray();
                float[] replica = two.store(1).getValue(p, Device.cpu(), true).toFloatArray();
                assertArrayEquals(main, replica, p.getName() + " was copied to the replica");
                try (NDArray g = two.store(1).getValue(p, Device.cpu(), true).getGradient()) {
                    assertEquals(0f, g.abs().max().getFloat(), "the replica's gradient was cleared");
                }
            }
        }
    }
}

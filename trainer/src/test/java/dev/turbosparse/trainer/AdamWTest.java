package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;

import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** AdamW against a scalar twin of torch.optim.AdamW's update, weight decay off for norms, state round trip. */
class AdamWTest {

    /** torch.optim.AdamW, one element, in double precision. */
    private static final class Reference {
        double p;
        double m;
        double v;
        int t;

        Reference(double p) {
            this.p = p;
        }

        void step(double g, double lr, double b1, double b2, double eps, double wd) {
            t++;
            p *= 1 - lr * wd;
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            double mHat = m / (1 - Math.pow(b1, t));
            double vHat = v / (1 - Math.pow(b2, t));
            p -= lr * mHat / (Math.sqrt(vHat) + eps);
        }
    }

    private static Parameter parameter(NDManager m, String name, Parameter.Type type, float[] values) {
        Parameter p = Parameter.builder().setName(name).setType(type).build();
        NDArray a = m.create(values, new Shape(values.length));
        a.setRequiresGradient(true);
        p.setArray(a);
        return p;
    }

    /** Makes the gradient of p equal g, by a backward pass of sum(p * g). */
    private static void setGradient(Parameter p, float[] g) {
        NDArray w = p.getArray();
        try (NDManager step = w.getManager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(w.mul(step.create(g)).sum());
        }
    }

    @Test
    void stepsAsTorchAdamWDoesAndSparesTheNorms() {
        float[] w0 = {0.5f, -1.25f, 2.0f};
        float[][] grads = {{0.1f, -0.3f, 0.02f}, {-0.2f, 0.1f, 0.5f}, {0.05f, 0.05f, -1f}};
        double lr = 0.01;
        double wd = 0.1;
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, Parameter> params = new LinkedHashMap<>();
            params.put("w", parameter(m, "w", Parameter.Type.WEIGHT, w0));
            params.put("norm", parameter(m, "norm", Parameter.Type.GAMMA, w0));
            Reference[] decayed = new Reference[3];
            Reference[] norm = new Reference[3];
            for (int i = 0; i < 3; i++) {
                decayed[i] = new Reference(w0[i]);
                norm[i] = new Reference(w0[i]);
            }
            try (AdamW opt = new AdamW(params, 0.9, 0.95, 1e-8, wd)) {
                for (float[] g : grads) {
                    setGradient(params.get("w"), g);
                    setGradient(params.get("norm"), g);
                    opt.step(lr, 0.5);
                    for (int i = 0; i < 3; i++) {
                        decayed[i].step(0.5 * g[i], lr, 0.9, 0.95, 1e-8, wd);
                        norm[i].step(0.5 * g[i], lr, 0.9, 0.95, 1e-8, 0);
                    }
                }
                float[] w = params.get("w").getArray().toFloatArray();
                float[] n = params.get("norm").getArray().toFloatArray();
                for (int i = 0; i < 3; i++) {
                    assertEquals(decayed[i].p, w[i], 1e-6, "weight " + i);
                    assertEquals(norm[i].p, n[i], 1e-6, "norm " + i + " (no decay)");
                }
                try (NDArray g = params.get("w").getArray().getGradient()) {
                    assertArrayEquals(new float[3], g.toFloatArray(), "the step clears the gradients");
                }
                assertEquals(3, opt.steps());
            }
        }
    }

    @Test
    void restoredMomentsContinueExactly() {
        float[] w0 = {0.5f, -1.25f};
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, Parameter> a = Map.of("w", parameter(m, "w", Parameter.Type.WEIGHT, w0));
            Map<String, Parameter> b = Map.of("w", parameter(m, "w", Parameter.Type.WEIGHT, w0));
            try (AdamW first = new AdamW(a, 0.9, 0.95, 1e-8, 0.1); AdamW second = new AdamW(b, 0.9, 0.95, 1e-8, 0.1)) {
                setGradient(a.get("w"), new float[] {0.3f, -0.1f});
                first.step(0.01, 1);
                // the second optimizer takes over the first's weights and moments, as a resumed run does
                b.get("w").getArray().set(a.get("w").getArray().toFloatArray());
                Map<String, float[]> saved = new LinkedHashMap<>();
                first.state().forEach((k, v) -> saved.put(k, v.toFloatArray()));
                second.restore(first.steps(), (name, dst) -> {
                    float[] values = saved.get(name);
                    for (int i = 0; i < values.length; i++) {
                        dst.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, values[i]);
                    }
                });
                setGradient(a.get("w"), new float[] {-0.2f, 0.4f});
                setGradient(b.get("w"), new float[] {-0.2f, 0.4f});
                first.step(0.01, 1);
                second.step(0.01, 1);
                assertArrayEquals(a.get("w").getArray().toFloatArray(), b.get("w").getArray().toFloatArray());
            }
        }
    }
}

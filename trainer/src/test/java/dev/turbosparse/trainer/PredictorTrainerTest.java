package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The predictor's hand-written gradients against finite differences of its loss, in float64. */
class PredictorTrainerTest {

    static NDArray random(NDManager m, Random r, int rows, int cols, double std) {
        double[] v = new double[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.nextGaussian() * std;
        }
        return m.create(v, new Shape(rows, cols));
    }

    @Test
    void gradientsEqualFiniteDifferencesOfTheLoss() {
        Random r = new Random(5);
        try (NDManager m = NDManager.newBaseManager()) {
            int n = 7;
            int hidden = 6;
            int rank = 4;
            int inter = 9;
            NDArray x = random(m, r, n, hidden, 1);
            double[] labels = new double[n * inter];
            for (int i = 0; i < labels.length; i++) {
                labels[i] = r.nextDouble() < 0.3 ? 1 : 0;
            }
            NDArray y = m.create(labels, new Shape(n, inter));
            NDArray w1 = random(m, r, rank, hidden, 0.5);
            NDArray w2 = random(m, r, inter, rank, 0.5);
            NDArray[] lg = PredictorTrainer.lossAndGradients(x, y, w1, w2);
            assertEquals(DataType.FLOAT64, lg[1].getDataType());
            double[] g1 = lg[1].toDoubleArray();
            double[] g2 = lg[2].toDoubleArray();
            double h = 1e-6;
            for (int which = 0; which < 2; which++) {
                NDArray w = which == 0 ? w1 : w2;
                double[] g = which == 0 ? g1 : g2;
                double[] base = w.toDoubleArray();
                for (int i = 0; i < base.length; i += 3) {
                    double[] plus = base.clone();
                    double[] minus = base.clone();
                    plus[i] += h;
                    minus[i] -= h;
                    NDArray wp = m.create(plus, w.getShape());
                    NDArray wm = m.create(minus, w.getShape());
                    double lp = (which == 0 ? PredictorTrainer.lossAndGradients(x, y, wp, w2)
                            : PredictorTrainer.lossAndGradients(x, y, w1, wp))[0].getDouble();
                    double lm = (which == 0 ? PredictorTrainer.lossAndGradients(x, y, wm, w2)
                            : PredictorTrainer.lossAndGradients(x, y, w1, wm))[0].getDouble();
                    assertEquals((lp - lm) / (2 * h), g[i], 1e-7, (which == 0 ? "fc1" : "fc2") + " element " + i);
                }
            }
        }
    }
}

package dev.turbosparse.eval.sparsity;

import ai.djl.training.ParameterStore;
import dev.turbosparse.data.mixture.DomainRows;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.LmLoss;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Sparsity against held-out loss when magnitude thresholds force more zeros into the FFN activation: the curve on
 * which a SwiGLU model (no exact zeros of its own) and a dReLU model (many) compare.
 *
 * <p>Each source's held-out rows are split: the first half calibrates the thresholds (per layer and expert, the
 * magnitude of {@code |h|} below which the target share of entries lies), the second half is where loss and the
 * sparsity reached are measured, so that thresholds are not judged on the tokens that set them. The first point is
 * the model as it is (no threshold).
 */
public final class ThresholdCurve {

    /**
     * One point of the curve.
     *
     * @param target the share of zeros asked for; NaN for the model as it is
     * @param profile the zeros reached on the evaluation rows
     * @param loss mean next-token loss per source on the evaluation rows
     */
    public record Point(double target, NeuronProfile profile, Map<String, Double> loss) {

        /** The mean over layers of each layer's zero fraction. */
        public double meanZeroFraction() {
            double mean = 0;
            for (int l = 0; l < profile.layers(); l++) {
                mean += profile.zeroFraction(l) / profile.layers();
            }
            return mean;
        }

        /** The mean of the sources' losses. */
        public double meanLoss() {
            return loss.values().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
        }
    }

    private ThresholdCurve() {}

    /**
     * @param targets shares of zeros in (0, 1), ascending
     * @param progress told a short description of each point as it is done, or null
     * @throws IllegalArgumentException if a source has fewer than 2 held-out rows to split, or a target is outside
     *     (0, 1)
     */
    public static List<Point> run(CausalLM model, List<DomainRows.Domain> domains, double[] targets, int batch,
            Consumer<String> progress) {
        check(domains, targets);
        MagnitudeHistogram histogram = new MagnitudeHistogram(model.config().numHiddenLayers(),
                model.config().numExperts());
        List<DomainRows.Domain> evaluation = new ArrayList<>();
        for (DomainRows.Domain d : domains) {
            int half = (d.rows() + 1) / 2;
            DomainRows.Domain calibration = d.slice(0, half);
            SparsityProfiler.profile(model, calibration.inputs(), calibration.rows(), d.width() - 1, batch,
                    histogram, null);
            evaluation.add(d.slice(half, d.rows()));
        }
        List<Point> points = new ArrayList<>();
        points.add(point(model, evaluation, Double.NaN, null, batch));
        report(progress, points.getLast());
        for (double t : targets) {
            points.add(point(model, evaluation, t, Thresholds.at(histogram, t), batch));
            report(progress, points.getLast());
        }
        return points;
    }

    /**
     * Refuses targets outside (0, 1) and sources with fewer than 2 held-out rows to split.
     *
     * @throws IllegalArgumentException naming the target or the source
     */
    public static void check(List<DomainRows.Domain> domains, double[] targets) {
        for (double t : targets) {
            if (!(t > 0 && t < 1)) {
                throw new IllegalArgumentException("sparsity targets lie between 0 and 1, got " + t);
            }
        }
        for (DomainRows.Domain d : domains) {
            if (d.rows() < 2) {
                throw new IllegalArgumentException("source '" + d.name() + "' has " + d.rows() + " held-out sequence(s);"
                        + " the threshold curve needs at least 2 (half calibrate, half measure): raise --max-tokens"
                        + " or prepare with a larger held-out share");
            }
        }
    }

    private static Point point(CausalLM model, List<DomainRows.Domain> evaluation, double target,
            double[][] thresholds, int batch) {
        NeuronProfile profile = SparsityProfiler.emptyProfile(model);
        double[][] none = new double[profile.layers()][profile.experts()];
        Thresholds observer = new Thresholds(thresholds != null ? thresholds : none, profile);
        Map<String, Double> loss = new LinkedHashMap<>();
        for (DomainRows.Domain d : evaluation) {
            loss.put(d.name(), LmLoss.meanOverRows(model, new ParameterStore(model.manager(), false), d.tokens(),
                    d.rows(), d.width(), batch, observer));
        }
        return new Point(target, profile, loss);
    }

    private static void report(Consumer<String> progress, Point p) {
        if (progress != null) {
            double zeros = p.meanZeroFraction();
            progress.accept(String.format(java.util.Locale.ROOT, "target %s: %.1f%% zeros, mean loss %.4f",
                    Double.isNaN(p.target()) ? "none" : String.format(java.util.Locale.ROOT, "%.2f", p.target()),
                    100 * zeros, p.meanLoss()));
        }
    }
}

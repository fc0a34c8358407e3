package dev.turbosparse.data.mixture;

import dev.turbosparse.data.DataException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Mixture weights per source and an optional temperature. Targets are {@code w_i^(1/T) / Σ w_j^(1/T)}: T = 1 keeps
 * the weights' proportions, larger T flattens them toward uniform.
 */
public record MixtureSpec(Map<String, Double> weights, double temperature) {

    public MixtureSpec {
        if (weights == null || weights.isEmpty()) {
            throw new DataException("the mixture names no source");
        }
        for (Map.Entry<String, Double> e : weights.entrySet()) {
            Double w = e.getValue();
            if (w == null || !(w > 0) || w.isInfinite()) {
                throw new DataException("the weight of source '" + e.getKey() + "' must be a positive number, got " + w);
            }
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new DataException("the mixture temperature must be a positive number, got " + temperature);
        }
        weights = Collections.unmodifiableMap(new LinkedHashMap<>(weights));
    }

    /** {@code web=0.7,code=0.2,math=0.1}: weights in the order given. */
    public static MixtureSpec parse(String text, double temperature) {
        Map<String, Double> w = new LinkedHashMap<>();
        for (String part : text.split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            if (eq <= 0) {
                throw new DataException("weights: '" + p + "' is not NAME=WEIGHT (e.g. web=0.7,code=0.2,math=0.1)");
            }
            String name = p.substring(0, eq).trim();
            double value;
            try {
                value = Double.parseDouble(p.substring(eq + 1).trim());
            } catch (NumberFormatException e) {
                throw new DataException("weights: the weight of '" + name + "' is not a number: '"
                        + p.substring(eq + 1).trim() + "'");
            }
            if (w.put(name, value) != null) {
                throw new DataException("weights: source '" + name + "' is named twice");
            }
        }
        return new MixtureSpec(w, temperature);
    }

    /** The normalised targets, in the order of the weights. */
    public Map<String, Double> targets() {
        Map<String, Double> t = new LinkedHashMap<>();
        double sum = 0;
        for (double w : weights.values()) {
            sum += Math.pow(w, 1 / temperature);
        }
        for (Map.Entry<String, Double> e : weights.entrySet()) {
            t.put(e.getKey(), Math.pow(e.getValue(), 1 / temperature) / sum);
        }
        return t;
    }
}

package dev.turbosparse.runtime;

import java.util.Arrays;

/**
 * Mixtral's router as HF computes it: softmax over the router logits, the top k experts by probability (ties to the
 * lower index), their probabilities renormalised to sum to 1.
 *
 * @param experts the chosen experts, most probable first
 * @param weights their weights, in the same order
 */
public record Routing(int[] experts, float[] weights) {

    public static Routing topK(float[] logits, int k) {
        int n = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double[] p = new double[n];
        double sum = 0;
        for (int e = 0; e < n; e++) {
            p[e] = Math.exp(logits[e] - max);
            sum += p[e];
        }
        Integer[] order = new Integer[n];
        for (int e = 0; e < n; e++) {
            order[e] = e;
            p[e] /= sum;
        }
        Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
        double kept = 0;
        for (int i = 0; i < k; i++) {
            kept += p[order[i]];
        }
        int[] experts = new int[k];
        float[] weights = new float[k];
        for (int i = 0; i < k; i++) {
            experts[i] = order[i];
            weights[i] = (float) (p[order[i]] / kept);
        }
        return new Routing(experts, weights);
    }
}

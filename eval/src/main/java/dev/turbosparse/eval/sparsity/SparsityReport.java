package dev.turbosparse.eval.sparsity;

import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.turbosparse.model.config.ModelConfig;
import java.util.List;
import java.util.Map;

/**
 * What {@code turbosparse sparsity} prints as JSON: {@code zero_fraction} per layer (a list per expert for a mixture
 * of experts) over all profiled tokens, the same per domain, tokens per expert, and the activated parameters.
 */
public final class SparsityReport {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private SparsityReport() {}

    /**
     * @param all the profile over every token
     * @param domains the profile of each domain, empty for an explicit token sequence
     */
    public static ObjectNode json(String model, ModelConfig config, NeuronProfile all,
            Map<String, NeuronProfile> domains) {
        ObjectNode o = JSON.createObjectNode();
        o.put("model", model);
        o.put("ffn_activation", config.activation().configName());
        o.put("tokens", tokens(config, all));
        putFractions(o, config, all);
        if (!domains.isEmpty()) {
            ObjectNode d = o.putObject("domains");
            domains.forEach((name, p) -> {
                ObjectNode one = d.putObject(name);
                one.put("tokens", tokens(config, p));
                putFractions(one, config, p);
            });
        }
        ActivatedParameters a = ActivatedParameters.of(config, all);
        ObjectNode ap = o.putObject("activated_parameters");
        ap.put("per_token", Math.round(a.perToken()));
        ap.put("total", a.total());
        ap.put("fraction", round(a.perToken() / a.total()));
        ap.put("embeddings", a.embeddings());
        ap.put("attention", a.attention());
        ap.put("norms", a.norms());
        ap.put("router", a.router());
        ap.put("ffn_active", Math.round(a.ffnActive()));
        ap.put("ffn_total", a.ffnTotal());
        ap.put("predictors", a.predictors());
        return o;
    }

    /**
     * Adds {@code threshold_curve}: a point per target (the first, with target null, is the model as it is), each with
     * the zeros reached per layer and on average, the held-out loss per source, their mean, and its perplexity.
     */
    public static void putCurve(ObjectNode o, List<ThresholdCurve.Point> curve) {
        ArrayNode points = o.putArray("threshold_curve");
        for (ThresholdCurve.Point p : curve) {
            ObjectNode one = points.addObject();
            if (Double.isNaN(p.target())) {
                one.putNull("target");
            } else {
                one.put("target", p.target());
            }
            ArrayNode layers = one.putArray("zero_fraction");
            for (int l = 0; l < p.profile().layers(); l++) {
                add(layers, p.profile().zeroFraction(l));
            }
            add(one, "mean_zero_fraction", p.meanZeroFraction());
            ObjectNode loss = one.putObject("loss");
            p.loss().forEach((k, v) -> add(loss, k, v));
            add(one, "mean_loss", p.meanLoss());
            add(one, "perplexity", Math.exp(p.meanLoss()));
        }
    }

    private static void add(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, round(v));
        } else {
            o.putNull(key);
        }
    }

    /** Tokens profiled: the (token, expert) pairs of layer 0 over the experts a token is routed to. */
    public static long tokens(ModelConfig config, NeuronProfile p) {
        return p.layerTokens(0, config.expertsPerToken());
    }

    private static void putFractions(ObjectNode o, ModelConfig config, NeuronProfile p) {
        ArrayNode zf = o.putArray("zero_fraction");
        for (int l = 0; l < p.layers(); l++) {
            if (!config.isMoe()) {
                add(zf, p.zeroFraction(l, 0));
            } else {
                ArrayNode experts = zf.addArray();
                for (int e = 0; e < p.experts(); e++) {
                    add(experts, p.zeroFraction(l, e)); // null: no token reached the expert
                }
            }
        }
        if (config.isMoe()) {
            ArrayNode layers = o.putArray("layer_zero_fraction");
            ArrayNode routed = o.putArray("expert_tokens");
            for (int l = 0; l < p.layers(); l++) {
                add(layers, p.zeroFraction(l));
                ArrayNode counts = routed.addArray();
                for (int e = 0; e < p.experts(); e++) {
                    counts.add(p.tokens(l, e));
                }
            }
        }
    }

    private static void add(ArrayNode a, double v) {
        if (Double.isFinite(v)) {
            a.add(round(v));
        } else {
            a.addNull();
        }
    }

    private static double round(double v) {
        return Math.round(v * 1e6) / 1e6;
    }
}

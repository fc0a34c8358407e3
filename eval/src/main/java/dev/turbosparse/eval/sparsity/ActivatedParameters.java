package dev.turbosparse.eval.sparsity;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.nn.HfWeightMap;

/**
 * The parameters a token uses, by role, given a measured profile: the paper's "activated parameters" (TurboSparse
 * Mistral-7B: 2.5 B of 7.2 B). Every parameter outside the FFN counts whole, as the paper counts it: the embedding
 * and lm-head matrices, attention, norms, the router. In the FFN a token uses, for each neuron of each expert it is
 * routed to that is not zero, that neuron's gate row, up row and down column: {@code 3 x hidden} parameters. So the
 * FFN figure is the expected number over the profiled tokens; an FFN with no zeros gives the dense count (Mistral-7B:
 * 7.24 B; Mixtral-8x7B with two experts a token: 12.9 B of 46.7 B).
 *
 * @param embeddings the input embedding and, if not tied, the lm head
 * @param attention q, k, v and o projections
 * @param norms RMSNorm weights
 * @param router Mixtral's expert gates
 * @param ffnActive the expected FFN parameters a token uses
 * @param ffnTotal all FFN parameters
 * @param predictors activation predictors (none in a model without them)
 */
public record ActivatedParameters(long embeddings, long attention, long norms, long router, double ffnActive,
        long ffnTotal, long predictors) {

    /** Activated parameters per token. */
    public double perToken() {
        return embeddings + attention + norms + router + ffnActive + predictors;
    }

    /** All parameters of the model. */
    public long total() {
        return embeddings + attention + norms + router + ffnTotal + predictors;
    }

    /** Counts a model's parameters by role from its config, and the FFN's active share from a profile. */
    public static ActivatedParameters of(ModelConfig config, NeuronProfile profile) {
        if (profile.layers() != config.numHiddenLayers() || profile.experts() != config.numExperts()
                || profile.neurons() != config.intermediateSize()) {
            throw new IllegalArgumentException("a profile of " + profile.layers() + " layers x " + profile.experts()
                    + " experts x " + profile.neurons() + " neurons does not fit the model");
        }
        long embeddings = 0;
        long attention = 0;
        long norms = 0;
        long router = 0;
        long ffn = 0;
        for (HfWeightMap.Entry e : HfWeightMap.entries(config)) {
            switch (e.role()) {
                case EMBEDDING, LM_HEAD -> embeddings += e.numel();
                case ATTENTION -> attention += e.numel();
                case NORM -> norms += e.numel();
                case ROUTER -> router += e.numel();
                case FFN -> ffn += e.numel();
            }
        }
        long perNeuron = 3L * config.hiddenSize();
        double ffnActive = 0;
        for (int l = 0; l < profile.layers(); l++) {
            long layerTokens = profile.layerTokens(l, config.expertsPerToken());
            if (layerTokens == 0) {
                throw new IllegalArgumentException("layer " + l + " of the profile saw no token");
            }
            for (int e = 0; e < profile.experts(); e++) {
                long routed = profile.tokens(l, e);
                long nonzero = routed * profile.neurons() - profile.zeros(l, e);
                ffnActive += (double) nonzero / layerTokens * perNeuron;
            }
        }
        return new ActivatedParameters(embeddings, attention, norms, router, ffnActive, ffn, 0);
    }
}

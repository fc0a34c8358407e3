package dev.turbosparse.trainer;

import dev.turbosparse.data.mixture.MixtureConfig;
import dev.turbosparse.data.mixture.MixtureSampler;
import dev.turbosparse.data.mixture.MixtureSpec;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.prepare.PrepareSettings;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;

/**
 * A recipe's data as a mixture stream: the sources of a mixture definition, prepared first unless they are ready,
 * or sources prepared before; checked against the model (tokenizer, vocabulary) and the recipe (seq_len) before
 * step 1.
 */
final class TrainingData {

    private TrainingData() {}

    /** Where the prepared sources are and how they mix. */
    record Plan(String dataUri, MixtureSpec spec, MixtureConfig definition) {}

    /** Reads the data section of a recipe (the mixture definition, if it names one). */
    static Plan plan(Recipe r) {
        Recipe.Data d = r.data();
        if (d.prepared() != null) {
            return new Plan(d.prepared(), new MixtureSpec(d.weights(), d.temperature() == null ? 1.0 : d.temperature()),
                    null);
        }
        MixtureConfig c = MixtureConfig.read(Path.of(d.mixture()));
        if (c.seqLen() != r.seqLen()) {
            throw new InputException("key 'seq_len': the recipe says " + r.seqLen() + ", but the mixture " + d.mixture()
                    + " prepares sequences of " + c.seqLen() + " tokens; make them agree");
        }
        MixtureSpec fromDefinition = c.spec();
        Map<String, Double> weights = d.weights() != null ? d.weights() : fromDefinition.weights();
        for (String name : weights.keySet()) {
            if (!c.sources().containsKey(name)) {
                throw new InputException("key 'data.weights." + name + "': the mixture " + d.mixture()
                        + " has no source '" + name + "' (it has " + c.sources().keySet() + ")");
            }
        }
        double t = d.temperature() != null ? d.temperature() : fromDefinition.temperature();
        return new Plan(c.data(), new MixtureSpec(weights, t), c);
    }

    /**
     * Prepares the sources of the plan's definition that the mixture uses (a re-run skips what is complete), after
     * checking that the definition's tokenizer is the model's.
     */
    static void prepare(Recipe r, Plan plan, TokenizerFiles model, Configuration conf, Preparer.Listener listener)
            throws IOException {
        MixtureConfig c = plan.definition();
        TokenizerFiles definition = TokenizerFiles.read(c.tokenizer(), conf);
        if (!definition.sha256().equals(model.sha256())) {
            throw new InputException(r.data().mixture() + ": key 'tokenizer': " + definition.source() + " ("
                    + abbrev(definition.sha256()) + ") is not the model's tokenizer " + model.source() + " ("
                    + abbrev(model.sha256()) + "): data must be prepared with the model's tokenizer");
        }
        double heldout = r.data().heldout() != null ? r.data().heldout()
                : c.heldout() != null ? c.heldout() : PrepareSettings.DEFAULT_HELDOUT;
        PrepareSettings d = PrepareSettings.defaults(c.seqLen());
        PrepareSettings settings = new PrepareSettings(d.seqLen(), d.format(), d.textField(), d.include(), d.exclude(),
                d.bos(), d.eos(), heldout, d.shardSequences(), d.strict(), d.keepTokens(), d.force());
        Map<String, String> inputs = new LinkedHashMap<>();
        plan.spec().weights().keySet().forEach(name -> inputs.put(name, c.inputs().get(name)));
        try (Tokenizer tok = Preparer.loadTokenizer(c.tokenizer(), conf)) {
            new Preparer(conf, settings, c.data(), tok, listener).prepare(inputs);
        }
    }

    /**
     * Opens the mixture stream and refuses data the model cannot train on: made with another tokenizer, holding ids
     * beyond the vocabulary, or of another sequence length than the recipe's.
     */
    static MixtureSampler open(Recipe r, Plan plan, ModelConfig config, TokenizerFiles tokenizer, Configuration conf) {
        MixtureSampler sampler = MixtureSampler.open(plan.dataUri(), plan.spec(), r.seedValue(), conf);
        for (String name : plan.spec().weights().keySet()) {
            Manifest m = sampler.manifest(name);
            m.tokenizer().requireReadableBy("source '" + name + "' in " + plan.dataUri(), tokenizer.sha256(),
                    tokenizer.source(), config.vocabSize());
            if (m.seqLen() != r.seqLen()) {
                throw new InputException("key 'seq_len': the recipe says " + r.seqLen() + ", but source '" + name
                        + "' in " + plan.dataUri() + " was prepared with " + m.seqLen());
            }
        }
        return sampler;
    }

    private static String abbrev(String sha) {
        return sha.substring(0, Math.min(12, sha.length())) + "...";
    }

    /** The sources of the mixture, in its order. */
    static List<String> sources(Plan plan) {
        return List.copyOf(plan.spec().weights().keySet());
    }
}

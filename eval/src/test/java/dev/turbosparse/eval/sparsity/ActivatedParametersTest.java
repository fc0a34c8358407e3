package dev.turbosparse.eval.sparsity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.config.ModelConfig;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Activated parameters per token, counted by hand. */
class ActivatedParametersTest {

    static ModelConfig config(String json) {
        return ConfigIO.parse("test config", json.getBytes(StandardCharsets.UTF_8));
    }

    static String mistral(int hidden, int inter, int layers, int heads, int kvHeads, int headDim, int vocab) {
        return "{\"architectures\":[\"MistralForCausalLM\"],\"model_type\":\"mistral\",\"hidden_size\":" + hidden
                + ",\"intermediate_size\":" + inter + ",\"num_hidden_layers\":" + layers + ",\"num_attention_heads\":"
                + heads + ",\"num_key_value_heads\":" + kvHeads + ",\"head_dim\":" + headDim + ",\"vocab_size\":"
                + vocab + ",\"hidden_act\":\"relu\",\"ffn_activation\":\"drelu\",\"tie_word_embeddings\":false,"
                + "\"rms_norm_eps\":1e-5,\"rope_theta\":1e6,\"max_position_embeddings\":256}";
    }

    @Test
    void aSmallDenseModelByHand() {
        // hidden 64, intermediate 192, 2 layers, 4 heads of 16, 2 KV heads, vocabulary 512, untied
        ModelConfig c = config(mistral(64, 192, 2, 4, 2, 16, 512));
        NeuronProfile p = new NeuronProfile(2, 1, 192);
        // layer 0: one token with 48 of 192 neurons active (75% zeros); layer 1: two tokens, 96 active each (50%)
        float[] one = new float[192];
        for (int j = 0; j < 48; j++) {
            one[j] = 1f;
        }
        p.count(0, 0, one, 1);
        float[] two = new float[2 * 192];
        for (int j = 0; j < 96; j++) {
            two[j] = 1f;
            two[192 + 96 + j] = 2f;
        }
        p.count(1, 0, two, 2);
        ActivatedParameters a = ActivatedParameters.of(c, p);
        assertEquals(2 * 512 * 64, a.embeddings(), "embedding and lm head");
        assertEquals(2 * (64 * 64 + 64 * 32 + 64 * 32 + 64 * 64), a.attention(), "q, k, v, o per layer");
        assertEquals(2 * 2 * 64 + 64, a.norms(), "two per layer and the final one");
        assertEquals(0, a.router());
        assertEquals(2 * 3 * 64 * 192, a.ffnTotal());
        // per token: layer 0 48 neurons, layer 1 96 neurons, 3 x 64 parameters each
        assertEquals((48 + 96) * 3 * 64, a.ffnActive(), 1e-9);
        assertEquals(65_536 + 24_576 + 320 + 27_648, a.perToken(), 1e-9);
        assertEquals(65_536 + 24_576 + 320 + 73_728, a.total());
    }

    @Test
    void withoutZerosTheDenseCountsOfMistralAndMixtral() {
        ModelConfig mistral = config(mistral(4096, 14336, 32, 32, 8, 128, 32000));
        ActivatedParameters m = ActivatedParameters.of(mistral, noZeros(mistral, new long[] {100}));
        assertEquals(7_241_732_096L, m.total(), "Mistral-7B");
        assertEquals(7_241_732_096.0, m.perToken(), 1e-3);

        ModelConfig mixtral = config(mistral(4096, 14336, 32, 32, 8, 128, 32000)
                .replace("MistralForCausalLM", "MixtralForCausalLM").replace("\"mistral\"", "\"mixtral\"")
                .replace("}", ",\"num_local_experts\":8,\"num_experts_per_tok\":2}"));
        // 100 tokens, 2 experts each, spread unevenly: the count does not depend on the routing
        ActivatedParameters x = ActivatedParameters.of(mixtral, noZeros(mixtral, new long[] {50, 30, 20, 40, 10,
            25, 15, 10}));
        assertEquals(46_702_792_704L, x.total(), "Mixtral-8x7B");
        assertEquals(12_879_925_248.0, x.perToken(), 1e-2, "two experts of eight");
    }

    /** Every layer's experts saw these many tokens, with no zero. */
    private static NeuronProfile noZeros(ModelConfig c, long[] tokensPerExpert) {
        int neurons = c.intermediateSize();
        NeuronProfile p = new NeuronProfile(c.numHiddenLayers(), c.numExperts(), neurons);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            for (int e = 0; e < c.numExperts(); e++) {
                int rows = (int) tokensPerExpert[e];
                float[] h = new float[rows * neurons];
                java.util.Arrays.fill(h, 1f);
                p.count(l, e, h, rows);
            }
        }
        return p;
    }
}

package dev.turbosparse.model.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.activations.ZeroCounter;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.TestData;
import dev.turbosparse.model.safetensors.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every architecture against reference numbers from independent implementations (testdata/parity/README.md): a
 * PyTorch re-implementation of transformers' modeling code, cross-checked in float64 numpy and against llama.cpp.
 */
class ParityTest {

    private static final org.apache.logging.log4j.Logger LOG =
            org.apache.logging.log4j.LogManager.getLogger(ParityTest.class);

    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    /** Reference data of one fixture. */
    record Reference(long[] inputIds, float[] logits, float[] loss, long[] greedyPrompt, long[] greedyTokens,
            float[] zeroFraction, float[] residualStream, long[] selectedExperts, float[] routingWeights,
            long[] expertTokenCounts, JsonNode json) {

        static Reference of(String name) throws IOException {
            Path dir = TestData.parity(name);
            JsonNode json = JsonMapper.builder().build().readTree(Files.readAllBytes(dir.resolve("reference.json")));
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
                boolean moe = f.tensors().containsKey("selected_experts");
                return new Reference(f.readLongs("input_ids"), f.readFloats("logits"), f.readFloats("loss"),
                        f.readLongs("greedy_prompt"), f.readLongs("greedy_tokens"), f.readFloats("ffn_zero_fraction"),
                        f.readFloats("residual_stream"), moe ? f.readLongs("selected_experts") : null,
                        moe ? f.readFloats("routing_weights") : null, moe ? f.readLongs("expert_token_counts") : null,
                        json);
            }
        }
    }

    static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mistral-swa", "mixtral", "mistral-drelu", "mixtral-drelu"})
    void logitsLossResidualsRoutingAndZerosMatchTheReference(String name) throws IOException {
        Reference ref = Reference.of(name);
        try (CausalLM model = HfCheckpoint.load(TestData.parity(name), manager);
                NDManager step = manager.newSubManager()) {
            ZeroCounter zeros = new ZeroCounter(model.config().numHiddenLayers(), model.config().numExperts());
            NDArray ids = step.create(ref.inputIds(), new Shape(2, 20));
            CausalLM.Output out = model.forward(new ParameterStore(step, false), ids,
                    CausalLM.Options.DEFAULT.withObserver(zeros).withRouterLogits(true).withHiddenStates(true), false);

            float[] logits = out.logits().toFloatArray();
            float scale = maxAbs(ref.logits());
            float diff = maxAbsDiff(logits, ref.logits());
            assertTrue(diff <= 1e-4f * scale, name + ": logits differ by " + diff + " (max |logit| " + scale + ")");
            LOG.info("{}: max |logit - reference| = {} (max |logit| {})", name, diff, scale);

            float[] loss = LmLoss.perSequence(out.logits(), ids).toFloatArray();
            for (int b = 0; b < 2; b++) {
                assertEquals(ref.loss()[b], loss[b], 1e-4, name + ": loss of sequence " + b);
            }

            float[] residual = NDArrayStack.stack(out.hiddenStates()).toFloatArray();
            float rdiff = maxAbsDiff(residual, ref.residualStream());
            assertTrue(rdiff <= 1e-4f * maxAbs(ref.residualStream()), name + ": residual stream differs by " + rdiff);

            int layers = model.config().numHiddenLayers();
            int experts = model.config().numExperts();
            long inter = model.config().intermediateSize();
            for (int l = 0; l < layers; l++) {
                for (int e = 0; e < experts; e++) {
                    double refFraction = ref.zeroFraction()[l * experts + e];
                    long refZeros = Math.round(refFraction * zeros.elements(l, e));
                    int flippable = flippable(ref.json(), l, e, experts > 1);
                    long got = zeros.zeros(l, e);
                    assertTrue(Math.abs(got - refZeros) <= flippable, name + ": layer " + l + " expert " + e + " has "
                            + got + " zeros, reference " + refZeros + " (" + flippable + " could flip)");
                    if (experts > 1) {
                        assertEquals(ref.expertTokenCounts()[l * experts + e] * inter, zeros.elements(l, e),
                                name + ": tokens routed to layer " + l + " expert " + e);
                    }
                }
            }

            if (ref.selectedExperts() != null) {
                List<NDArray> router = out.routerLogits();
                assertEquals(layers, router.size());
                int k = model.config().expertsPerToken();
                for (int l = 0; l < layers; l++) {
                    NDArray probs = router.get(l).softmax(-1); // (40, experts)
                    NDArray sel = probs.argSort(-1, false).get(new NDIndex(":, :{}", k));
                    long[] got = sel.toLongArray();
                    long[] want = java.util.Arrays.copyOfRange(ref.selectedExperts(), l * 40 * k, (l + 1) * 40 * k);
                    assertArrayEquals(want, got, name + ": experts selected in layer " + l);
                    NDArray w = probs.gather(sel, 1);
                    float[] weights = w.div(w.sum(new int[] {1}, true)).toFloatArray();
                    float[] wantW = java.util.Arrays.copyOfRange(ref.routingWeights(), l * 40 * k, (l + 1) * 40 * k);
                    assertTrue(maxAbsDiff(weights, wantW) < 1e-5, name + ": routing weights of layer " + l);
                }
                float aux = RouterLoss.loadBalancing(router, experts, k).getFloat();
                assertEquals(ref.json().get("router_aux_loss_unscaled").floatValue(), aux, 1e-5,
                        name + ": router load-balancing loss");
            }
        }
    }

    private static int flippable(JsonNode json, int layer, int expert, boolean moe) {
        JsonNode n = json.get("ffn_preactivations_abs_below_1e-4");
        if (n == null) {
            return 0; // SwiGLU: no exact zeros at all
        }
        return moe ? n.get(layer).get(expert).asInt() : n.get(layer).asInt();
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mistral-swa", "mixtral", "mistral-drelu", "mixtral-drelu"})
    void greedyDecodingThroughTheKvCacheMatchesTheReference(String name) throws IOException {
        Reference ref = Reference.of(name);
        try (CausalLM model = HfCheckpoint.load(TestData.parity(name), manager);
                KvCache cache = new KvCache(manager, model.config(), 1, 20)) {
            long[] generated = new long[ref.greedyTokens().length];
            long[] next = ref.greedyPrompt();
            for (int i = 0; i < generated.length; i++) {
                try (NDManager step = manager.newSubManager()) {
                    NDArray ids = step.create(next, new Shape(1, next.length));
                    NDArray logits = model.forward(new ParameterStore(step, false), ids,
                            CausalLM.Options.DEFAULT.withCache(cache).withLastPositionOnly(true), false).logits();
                    generated[i] = logits.reshape(-1).argMax().getLong();
                    next = new long[] {generated[i]};
                }
            }
            assertArrayEquals(ref.greedyTokens(), generated, name + ": greedy continuation");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mistral-swa", "mixtral-drelu"})
    void cachedDecodingGivesTheLogitsOfTheFullSequence(String name) throws IOException {
        Reference ref = Reference.of(name);
        try (CausalLM model = HfCheckpoint.load(TestData.parity(name), manager);
                KvCache cache = new KvCache(manager, model.config(), 2, 20);
                NDManager step = manager.newSubManager()) {
            ParameterStore ps = new ParameterStore(step, false);
            NDArray ids = step.create(ref.inputIds(), new Shape(2, 20));
            // A prompt of 7, then 13 single tokens: with a window of 8 the window bites from position 8 on.
            NDArray first = model.forward(ps, ids.get(":, :7"), CausalLM.Options.DEFAULT.withCache(cache), false)
                    .logits();
            float[] full = ref.logits();
            float[] firstLogits = first.toFloatArray();
            for (int b = 0; b < 2; b++) {
                for (int i = 0; i < 7 * 512; i++) {
                    assertEquals(full[b * 20 * 512 + i], firstLogits[b * 7 * 512 + i], 1e-3f);
                }
            }
            for (int t = 7; t < 20; t++) {
                float[] got = model.forward(ps, ids.get(new NDIndex(":, {}:{}", t, t + 1)),
                        CausalLM.Options.DEFAULT.withCache(cache), false).logits().toFloatArray();
                for (int b = 0; b < 2; b++) {
                    for (int v = 0; v < 512; v++) {
                        assertEquals(full[(b * 20 + t) * 512 + v], got[b * 512 + v], 1e-3f,
                                name + ": sequence " + b + " position " + t);
                    }
                }
            }
            assertEquals(20, cache.length());
        }
    }
}

package dev.turbosparse.eval.sparsity;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.nn.CausalLM;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The profiler on the parity fixtures' dReLU models, against the zero fractions of the PyTorch reference. */
class SparsityProfilerTest {

    static Path parity(String name) {
        String prop = System.getProperty("turbosparse.testdata");
        return Path.of(prop != null ? prop : "../testdata").resolve("parity").resolve(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu", "mixtral-drelu"})
    void zeroFractionsPerLayerAndExpertEqualTheReference(String name) throws IOException {
        JsonNode ref = JsonMapper.builder().build().readTree(Files.readAllBytes(parity(name).resolve("reference.json")));
        List<Integer> ids = new ArrayList<>();
        ref.get("input_ids").forEach(row -> row.forEach(t -> ids.add(t.asInt())));
        int rows = ref.get("input_ids").size();
        int length = ref.get("input_ids").get(0).size();
        try (NDManager manager = NDManager.newBaseManager(); CausalLM model = HfCheckpoint.load(parity(name), manager)) {
            NeuronProfile profile = SparsityProfiler.emptyProfile(model);
            List<Long> progress = new ArrayList<>();
            // one sequence a forward pass: the counts of two passes add up to the reference's one batch of two
            SparsityProfiler.profile(model, ids.stream().mapToInt(Integer::intValue).toArray(), rows, length, 1,
                    profile, progress::add);
            assertEquals(List.of((long) length, 2L * length), progress);
            JsonNode fractions = ref.get("ffn_zero_fraction");
            for (int l = 0; l < profile.layers(); l++) {
                if (profile.experts() == 1) {
                    assertEquals(fractions.get(l).asDouble(), profile.zeroFraction(l, 0), 5e-7, "layer " + l);
                    assertEquals(rows * length, profile.tokens(l, 0));
                } else {
                    for (int e = 0; e < profile.experts(); e++) {
                        assertEquals(ref.get("expert_token_counts").get(l).get(e).asLong(), profile.tokens(l, e),
                                "tokens routed to layer " + l + " expert " + e);
                        assertEquals(fractions.get(l).get(e).asDouble(), profile.zeroFraction(l, e), 5e-7,
                                "layer " + l + " expert " + e);
                    }
                }
                // the activation frequencies are the same counts, per neuron
                for (int e = 0; e < profile.experts(); e++) {
                    double mean = 0;
                    for (double f : profile.activationFrequency(l, e)) {
                        assertTrue(f >= 0 && f <= 1, "a frequency: " + f);
                        mean += f / profile.neurons();
                    }
                    assertEquals(1 - profile.zeroFraction(l, e), mean, 1e-12);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral-drelu"})
    void aTokenOutsideTheVocabularyIsNamed(String name) {
        try (NDManager manager = NDManager.newBaseManager(); CausalLM model = HfCheckpoint.load(parity(name), manager)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparsityProfiler.profile(
                    model, new int[] {1, 2, 512}, 1, 3, 1, SparsityProfiler.emptyProfile(model), null));
            assertTrue(e.getMessage().contains("token id 512 at (sequence 0, position 2)"), e.getMessage());
        }
    }
}

package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;

import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.nn.CausalLM;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The debug recipes end to end on the bundled demo mixture, and the guards. */
class TrainerTest {

    @TempDir
    static Path shared;
    static Path mixture;

    @TempDir
    Path dir;

    @BeforeAll
    static void demoMixture() throws IOException {
        mixture = TestPaths.demoMixture(shared, shared.resolve("demo-data"));
    }

    static Recipe recipe(String name, Path output, String... overrides) {
        List<String> all = new ArrayList<>(List.of("data.mixture=" + mixture, "output=" + output));
        all.addAll(List.of(overrides));
        return Recipe.read(TestPaths.config(name), all);
    }

    static List<JsonNode> metrics(Path output) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(output.resolve(MetricsLog.FILE_NAME))) {
            out.add(MetricsLog.JSON.readTree(line));
        }
        return out;
    }

    static Trainer.Result train(Recipe r, boolean resume) throws IOException {
        return Trainer.run(r, resume, Fs.configuration(), null);
    }

    @Test
    void debugSwigluPretrainsFromScratchAndItsLossFalls() throws IOException {
        Path out = dir.resolve("run");
        Trainer.Result result = train(recipe("debug-swiglu.yaml", out), false);
        List<JsonNode> lines = metrics(out);
        assertEquals(31, lines.size(), "a baseline line and one per step");
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(i, lines.get(i).get("step").asLong());
            assertTrue(lines.get(i).get("loss").isNumber(), "every line has a loss: " + lines.get(i));
        }
        double first = lines.get(1).get("loss").asDouble();
        double last = lines.getLast().get("loss").asDouble();
        assertTrue(first > 10 && last < first - 2, "the loss falls: " + first + " -> " + last);
        JsonNode before = lines.get(0).get("heldout_loss");
        JsonNode after = lines.getLast().get("heldout_loss");
        for (String domain : List.of("web", "code", "math")) {
            assertTrue(after.get(domain).asDouble() < before.get(domain).asDouble() - 2, domain + ": " + before + " -> "
                    + after);
        }
        assertEquals(30, result.step());
        assertEquals(30L * 8 * 256, result.tokens());
        JsonNode step = lines.get(5);
        for (String key : List.of("lr", "grad_norm", "tokens", "tokens_per_s", "mfu", "step_seconds")) {
            assertTrue(step.get(key).isNumber(), key + " in " + step);
        }
        // the final model is an HF checkpoint in the config's dtype, with its tokenizer
        Path fin = out.resolve("final");
        assertEquals("bfloat16", ConfigIO.read(fin).torchDtype(), "the dtype of the config it started from");
        assertTrue(Files.exists(fin.resolve("tokenizer.json")));
        assertTrue(Files.exists(out.resolve(RunFolder.RECIPE_FILE)));
        try (NDManager m = NDManager.newBaseManager(); CausalLM model = HfCheckpoint.load(fin, m)) {
            assertEquals("silu", model.config().activation().configName());
        }
        // keep: 1 leaves the last checkpoint only
        try (var list = Files.list(out.resolve(RunFolder.CHECKPOINTS))) {
            assertEquals(List.of("step-000030"), list.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void debugMixtralTrainsExpertsWithTheRouterLoss() throws IOException {
        Path out = dir.resolve("run");
        train(recipe("debug-mixtral.yaml", out), false);
        List<JsonNode> lines = metrics(out);
        double first = lines.get(1).get("loss").asDouble();
        double last = lines.getLast().get("loss").asDouble();
        assertTrue(last < first - 2, "the loss falls: " + first + " -> " + last);
        JsonNode aux = lines.getLast().get("aux_loss");
        // E * sum_e f_e P_e over top-2 slots: 2 when balanced, at most 2 * 4 when one expert takes everything
        assertTrue(aux.asDouble() >= 1.9 && aux.asDouble() < 8, "router load-balancing loss: " + aux);
        JsonNode zeros = lines.get(10).get("ffn_zero_fraction");
        assertEquals(2, zeros.size(), "per layer");
        assertEquals(4, zeros.get(0).size(), "per expert");
        for (JsonNode layer : zeros) {
            for (JsonNode expert : layer) {
                assertTrue(expert.isNull() || expert.asDouble() > 0.4 && expert.asDouble() < 1, "dReLU zeros: " + zeros);
            }
        }
        // the start model's sparsity, over the held-out sequences, in the step-0 line
        JsonNode start = lines.get(0).get("ffn_zero_fraction");
        assertEquals(2, start.size(), "per layer: " + lines.get(0));
        assertEquals(4, start.get(0).size(), "per expert: " + lines.get(0));
        assertTrue(start.get(0).get(0).asDouble() > 0.4 && start.get(0).get(0).asDouble() < 1, "dReLU zeros: " + start);
    }

    @Test
    void anOutputThatHoldsARunIsRefusedWithoutResume() throws IOException {
        Path out = dir.resolve("run");
        String[] short2 = {"steps=2", "eval.every=0", "checkpoint.every=1", "schedule.warmup_steps=0"};
        train(recipe("debug-swiglu.yaml", out, short2), false);
        InputException e = assertThrows(InputException.class, () -> train(recipe("debug-swiglu.yaml", out, short2), false));
        assertTrue(e.getMessage().contains("already holds a run (its latest checkpoint is step 2); pass --resume"),
                e.getMessage());
        // a resumed run must keep its recipe: the learning rate may not change
        InputException changed = assertThrows(InputException.class, () -> train(recipe("debug-swiglu.yaml", out,
                "steps=4", "eval.every=0", "checkpoint.every=1", "schedule.warmup_steps=0", "optimizer.lr=1e-2"), true));
        assertTrue(changed.getMessage().contains("'optimizer.lr' 0.003 -> 0.01"), changed.getMessage());
        // but its budget may grow
        Trainer.Result more = train(recipe("debug-swiglu.yaml", out, "steps=4", "eval.every=0", "checkpoint.every=1",
                "schedule.warmup_steps=0"), true);
        assertEquals(4, more.step());
        assertEquals(List.of(1L, 2L, 3L, 4L), metrics(out).stream().map(n -> n.get("step").asLong()).toList());
    }

    @Test
    void aDivergingRunStopsNamingTheLastGoodCheckpoint() throws IOException {
        Path out = dir.resolve("run");
        // lr 1e30: the first update throws every weight to about 1e30, the next losses are not finite
        Recipe r = recipe("debug-swiglu.yaml", out, "steps=10", "eval.every=0", "checkpoint.every=1",
                "schedule.kind=constant", "schedule.warmup_steps=0", "schedule.min_lr=null", "optimizer.lr=1e30",
                "max_bad_steps=3");
        TrainingException e = assertThrows(TrainingException.class, () -> train(r, false));
        assertTrue(e.getMessage().startsWith("step 4: 3 steps in a row (max_bad_steps) had a loss or gradient that is"
                + " not finite"), e.getMessage());
        assertTrue(e.getMessage().contains("the last good checkpoint is file:" + out + "/checkpoints/step-000001 (step 1)"),
                e.getMessage());
        List<JsonNode> lines = metrics(out);
        assertEquals(4, lines.size());
        assertTrue(lines.get(3).get("skipped").asBoolean());
        assertTrue(lines.get(3).get("grad_norm").isNull(), "a non-finite number is written as null: " + lines.get(3));
        assertEquals(3, lines.get(3).get("skipped_steps").asLong());
        assertFalse(Files.exists(out.resolve("checkpoints/step-000003")), "no checkpoint while steps are skipped");
    }

    @Test
    void dataMadeWithAnotherTokenizerIsRefusedBeforeStepOne() throws IOException {
        // the same tokenizer re-serialised: another file, so another fingerprint
        Path other = dir.resolve("other-tokenizer");
        Files.createDirectories(other);
        String json = Files.readString(TestPaths.root().resolve("models/tiny-mistral-swiglu/tokenizer.json"));
        Files.writeString(other.resolve("tokenizer.json"), json.replaceFirst("\\{", "{ "));
        Path out = dir.resolve("run");
        Recipe r = recipe("debug-swiglu.yaml", out, "model.tokenizer=" + other);
        InputException e = assertThrows(InputException.class, () -> train(r, false));
        assertTrue(e.getMessage().contains("key 'tokenizer'") && e.getMessage().contains("is not the model's tokenizer"),
                e.getMessage());
        assertFalse(Files.exists(out.resolve(MetricsLog.FILE_NAME)), "nothing trained");
        // the same check holds for data prepared beforehand
        Recipe prepared = recipe("debug-swiglu.yaml", out, "model.tokenizer=" + other, "data.mixture=null",
                "data.prepared=" + shared.resolve("demo-data"), "data.weights={web: 0.7, code: 0.2, math: 0.1}");
        InputException e2 = assertThrows(InputException.class, () -> train(prepared, false));
        assertTrue(e2.getMessage().contains("was prepared with tokenizer") && e2.getMessage().contains(
                "prepare the data with the model's tokenizer"), e2.getMessage());
    }
}

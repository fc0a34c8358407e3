package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Recipes are read strictly: every bad one is refused with its key path; overrides apply before the checks. */
class RecipeTest {

    @TempDir
    Path dir;

    static final String GOOD = """
            name: t
            model:
              base: ../models/tiny-mistral-swiglu
              activation: drelu
            data:
              mixture: mixtures/demo.yaml
            seq_len: 256
            micro_batch: 4
            grad_accumulation: 2
            steps: 40
            optimizer:
              lr: 3e-4
              betas: [0.9, 0.95]
              weight_decay: 0.1
            schedule:
              kind: cosine
              warmup_steps: 4
              min_lr: 3.0e-5
            grad_clip: 1.0
            seed: 1
            output: ../out/t
            """;

    private Path write(String yaml) throws IOException {
        Path f = dir.resolve("recipe.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void aGoodRecipeReadsWithDefaultsAndAbsolutePaths() throws IOException {
        Recipe r = Recipe.read(write(GOOD), List.of());
        assertEquals(3e-4, r.optimizer().lr(), "3e-4 (no dot, no exponent sign) is a number");
        assertEquals(8, r.sequencesPerStep());
        assertEquals(8 * 256, r.tokensPerStep());
        assertEquals(40, r.totalSteps());
        assertEquals(dir.resolveSibling("models/tiny-mistral-swiglu").normalize().toString(), r.model().base());
        assertEquals(1e-8, r.eps());
        assertEquals(5, r.badStepLimit());
        assertEquals(List.of("cpu"), r.deviceNames());
    }

    @Test
    void overridesApplyBeforeTheChecks() throws IOException {
        Recipe r = Recipe.read(write(GOOD), List.of("optimizer.lr=1e-4", "steps=7", "eval.every=2", "devices=[cpu]"));
        assertEquals(1e-4, r.optimizer().lr());
        assertEquals(7, r.totalSteps());
        assertEquals(2, r.evalEvery());
    }

    @Test
    void pathsInOverridesAreRelativeToTheWorkingFolder() throws IOException {
        Recipe r = Recipe.read(write(GOOD), List.of("output=runs/x"));
        assertEquals(Path.of("runs/x").toAbsolutePath().normalize().toString(), r.output());
        assertEquals(dir.resolveSibling("out/t").normalize().toString(),
                Recipe.read(write(GOOD), List.of()).output(), "in the recipe: relative to the recipe");
    }

    @Test
    void aTokenBudgetRoundsUpToWholeSteps() throws IOException {
        Recipe r = Recipe.read(write(GOOD.replace("steps: 40", "tokens: 1.5e4")), List.of());
        assertEquals(8, r.totalSteps(), "15,000 tokens at 2,048 a step");
    }

    @Test
    void theResolvedRecipeReadsBackToTheSameRecipe() throws IOException {
        Recipe r = Recipe.read(write(GOOD), List.of());
        Recipe again = Recipe.parse(r.toYaml(), "saved");
        assertEquals(r.toYaml(), again.toYaml());
        assertTrue(r.toYaml().contains("max_bad_steps: 5"), "defaults are written out: " + r.toYaml());
    }

    static Stream<Arguments> badRecipes() {
        return Stream.of(
                Arguments.of("an unknown key", GOOD.replace("grad_clip: 1.0", "grad_clipp: 1.0"),
                        "key 'grad_clipp': unknown key"),
                Arguments.of("an unknown nested key", GOOD.replace("  weight_decay: 0.1", "  weight_decay: 0.1\n  momentum: 0.9"),
                        "key 'optimizer.momentum': unknown key"),
                Arguments.of("a wrong type", GOOD.replace("micro_batch: 4", "micro_batch: four"),
                        "key 'micro_batch'"),
                Arguments.of("a float where an integer goes", GOOD.replace("micro_batch: 4", "micro_batch: 4.5"),
                        "key 'micro_batch'"),
                Arguments.of("a missing key", GOOD.replace("seq_len: 256\n", ""), "key 'seq_len': is required"),
                Arguments.of("a negative learning rate", GOOD.replace("lr: 3e-4", "lr: -3e-4"),
                        "key 'optimizer.lr': must be a positive number"),
                Arguments.of("a beta of 1", GOOD.replace("[0.9, 0.95]", "[0.9, 1.0]"), "key 'optimizer.betas[1]'"),
                Arguments.of("three betas", GOOD.replace("[0.9, 0.95]", "[0.9, 0.95, 0.99]"), "key 'optimizer.betas'"),
                Arguments.of("warmup beyond the run", GOOD.replace("warmup_steps: 4", "warmup_steps: 41"),
                        "key 'schedule.warmup_steps'"),
                Arguments.of("min_lr above lr", GOOD.replace("min_lr: 3.0e-5", "min_lr: 3.0e-3"),
                        "key 'schedule.min_lr'"),
                Arguments.of("an unknown schedule", GOOD.replace("kind: cosine", "kind: linear"), "key 'schedule.kind'"),
                Arguments.of("steps and tokens", GOOD.replace("steps: 40", "steps: 40\ntokens: 1e9"),
                        "exactly one of 'steps' and 'tokens'"),
                Arguments.of("no budget", GOOD.replace("steps: 40\n", ""), "exactly one of 'steps' and 'tokens'"),
                Arguments.of("an unknown activation", GOOD.replace("activation: drelu", "activation: tanh"),
                        "key 'model.activation'"),
                Arguments.of("base and init", GOOD.replace("  activation: drelu", "  activation: drelu\n  init: random"),
                        "'base' and 'init' exclude each other"),
                Arguments.of("init without a config", GOOD.replace("base: ../models/tiny-mistral-swiglu", "init: random"),
                        "'init: random' needs 'config'"),
                Arguments.of("bf16 training", GOOD + "precision: bf16\n", "key 'precision': only 'fp32'"),
                Arguments.of("a device that is no device", GOOD + "devices: [tpu]\n", "key 'devices': 'tpu'"),
                Arguments.of("no data", GOOD.replace("  mixture: mixtures/demo.yaml", "  weights: {web: 1}"),
                        "key 'data': give 'mixture'"),
                Arguments.of("prepared data without weights",
                        GOOD.replace("  mixture: mixtures/demo.yaml", "  prepared: /data"), "key 'data.weights'"),
                Arguments.of("a zero weight", GOOD.replace("  mixture: mixtures/demo.yaml",
                        "  mixture: mixtures/demo.yaml\n  weights: {web: 0.0, code: 1.0}"), "key 'data.weights.web'"),
                Arguments.of("a zero micro-batch", GOOD.replace("micro_batch: 4", "micro_batch: 0"),
                        "key 'micro_batch': must be at least 1"),
                Arguments.of("no checkpoint kept", GOOD + "checkpoint: {every: 10, keep: 0}\n", "key 'checkpoint.keep'"),
                Arguments.of("a list for a mapping", GOOD.replace("schedule:\n  kind: cosine\n  warmup_steps: 4\n"
                        + "  min_lr: 3.0e-5", "schedule: [cosine]"), "key 'schedule'"),
                Arguments.of("not a mapping", "- a\n- b\n", "a recipe is a mapping"),
                Arguments.of("not YAML", "model: [unclosed\n", "not valid YAML"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRecipes")
    void badRecipesAreRefusedNamingTheKey(String what, String yaml, String expected) throws IOException {
        Path f = write(yaml);
        InputException e = assertThrows(InputException.class, () -> Recipe.read(f, List.of()), what);
        assertTrue(e.getMessage().startsWith(f.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(expected), what + ": " + e.getMessage());
    }

    @Test
    void badOverridesAreRefusedNamingTheKey() throws IOException {
        Path f = write(GOOD);
        assertTrue(assertThrows(InputException.class, () -> Recipe.read(f, List.of("optimizer.lrr=1")))
                .getMessage().contains("key 'optimizer.lrr': unknown key"));
        assertTrue(assertThrows(InputException.class, () -> Recipe.read(f, List.of("steps")))
                .getMessage().contains("expected key.path=value"));
        assertTrue(assertThrows(InputException.class, () -> Recipe.read(f, List.of("seq_len.x=1")))
                .getMessage().contains("key 'seq_len' is not a mapping"));
        assertTrue(assertThrows(InputException.class, () -> Recipe.read(f, List.of("steps=-1")))
                .getMessage().contains("key 'steps': must be at least 1"));
    }

    @Test
    void aMissingRecipeIsNamed() {
        Path f = dir.resolve("nope.yaml");
        assertEquals(f + ": not found", assertThrows(InputException.class, () -> Recipe.read(f, List.of())).getMessage());
    }

    @Test
    void theShippedRecipesAllRead() throws IOException {
        Path configs = Path.of(System.getProperty("turbosparse.testdata", "../testdata")).toAbsolutePath().getParent()
                .resolve("configs");
        List<Path> recipes;
        try (Stream<Path> files = Files.list(configs)) {
            recipes = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        assertTrue(recipes.size() >= 5, "recipes in configs/: " + recipes);
        for (Path p : recipes) {
            Recipe r = Recipe.read(p, List.of());
            assertTrue(r.totalSteps() >= 1, p.toString());
        }
    }
}

package dev.turbosparse.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.model.tokenizer.ChatTemplate;
import dev.turbosparse.model.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GenerateCommandTest {

    private static CliRun generate(String... extra) {
        String[] base = {"generate", "--model", CliRun.tinyModel().toString(), "--prompt", "Sparse activations",
            "--max-tokens", "12"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return CliRun.of(args);
    }

    @Test
    void greedyStreamsTheSameContinuationEveryTime() {
        CliRun a = generate();
        assertEquals(0, a.exit(), a.err());
        assertTrue(a.out().startsWith("Sparse activations"), a.out());
        assertTrue(a.out().strip().length() > "Sparse activations".length(), "something was generated: " + a.out());
        assertTrue(a.err().contains("generated 12 tokens") || a.err().contains("(stopped at EOS)"), a.err());
        assertEquals(a.out(), generate().out());
    }

    @Test
    void seededSamplingIsReproducible() {
        CliRun a = generate("--temperature", "1.0", "--top-p", "0.95", "--seed", "3");
        CliRun b = generate("--temperature", "1.0", "--top-p", "0.95", "--seed", "3");
        CliRun c = generate("--temperature", "1.0", "--top-p", "0.95", "--seed", "4");
        assertEquals(0, a.exit(), a.err());
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out(), "another seed, another text");
    }

    @Test
    void aPromptLongerThanTheContextIsRefused() {
        CliRun run = CliRun.of("generate", "--model", CliRun.tinyModel().toString(), "--prompt", "word ".repeat(600));
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().matches("generate: the prompt has \\d+ tokens; the model's context holds 512 .*"),
                run.err());
    }

    @Test
    void aGgufModelNeedsItsTokenizer() {
        CliRun run = CliRun.of("generate", "--model", CliRun.parity("mistral").resolve("model.f32.gguf").toString(),
                "--prompt", "x");
        assertEquals(1, run.exit());
        assertTrue(run.errorLine().contains("a GGUF file; give --tokenizer DIR"), run.err());
    }

    @Test
    void theRuntimeEngineGreedilyContinuesAsTheDjlEngineInDenseAndExactMode() {
        CliRun djl = generate();
        assertEquals(0, djl.exit(), djl.err());
        for (String mode : new String[] {"dense", "exact"}) {
            // exact with the weights read into memory, not mapped
            CliRun runtime = mode.equals("dense")
                    ? generate("--engine", "runtime", "--mode", mode, "--threads", "2", "--mlock")
                    : generate("--engine", "runtime", "--mode", mode, "--threads", "2", "--no-mmap");
            assertEquals(0, runtime.exit(), runtime.err());
            assertEquals(djl.out(), runtime.out(), mode + ": the same greedy tokens");
            assertTrue(runtime.err().contains("runtime engine " + mode), runtime.err());
            assertEquals(mode.equals("exact"), runtime.err().matches("(?s).*--no-mmap: \\d+ MB of weights read into"
                    + " memory in \\d+\\.\\d s.*"), runtime.err());
        }
        CliRun djlLock = generate("--mlock");
        assertEquals(1, djlLock.exit());
        assertTrue(djlLock.errorLine().contains("--mlock locks the runtime engine's mapped weights"), djlLock.err());
        CliRun djlCopy = generate("--no-mmap");
        assertEquals(1, djlCopy.exit());
        assertTrue(djlCopy.errorLine().contains("--no-mmap is the runtime engine's"), djlCopy.err());
        CliRun swiglu = CliRun.of("generate", "--model", CliRun.root().resolve("models/tiny-mistral-swiglu").toString(),
                "--prompt", "x", "--engine", "runtime", "--mode", "exact");
        assertEquals(1, swiglu.exit());
        assertTrue(swiglu.errorLine().contains("SwiGLU, which has no such zeros"), swiglu.err());
    }

    @Test
    void aChatTemplateWritesThePromptAsAUsersMessage(@TempDir Path dir) throws IOException {
        Files.copy(CliRun.tinyModel().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": "<s>", "eos_token": "</s>", "chat_template": "{{ bos_token }}{% for m in messages %}\
                {% if m.role == 'system' %}<<{{ m.content }}>> {% else %}[INST] {{ m.content }} [/INST]{% endif %}{% endfor %}"}""");
        int want;
        try (Tokenizer t = Tokenizer.load(dir)) {
            want = t.encodeChat(List.of(new ChatTemplate.Message("system", "Be brief."),
                    new ChatTemplate.Message("user", "Sparse activations"))).length;
        }
        CliRun chat = generate("--tokenizer", dir.toString(), "--system", "Be brief.", "--engine", "runtime");
        assertEquals(0, chat.exit(), chat.err());
        assertTrue(chat.err().contains("the tokenizer's chat template wrote the prompt as " + want + " tokens"), chat.err());
        assertTrue(chat.err().contains("prompt " + want + " tokens"), chat.err());
        assertFalse(chat.out().startsWith("Sparse activations"), "stdout is the reply: " + chat.out());
        CliRun raw = generate("--tokenizer", dir.toString(), "--chat", "off");
        assertEquals(0, raw.exit(), raw.err());
        assertTrue(raw.out().startsWith("Sparse activations"), raw.out());
        assertFalse(raw.err().contains("chat template"), raw.err());
        // the tiny model's own tokenizer has no template
        CliRun none = generate("--chat", "on");
        assertEquals(1, none.exit());
        assertTrue(none.errorLine().endsWith("the tokenizer has no chat template (no chat_template in"
                + " tokenizer_config.json, no chat_template.jinja); use --chat off"), none.err());
        CliRun system = generate("--system", "x");
        assertEquals(1, system.exit());
        assertTrue(system.errorLine().endsWith("--system needs a chat template, and " + CliRun.tinyModel()
                + ": the tokenizer has none"), system.err());
    }

    @Test
    void badSamplingSettingsAreRefused() {
        CliRun run = generate("--top-p", "0");
        assertEquals(1, run.exit());
        assertEquals("generate: top-p must be in (0, 1], got 0.0", run.errorLine());
    }
}

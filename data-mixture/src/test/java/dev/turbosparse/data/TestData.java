package dev.turbosparse.data;

import dev.turbosparse.model.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/** The project's test fixtures and corpora. */
public final class TestData {

    private TestData() {}

    public static Path root() {
        String prop = System.getProperty("turbosparse.testdata");
        Path p = (prop != null ? Path.of(prop) : Path.of("..", "testdata")).toAbsolutePath().normalize();
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("test fixtures not found at " + p);
        }
        return p;
    }

    /** The Mistral-7B tokenizer folder. */
    public static Path tokenizerDir() {
        return root().resolve("tokenizers/mistral-v0.1");
    }

    public static Tokenizer tokenizer() {
        return Tokenizer.load(tokenizerDir());
    }
}

package dev.turbosparse.model;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the project's test fixtures (the {@code testdata/} folder at the top of the repository). */
public final class TestData {

    private TestData() {}

    public static Path root() {
        String prop = System.getProperty("turbosparse.testdata");
        Path p = prop != null ? Path.of(prop) : Path.of("..", "testdata");
        if (!Files.isDirectory(p)) {
            throw new IllegalStateException("test fixtures not found at " + p.toAbsolutePath());
        }
        return p.normalize();
    }

    /** A parity fixture model folder: mistral, mistral-swa, mixtral, mistral-drelu, mixtral-drelu. */
    public static Path parity(String name) {
        return root().resolve("parity").resolve(name);
    }

    public static Path mistralTokenizer() {
        return root().resolve("tokenizers").resolve("mistral-v0.1");
    }
}

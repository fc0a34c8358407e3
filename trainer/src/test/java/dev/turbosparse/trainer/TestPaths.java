package dev.turbosparse.trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository's bundled files are, and a demo mixture whose prepared data goes to a test's folder. */
final class TestPaths {

    private TestPaths() {}

    static Path root() {
        String prop = System.getProperty("turbosparse.testdata");
        Path p = (prop != null ? Path.of(prop) : Path.of("..", "testdata")).toAbsolutePath().normalize().getParent();
        if (!Files.isDirectory(p.resolve("configs"))) {
            throw new IllegalStateException("repository root not found at " + p);
        }
        return p;
    }

    static Path config(String name) {
        return root().resolve("configs").resolve(name);
    }

    /** configs/mixtures/demo.yaml with absolute paths, its prepared data in {@code dataDir}. */
    static Path demoMixture(Path dir, Path dataDir) throws IOException {
        Path root = root();
        String yaml = Files.readString(root.resolve("configs/mixtures/demo.yaml"))
                .replace("../../models/", root.resolve("models") + "/")
                .replace("../../data-mixture/", root.resolve("data-mixture") + "/")
                .replace("../../out/demo-data", dataDir.toString());
        Path f = dir.resolve("demo-mixture.yaml");
        Files.writeString(f, yaml);
        return f;
    }
}

package dev.turbosparse.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Runs a turbosparse command line in-process and captures what it prints. */
record CliRun(int exit, String out, String err) {

    static synchronized CliRun of(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Turbosparse.run(args);
            return new CliRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** The repository's top folder. */
    static Path root() {
        String prop = System.getProperty("turbosparse.testdata");
        Path p = (prop != null ? Path.of(prop) : Path.of("..", "testdata")).toAbsolutePath().normalize().getParent();
        if (!Files.isDirectory(p.resolve("models"))) {
            throw new IllegalStateException("repository root not found at " + p);
        }
        return p;
    }

    static Path parity(String name) {
        return root().resolve("testdata/parity").resolve(name);
    }

    static Path tinyModel() {
        return root().resolve("models/tiny-mistral-drelu");
    }

    /** The command line of a child JVM that runs turbosparse with this test JVM's flags (module and native access). */
    static List<String> childJvm() {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-") || a.startsWith("--enable-native-access") || a.startsWith("--sun-misc")
                    || a.startsWith("-Dai.djl") || a.startsWith("-Xss")) {
                cmd.add(a);
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Turbosparse.class.getName());
        return cmd;
    }

    /** The one line a failing command prints on stderr. */
    String errorLine() {
        return err.lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElse("");
    }
}

package dev.turbosparse.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.io.AtomicFiles;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The demo's stages, each resumable: a stage that finished wrote a marker ({@code stages/NAME.json}) last, with the
 * SHA-256 of each of its outputs and of everything it was made from (the earlier stages' outputs and the config files
 * it read). A re-run skips a stage whose marker is there, whose outputs still have those digests and whose inputs
 * are the same; anything else runs again. A stage that resumes its own work (training from its last checkpoint) keeps
 * what a killed run left, as long as it was started from the same inputs.
 */
final class DemoStages {

    private static final Logger LOG = LogManager.getLogger(DemoStages.class);
    private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

    /** What a stage does. */
    @FunctionalInterface
    interface Body {
        void run() throws Exception;
    }

    /** How one stage went in this run: skipped (complete before) or run, and the seconds it took when it ran. */
    record Outcome(String name, String what, boolean skipped, double secondsWhenRun) {}

    private final Path dir;
    private final Path markers;
    private final int total;
    private final Map<String, Double> expected;
    private final List<Outcome> outcomes = new ArrayList<>();
    /** Digests of every output of the stages so far, in order: the inputs of the next. */
    private final Map<String, String> upstream = new LinkedHashMap<>();
    private final long start = System.nanoTime();

    /**
     * @param dir the demo's folder; outputs are named relative to it
     * @param expected each stage's expected seconds on this kind of machine, for the estimate of the time left
     */
    DemoStages(Path dir, Map<String, Double> expected) {
        this.dir = dir;
        this.markers = dir.resolve("stages");
        this.total = expected.size();
        this.expected = expected;
    }

    List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    /**
     * Runs a stage unless it is complete and verified.
     *
     * @param owned what it writes, relative to the demo's folder (files or folders): removed before it starts afresh
     * @param outputs what of that the later stages use, verified by digest
     * @param configs files it reads besides the earlier stages' outputs; their contents are part of its inputs
     * @param how what it runs (its command lines), also part of its inputs: other settings make other outputs
     * @param resumable whether its body continues from what a killed run of it left (else that is removed first)
     */
    void run(String name, String what, List<String> owned, List<String> outputs, List<Path> configs, String how,
            boolean resumable, Body body) throws Exception {
        int index = outcomes.size() + 1;
        String inputs = inputsDigest(configs, how);
        Path marker = markers.resolve(name + ".json");
        Path started = markers.resolve(name + ".started");
        JsonNode done = read(marker);
        if (done != null && inputs.equals(done.path("inputs").asText())) {
            Map<String, String> now = digests(outputs);
            if (now != null && now.equals(recorded(done))) {
                LOG.info("demo [{}/{}] {}: complete and verified, skipped", index, total, what);
                upstream.putAll(now);
                outcomes.add(new Outcome(name, what, true, done.path("seconds").asDouble()));
                return;
            }
            LOG.info("demo [{}/{}] {}: its outputs changed since it finished; running it again", index, total, what);
        } else if (done != null) {
            LOG.info("demo [{}/{}] {}: what it is made from changed; running it again", index, total, what);
        }
        boolean keep = resumable && done == null && Files.isRegularFile(started)
                && inputs.equals(Files.readString(started, StandardCharsets.UTF_8).trim());
        Files.deleteIfExists(marker);
        if (!keep) {
            for (String o : owned) {
                delete(dir.resolve(o));
            }
        } else {
            LOG.info("demo [{}/{}] {}: continuing what an interrupted run left", index, total, what);
        }
        Files.createDirectories(markers);
        AtomicFiles.write(started, (inputs + "\n").getBytes(StandardCharsets.UTF_8));
        LOG.info("demo [{}/{}] {}{}", index, total, what, left(index));
        long t0 = System.nanoTime();
        body.run();
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, String> made = digests(outputs);
        if (made == null) {
            throw new Cli.UserError("demo: stage '" + name + "' finished without writing all of " + outputs);
        }
        ObjectNode m = JSON.createObjectNode();
        m.put("stage", name);
        m.put("what", what);
        m.put("inputs", inputs);
        m.put("seconds", Math.round(seconds * 10) / 10.0);
        m.put("finished", Instant.now().toString());
        ObjectNode out = m.putObject("outputs");
        made.forEach(out::put);
        AtomicFiles.write(marker, JSON.writeValueAsBytes(m));
        Files.deleteIfExists(started);
        upstream.putAll(made);
        outcomes.add(new Outcome(name, what, false, seconds));
        LOG.info("demo [{}/{}] {}: done in {}", index, total, what, clock(seconds));
    }

    /** The estimate of the time left before stage {@code index} starts, from the stages run so far. */
    private String left(int index) {
        double expectedRun = 0;
        double actualRun = 0;
        for (Outcome o : outcomes) {
            if (!o.skipped()) {
                expectedRun += expected.getOrDefault(o.name(), 0.0);
                actualRun += o.secondsWhenRun();
            }
        }
        // the machine's pace against the expected, once enough has run to tell
        double scale = expectedRun >= 60 ? actualRun / expectedRun : 1;
        double rest = 0;
        int i = 0;
        for (var e : expected.entrySet()) {
            if (++i >= index) {
                rest += e.getValue();
            }
        }
        return String.format(Locale.ROOT, " (%s elapsed, about %s left)", clock((System.nanoTime() - start) / 1e9),
                clock(rest * scale));
    }

    private String inputsDigest(List<Path> configs, String how) throws IOException {
        MessageDigest d = sha256();
        upstream.forEach((k, v) -> d.update((k + "=" + v + "\n").getBytes(StandardCharsets.UTF_8)));
        d.update((how + "\n").getBytes(StandardCharsets.UTF_8));
        for (Path c : configs) {
            d.update((c.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
            d.update(Files.readAllBytes(c));
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static Map<String, String> recorded(JsonNode marker) {
        Map<String, String> m = new LinkedHashMap<>();
        marker.path("outputs").properties().forEach(e -> m.put(e.getKey(), e.getValue().asText()));
        return m;
    }

    /** Each output's digest, or null when one is missing. */
    private Map<String, String> digests(List<String> outputs) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String o : outputs) {
            Path p = dir.resolve(o);
            if (!Files.exists(p)) {
                return null;
            }
            m.put(o, digest(p));
        }
        return m;
    }

    /** SHA-256 of a file, or of a folder's files (their relative paths and contents, in name order). */
    static String digest(Path p) throws IOException {
        MessageDigest d = sha256();
        List<Path> files;
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                files = s.filter(Files::isRegularFile)
                        .filter(f -> !f.getFileName().toString().endsWith(AtomicFiles.TEMP_SUFFIX)).sorted().toList();
            }
        } else {
            files = List.of(p);
        }
        byte[] buffer = new byte[1 << 16];
        for (Path f : files) {
            d.update((p.relativize(f) + "\n").getBytes(StandardCharsets.UTF_8));
            try (InputStream in = Files.newInputStream(f)) {
                for (int n; (n = in.read(buffer)) > 0;) {
                    d.update(buffer, 0, n);
                }
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode read(Path marker) throws IOException {
        if (!Files.isRegularFile(marker)) {
            return null;
        }
        try {
            return JSON.readTree(marker.toFile());
        } catch (IOException e) {
            LOG.warn("{}: unreadable ({}); the stage runs again", marker, e.getMessage());
            return null;
        }
    }

    private static void delete(Path p) throws IOException {
        if (Files.isDirectory(p)) {
            AtomicFiles.deleteTree(p);
        } else {
            Files.deleteIfExists(p);
        }
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 60 ? String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60)
                : String.format(Locale.ROOT, "%d s", s);
    }
}

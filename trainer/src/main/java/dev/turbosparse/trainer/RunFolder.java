package dev.turbosparse.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A run's output folder, on any Hadoop file system:
 *
 * <pre>
 * recipe.resolved.yaml        the recipe as run, every default filled in
 * metrics.jsonl               one line per step
 * checkpoints/step-000200/    HF checkpoint (float32) + tokenizer files + optimizer.safetensors + trainer_state.json
 *             .../COMMITTED   written last: a checkpoint without it does not exist for resume
 * final/                      the trained model, HF layout in the start model's dtype (+ COMMITTED)
 * </pre>
 *
 * <p>Checkpoints are written file by file into their folder (staged on local disk first when the run folder is not
 * local) and count once {@code COMMITTED}, which lists every file with its size, is there. A crash mid-write leaves a
 * folder without it; the next start removes such folders.
 */
final class RunFolder {

    private static final Logger LOG = LogManager.getLogger(RunFolder.class);

    static final String RECIPE_FILE = "recipe.resolved.yaml";
    static final String CHECKPOINTS = "checkpoints";
    static final String FINAL = "final";
    static final String COMMITTED = "COMMITTED";
    private static final Pattern STEP_DIR = Pattern.compile("step-(\\d+)");

    /** A committed checkpoint (or the final model) and where it is. */
    record Checkpoint(long step, Path path) {}

    /** Writes the files of a checkpoint into a local folder. */
    @FunctionalInterface
    interface FolderWriter {
        void write(java.nio.file.Path folder) throws IOException;
    }

    private final FileSystem fs;
    private final Path root;

    private RunFolder(FileSystem fs, Path root) {
        this.fs = fs;
        this.root = root;
    }

    static RunFolder open(String uri, Configuration conf) {
        Path root = Fs.path(uri);
        return new RunFolder(Fs.fs(root, conf), root);
    }

    FileSystem fs() {
        return fs;
    }

    Path root() {
        return root;
    }

    boolean isLocal() {
        return "file".equals(fs.getUri().getScheme());
    }

    static String stepName(long step) {
        return String.format("step-%06d", step);
    }

    /** Whether a run has written here: its recipe, metrics or checkpoints. */
    boolean holdsRun() {
        return Fs.exists(fs, new Path(root, RECIPE_FILE)) || Fs.exists(fs, new Path(root, MetricsLog.FILE_NAME))
                || Fs.exists(fs, new Path(root, CHECKPOINTS));
    }

    /** The saved recipe, or null. */
    String savedRecipe() {
        Path p = new Path(root, RECIPE_FILE);
        return Fs.exists(fs, p) ? new String(Fs.readAll(fs, p, 16L << 20), StandardCharsets.UTF_8) : null;
    }

    void saveRecipe(String yaml) throws IOException {
        Fs.writeAtomically(fs, new Path(root, RECIPE_FILE), out -> out.write(yaml.getBytes(StandardCharsets.UTF_8)));
    }

    /** Committed checkpoints, by step. */
    List<Checkpoint> committed() {
        List<Checkpoint> out = new ArrayList<>();
        for (FileStatus s : stepFolders()) {
            Matcher m = STEP_DIR.matcher(s.getPath().getName());
            if (m.matches() && Fs.exists(fs, new Path(s.getPath(), COMMITTED))) {
                out.add(new Checkpoint(Long.parseLong(m.group(1)), s.getPath()));
            }
        }
        out.sort(Comparator.comparingLong(Checkpoint::step));
        return out;
    }

    Optional<Checkpoint> latest() {
        List<Checkpoint> all = committed();
        return all.isEmpty() ? Optional.empty() : Optional.of(all.getLast());
    }

    /** Removes checkpoint folders a crash left without their commit marker. */
    void removeUncommitted() {
        for (FileStatus s : stepFolders()) {
            if (STEP_DIR.matcher(s.getPath().getName()).matches() && !Fs.exists(fs, new Path(s.getPath(), COMMITTED))) {
                LOG.info("{}: removing a checkpoint that was never committed", s.getPath());
                Fs.deleteRecursively(fs, s.getPath());
            }
        }
    }

    private List<FileStatus> stepFolders() {
        Path dir = new Path(root, CHECKPOINTS);
        try {
            if (!fs.exists(dir)) {
                return List.of();
            }
            List<FileStatus> out = new ArrayList<>();
            for (FileStatus s : fs.listStatus(dir)) {
                if (s.isDirectory()) {
                    out.add(s);
                }
            }
            return out;
        } catch (IOException e) {
            throw new InputException(dir + ": cannot list: " + e.getMessage());
        }
    }

    /** Writes and commits the checkpoint of a step. */
    Checkpoint writeCheckpoint(long step, FolderWriter writer) throws IOException {
        Path dir = new Path(new Path(root, CHECKPOINTS), stepName(step));
        writeCommitted(dir, step, writer);
        return new Checkpoint(step, dir);
    }

    /** Writes and commits the final model, replacing an earlier one. */
    Checkpoint writeFinal(long step, FolderWriter writer) throws IOException {
        Path dir = new Path(root, FINAL);
        writeCommitted(dir, step, writer);
        return new Checkpoint(step, dir);
    }

    private void writeCommitted(Path dir, long step, FolderWriter writer) throws IOException {
        Fs.deleteRecursively(fs, dir); // a leftover of a crash, or the final model of a shorter run
        java.nio.file.Path local = isLocal() ? java.nio.file.Path.of(dir.toUri()) : Files.createTempDirectory("turbosparse-ckpt");
        try {
            Files.createDirectories(local);
            writer.write(local);
            ObjectNode marker = MetricsLog.JSON.createObjectNode();
            marker.put("step", step);
            ObjectNode files = marker.putObject("files");
            List<java.nio.file.Path> written;
            try (Stream<java.nio.file.Path> list = Files.list(local)) {
                written = list.filter(Files::isRegularFile).sorted().toList();
            }
            for (java.nio.file.Path f : written) {
                files.put(f.getFileName().toString(), Files.size(f));
                if (!isLocal()) {
                    fs.copyFromLocalFile(false, true, new Path(f.toUri()), new Path(dir, f.getFileName().toString()));
                }
            }
            byte[] json = MetricsLog.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(marker);
            Fs.writeAtomically(fs, new Path(dir, COMMITTED), out -> out.write(json));
        } finally {
            if (!isLocal()) {
                deleteLocal(local);
            }
        }
    }

    /** Deletes committed checkpoints beyond the {@code keep} latest. */
    void prune(int keep) {
        List<Checkpoint> all = committed();
        for (int i = 0; i < all.size() - keep; i++) {
            LOG.info("{}: removed (checkpoint.keep is {})", all.get(i).path(), keep);
            Fs.deleteRecursively(fs, all.get(i).path());
        }
    }

    /**
     * A committed checkpoint as a local folder: itself on a local file system, else a copy in a temporary folder
     * (which the caller deletes with {@link #deleteLocal}). Every file the marker lists is checked for its size.
     */
    java.nio.file.Path local(Checkpoint c) throws IOException {
        JsonNode marker = MetricsLog.JSON.readTree(Fs.readAll(fs, new Path(c.path(), COMMITTED), 16L << 20));
        java.nio.file.Path local = isLocal() ? java.nio.file.Path.of(c.path().toUri())
                : Files.createTempDirectory("turbosparse-resume");
        var names = marker.path("files").fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            long size = marker.get("files").get(name).asLong();
            Path remote = new Path(c.path(), name);
            if (!Fs.exists(fs, remote) || fs.getFileStatus(remote).getLen() != size) {
                throw new InputException(remote + ": missing or not the " + size + " bytes its checkpoint's "
                        + COMMITTED + " lists; the checkpoint is damaged (remove " + c.path() + " to resume from the"
                        + " one before)");
            }
            if (!isLocal()) {
                fs.copyToLocalFile(false, remote, new Path(local.resolve(name).toUri()), true);
            }
        }
        return local;
    }

    /** Removes a local staging folder (not one of the run's own folders). */
    void deleteLocal(java.nio.file.Path local) {
        if (isLocal()) {
            return;
        }
        try {
            AtomicFiles.deleteTree(local);
        } catch (IOException e) {
            LOG.warn("could not remove the staging folder {}: {}", local, e.getMessage());
        }
    }
}

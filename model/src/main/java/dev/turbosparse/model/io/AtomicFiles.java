package dev.turbosparse.model.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes local files atomically: the bytes go to a temporary file beside the target, are forced to disk, and the
 * temporary file is renamed over the target. A reader sees the old file or the complete new one, never a part; a
 * crash leaves at most a {@code .tmp} file that no reader takes for the real one.
 */
public final class AtomicFiles {

    /** Suffix of the temporary files; readers of a folder ignore names that end with it. */
    public static final String TEMP_SUFFIX = ".tmp";

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    private AtomicFiles() {}

    /** Writes what {@code body} produces on a channel. */
    public interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    /** Writes what {@code body} produces on a stream. */
    public interface StreamWriter {
        void write(OutputStream out) throws IOException;
    }

    /**
     * A file written in full (and forced to disk) under a temporary name beside its target, not yet renamed over it:
     * the first half of an atomic write, so that several files can be written before any of them replaces an old one.
     */
    public static final class Staged {
        private final Path tmp;
        private final Path target;
        private boolean open = true;

        private Staged(Path tmp, Path target) {
            this.tmp = tmp;
            this.target = target;
        }

        /** Renames the staged file over its target (atomically where the file system can). */
        public void commit() throws IOException {
            if (!open) {
                throw new IllegalStateException(target + " was already committed or aborted");
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            open = false;
            syncFolder(target.toAbsolutePath().getParent());
        }

        /** Deletes the staged file; the target stays as it was. */
        public void abort() {
            if (open) {
                open = false;
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a stray .tmp file is harmless: no reader takes it for the target
                }
            }
        }
    }

    /** Writes {@code body} to a temporary file beside {@code target}; {@link Staged#commit()} puts it in place. */
    public static Staged stage(Path target, ChannelWriter body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // Not Files.createTempFile: that makes owner-only files, and a checkpoint must be readable as the umask says.
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36)
                + TEMP_SUFFIX);
        Staged staged = new Staged(tmp, target);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.write(ch);
                ch.force(true);
            }
            done = true;
            return staged;
        } finally {
            if (!done) {
                staged.abort();
            }
        }
    }

    /** Writes a file atomically: staged in full, then renamed over the target. */
    public static void write(Path target, ChannelWriter body) throws IOException {
        stage(target, body).commit();
    }

    /** Makes a rename durable: forces the folder's entry to disk where the platform allows it (best effort). */
    static void syncFolder(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // some file systems cannot open or force a directory; the rename itself is still atomic
        }
    }

    public static void write(Path target, StreamWriter body) throws IOException {
        write(target, (ChannelWriter) ch -> {
            OutputStream out = java.nio.channels.Channels.newOutputStream(ch);
            body.write(out);
            out.flush();
        });
    }

    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, (StreamWriter) out -> out.write(bytes));
    }

    /** Writes the files of a folder. */
    public interface FolderWriter {
        void write(Path folder) throws IOException;
    }

    /**
     * Writes a folder so that it appears complete or not at all: {@code body} fills a staging folder beside
     * {@code target} ({@code .name.partial}), which then replaces the target (a rename, atomic where the file system
     * can). If {@code body} fails, the staging folder is deleted and the target left as it was.
     */
    public static void writeFolder(Path target, FolderWriter body) throws IOException {
        Path staging = target.toAbsolutePath().resolveSibling("." + target.getFileName() + ".partial");
        deleteTree(staging);
        try {
            Files.createDirectories(staging);
            body.write(staging);
        } catch (IOException | RuntimeException e) {
            deleteTree(staging);
            throw e;
        }
        if (Files.exists(target)) {
            deleteTree(target);
        }
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Deletes a folder and everything in it, if it exists (a command's scratch or failed output). */
    public static void deleteTree(Path folder) throws IOException {
        if (!Files.exists(folder)) {
            return;
        }
        try (java.util.stream.Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

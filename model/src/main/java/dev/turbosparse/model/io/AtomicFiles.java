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

    public static void write(Path target, ChannelWriter body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        // Not Files.createTempFile: that makes owner-only files, and a checkpoint must be readable as the umask says.
        Path tmp = dir.resolve("." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36)
                + TEMP_SUFFIX);
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
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
}

package dev.turbosparse.cli;

import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.MappedPages;
import dev.turbosparse.runtime.RuntimeLoader;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.TokenDecoder;
import dev.turbosparse.runtime.gpu.DjlDecoder;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Locale;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/** The runtime engine as the commands offer it: a mode, threads, and the device (the CPU decoder, or a GPU). */
final class RuntimeEngine {

    private static final Logger LOG = LogManager.getLogger(RuntimeEngine.class);

    /** The description of the --mlock option, the same on every command that has it. */
    static final String MLOCK_HELP = "Lock the model's weights in memory (mlock), so that the kernel cannot drop them"
            + " from the page cache between tokens; the limit on locked memory (ulimit -l) must hold the model.";

    /** The description of the --no-mmap option, the same on every command that has it. */
    static final String NO_MMAP_HELP = "Read the weights into the process's own memory instead of mapping the file"
            + " (llama.cpp's --no-mmap): decoding then reads memory that does not depend on where the page cache put"
            + " the file, and that the kernel cannot drop. Needs the model's size in free memory; start-up reads the"
            + " whole file.";

    /** The --device values. */
    enum DeviceName { cpu, gpu }

    private RuntimeEngine() {}

    /** A decoder of the model: the CPU runtime on {@code cpu}, the DJL-device decoder on {@code gpu}. */
    static TokenDecoder open(RuntimeModel model, String mode, int context, Integer threads, DeviceName device) {
        Decoder.Mode m = Decoder.Mode.valueOf(mode.toUpperCase(Locale.ROOT));
        if (device == DeviceName.gpu) {
            return new DjlDecoder(model, m, context, DjlDecoder.device("gpu"));
        }
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1) {
            throw new Cli.UserError("--threads must be at least 1, got " + n);
        }
        return new Decoder(model, m, context, n, Float.NaN);
    }

    /**
     * The model at {@code path}: mapped, or with --no-mmap read into memory (a progress bar over its bytes); a user
     * error when that memory cannot be had.
     */
    static RuntimeModel load(Path path, boolean noMmap) {
        RuntimeModel m = RuntimeLoader.load(path);
        if (!noMmap) {
            return m;
        }
        long bytes = m.weightSegments().stream().mapToLong(MemorySegment::byteSize).sum();
        long start = System.nanoTime();
        try (Progress bar = Progress.bytes("--no-mmap: reading " + path.getFileName() + " into memory", bytes)) {
            RuntimeModel copy = m.inMemory(bar::stepTo);
            LOG.info("--no-mmap: {} MB of weights read into memory in {} s", bytes >> 20,
                    String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
            return copy;
        } catch (OutOfMemoryError e) {
            throw new Cli.UserError("--no-mmap: " + path + ": " + (bytes >> 20) + " MB of weights do not fit in memory ("
                    + e.getMessage() + "); without --no-mmap they are mapped from the file instead");
        }
    }

    /** With --mlock, the model's weights locked in memory; a user error saying why they could not be. */
    static void lock(RuntimeModel model, boolean mlock) {
        if (!mlock) {
            return;
        }
        try {
            long bytes = MappedPages.lock(model.weightSegments());
            LOG.info("--mlock: {} MB of weights locked in memory", bytes >> 20);
        } catch (IllegalStateException e) {
            throw new Cli.UserError("--mlock: " + model.source() + ": " + e.getMessage());
        }
    }
}

package dev.turbosparse.cli;

import ai.djl.engine.EngineException;

import dev.turbosparse.model.config.ConfigIO;
import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.trainer.TrainingException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import picocli.CommandLine;

/** What every command shares: one-line errors and exit codes. */
final class Cli {

    private static final Logger LOG = LogManager.getLogger(Cli.class);

    /** Exit code of a command that ran into bad input or a failure it could name. */
    static final int FAILED = 1;
    /** Exit code of a command line that does not parse (picocli's convention). */
    static final int USAGE = 2;

    static volatile boolean verbose;

    private Cli() {}

    /** A failure the user can act on, printed as one line. */
    static final class UserError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UserError(String message) {
            super(message);
        }
    }

    static int handle(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        String name = cmd.getCommandName();
        String message = switch (e) {
            case UserError u -> u.getMessage();
            case InputException m -> m.getMessage();
            case TrainingException t -> t.getMessage();
            case IllegalArgumentException a -> a.getMessage();
            case NoSuchFileException n -> n.getFile() + ": not found";
            case IOException io -> io.getMessage() == null ? io.toString() : io.getMessage();
            case UncheckedIOException io -> io.getCause().getMessage();
            case EngineException en -> "the PyTorch engine failed: " + firstLine(en.getMessage());
            default -> null;
        };
        if (message == null) {
            LOG.debug("unexpected error", e);
            message = "unexpected " + e.getClass().getSimpleName() + ": " + firstLine(e.getMessage())
                    + (verbose ? "" : " (run with --verbose for the stack trace)");
            if (verbose) {
                e.printStackTrace(System.err);
            }
        } else {
            LOG.debug("failed", e);
        }
        System.err.println(name + ": " + firstLine(message));
        return FAILED;
    }

    static int handleUsage(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        System.err.println(cmd.getCommandName() + ": " + firstLine(e.getMessage()));
        System.err.println("Run '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
        return USAGE;
    }

    /**
     * Refuses an output that exists, unless the user said --force, and one that is the input itself (replacing it
     * would destroy what is being read).
     */
    static void refuseToReplace(Path out, boolean force, Path input) {
        if (!Files.exists(out)) {
            return;
        }
        if (!force) {
            throw new UserError(out + ": exists; give --force to replace it");
        }
        try {
            if (Files.isSameFile(out, input)) {
                throw new UserError("--out is the model itself (" + input + "); write to another path");
            }
        } catch (IOException e) {
            throw new UserError(out + ": cannot be read: " + e.getMessage());
        }
    }

    /** Refuses to write a checkpoint over one that exists, unless the user said --force. */
    static void refuseOverwrite(Path out, boolean force) {
        if (Files.exists(out.resolve(ConfigIO.FILE_NAME)) && !force) {
            throw new UserError(out + ": already holds a checkpoint; pass --force to overwrite it");
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UserError(out + ": exists and is not a folder");
        }
    }

    /** Removes a folder and everything in it (a command's own output, after it failed). */
    static void deleteTree(Path folder) {
        try {
            AtomicFiles.deleteTree(folder);
        } catch (IOException e) {
            LOG.warn("could not remove {}: {}", folder, e.getMessage());
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

package dev.turbosparse.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/**
 * A command's result goes to stdout as UTF-8, whatever the platform's locale says; a command run inside another
 * (the demo's stages) has its result captured instead.
 */
final class Output {

    private static final ThreadLocal<OutputStream> CAPTURE = new ThreadLocal<>();

    private Output() {}

    static PrintStream stdout() {
        OutputStream target = CAPTURE.get();
        return new PrintStream(target != null ? target : System.out, false, StandardCharsets.UTF_8);
    }

    /** What a command printed as its result, and its exit code. */
    record Captured(int exitCode, byte[] stdout) {
        String text() {
            return new String(stdout, StandardCharsets.UTF_8);
        }
    }

    /** Runs a command on this thread with its result captured rather than printed. */
    static Captured capture(Callable<Integer> command) throws Exception {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        OutputStream before = CAPTURE.get();
        CAPTURE.set(buffer);
        try {
            int code = command.call();
            return new Captured(code, buffer.toByteArray());
        } finally {
            if (before == null) {
                CAPTURE.remove();
            } else {
                CAPTURE.set(before);
            }
        }
    }
}

package dev.turbosparse.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** A command's result goes to stdout as UTF-8, whatever the platform's locale says. */
final class Output {

    private Output() {}

    static PrintStream stdout() {
        return new PrintStream(System.out, false, StandardCharsets.UTF_8);
    }
}

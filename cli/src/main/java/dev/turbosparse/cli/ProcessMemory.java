package dev.turbosparse.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * This process's memory as Linux reports it in /proc/self/status: resident set (anonymous and file-backed) and its
 * peak. Empty on systems without /proc.
 */
record ProcessMemory(long rssKb, long anonKb, long fileKb, long peakKb) {

    static ProcessMemory now() {
        Map<String, Long> kb = new HashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.endsWith(" kB")) {
                    kb.put(line.substring(0, colon), Long.parseLong(line.substring(colon + 1, line.length() - 3).trim()));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return new ProcessMemory(-1, -1, -1, -1);
        }
        return new ProcessMemory(kb.getOrDefault("VmRSS", -1L), kb.getOrDefault("RssAnon", -1L),
                kb.getOrDefault("RssFile", -1L), kb.getOrDefault("VmHWM", -1L));
    }

    @Override
    public String toString() {
        return String.format("RSS %d MiB (anonymous %d MiB, file-backed %d MiB), peak RSS %d MiB", rssKb / 1024,
                anonKb / 1024, fileKb / 1024, peakKb / 1024);
    }
}

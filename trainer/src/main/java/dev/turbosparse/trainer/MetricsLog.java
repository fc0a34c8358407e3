package dev.turbosparse.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.data.fs.Fs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * {@code <output>/metrics.jsonl}: one JSON object per line, each with at least {@code step} and {@code loss}.
 *
 * <p>Lines are appended and flushed as they come (hflush on HDFS: a reader sees every finished line). A resumed run
 * first cuts the file back to the lines of the checkpoint's steps (atomically), so that the file tells one history.
 * On a file system without append (object stores) the file is rewritten whole, atomically, at every
 * {@link #sync()}.
 */
final class MetricsLog implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(MetricsLog.class);
    static final String FILE_NAME = "metrics.jsonl";
    static final JsonMapper JSON = JsonMapper.builder().build();

    private final FileSystem fs;
    private final Path path;
    private final OutputStream out; // null when the file system cannot append
    private final ByteArrayOutputStream whole; // every line, when it cannot

    private MetricsLog(FileSystem fs, Path path, OutputStream out, ByteArrayOutputStream whole) {
        this.fs = fs;
        this.path = path;
        this.out = out;
        this.whole = whole;
    }

    /**
     * Opens the log of a run folder.
     *
     * @param keepUpTo lines with a larger step are dropped (a resumed run); -1 starts an empty file
     */
    static MetricsLog open(FileSystem fs, Path folder, long keepUpTo) throws IOException {
        Path path = new Path(folder, FILE_NAME);
        List<String> kept = keepUpTo < 0 || !fs.exists(path) ? List.of() : linesUpTo(fs, path, keepUpTo);
        ByteArrayOutputStream prefix = new ByteArrayOutputStream();
        for (String line : kept) {
            prefix.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        Fs.writeAtomically(fs, path, prefix::writeTo);
        FileSystem appender = fs instanceof LocalFileSystem local ? local.getRaw() : fs;
        try {
            return new MetricsLog(fs, path, appender.append(path), null);
        } catch (UnsupportedOperationException | IOException e) {
            LOG.info("{}: this file system does not append ({}); the file is rewritten at every checkpoint", path,
                    e.getMessage());
            return new MetricsLog(fs, path, null, prefix);
        }
    }

    /** The lines of a metrics file whose step is at most {@code maxStep}; a torn last line is dropped. */
    static List<String> linesUpTo(FileSystem fs, Path path, long maxStep) {
        String text = new String(Fs.readAll(fs, path, Integer.MAX_VALUE - 16), StandardCharsets.UTF_8);
        List<String> kept = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode n;
            try {
                n = JSON.readTree(line);
            } catch (IOException e) {
                continue; // a line cut short by the crash the run resumes from
            }
            if (n != null && n.path("step").canConvertToLong() && n.get("step").asLong() <= maxStep) {
                kept.add(line);
            }
        }
        return kept;
    }

    /** Appends one line. */
    void write(ObjectNode line) throws IOException {
        byte[] bytes = (JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8);
        if (out != null) {
            out.write(bytes);
            if (out instanceof FSDataOutputStream f) {
                f.hflush();
            } else {
                out.flush();
            }
        } else {
            whole.write(bytes);
        }
    }

    /** Makes every line so far durable (the rewrite, where the file system cannot append). */
    void sync() throws IOException {
        if (out instanceof FSDataOutputStream f) {
            f.hsync();
        } else if (out == null) {
            Fs.writeAtomically(fs, path, whole::writeTo);
        }
    }

    @Override
    public void close() throws IOException {
        sync();
        if (out != null) {
            out.close();
        }
    }

    /** Where the log is, for messages. */
    Path path() {
        return path;
    }
}

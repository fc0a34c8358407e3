package dev.turbosparse.data.fs;

import dev.turbosparse.data.DataException;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.FileSystems;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;

/**
 * Every path a user gives goes through Hadoop's FileSystem: {@code file://} (the default for a plain path),
 * {@code hdfs://}, or whatever the configuration knows. Writes are atomic: a temporary file beside the target whose
 * name starts with {@code _tmp.} (readers skip names starting with {@code _} or {@code .}), then a rename.
 */
public final class Fs {

    /** Prefix of temporary files; listings skip them. */
    public static final String TEMP_PREFIX = "_tmp.";

    private Fs() {}

    /** The Hadoop configuration: what is on the classpath (core-site.xml, hdfs-site.xml) or HADOOP_CONF_DIR. */
    public static Configuration configuration() {
        return new Configuration();
    }

    /**
     * A user's path or URI as a Hadoop path: a string without a scheme is a local path, made absolute; anything else
     * is taken as a URI ({@code hdfs://namenode:8020/data}).
     */
    public static Path path(String uriOrLocal) {
        if (uriOrLocal == null || uriOrLocal.isBlank()) {
            throw new DataException("empty path");
        }
        URI uri;
        try {
            uri = URI.create(uriOrLocal);
        } catch (IllegalArgumentException e) {
            uri = null;
        }
        if (uri == null || uri.getScheme() == null || uri.getScheme().length() == 1) { // "C:" is a drive, not a scheme
            return new Path(java.nio.file.Path.of(uriOrLocal).toAbsolutePath().normalize().toUri());
        }
        return new Path(uri);
    }

    /** The file system of a path. On the local file system no .crc side files are written or expected. */
    public static FileSystem fs(Path path, Configuration conf) {
        try {
            FileSystem fs = path.getFileSystem(conf);
            if ("file".equals(fs.getUri().getScheme())) {
                fs.setWriteChecksum(false);
                fs.setVerifyChecksum(false);
            }
            return fs;
        } catch (IOException e) {
            throw new DataException(path + ": cannot reach its file system: " + e.getMessage());
        }
    }

    /** Whether a file or folder exists. */
    public static boolean exists(FileSystem fs, Path path) {
        try {
            return fs.exists(path);
        } catch (IOException e) {
            throw new DataException(path + ": cannot check: " + e.getMessage());
        }
    }

    /** A whole (small) file: manifests, tokenizer files, side records. */
    public static byte[] readAll(FileSystem fs, Path path, long maxBytes) {
        try {
            long len = fs.getFileStatus(path).getLen();
            if (len > maxBytes) {
                throw new DataException(path + ": " + len + " bytes, more than the " + maxBytes + " expected");
            }
            try (InputStream in = fs.open(path)) {
                return in.readAllBytes();
            }
        } catch (FileNotFoundException e) {
            throw new DataException(path + ": not found");
        } catch (IOException e) {
            throw new DataException(path + ": cannot read: " + e.getMessage());
        }
    }

    /** Writes what {@code body} produces on a stream. */
    @FunctionalInterface
    public interface StreamWriter {
        void write(OutputStream out) throws IOException;
    }

    /**
     * Writes a file atomically: all bytes go to {@code _tmp.<name>.<uuid>} beside it, which is then renamed over the
     * target. A reader sees the old file or the whole new one; a crash leaves at most a temporary file nobody reads.
     */
    public static void writeAtomically(FileSystem fs, Path target, StreamWriter body) throws IOException {
        Path tmp = new Path(target.getParent(), TEMP_PREFIX + target.getName() + "." + UUID.randomUUID());
        boolean done = false;
        try {
            fs.mkdirs(target.getParent());
            try (FSDataOutputStream out = fs.create(tmp, false)) {
                body.write(out);
                out.hsync();
            }
            FileContext.getFileContext(fs.getUri(), fs.getConf()).rename(tmp, target, Options.Rename.OVERWRITE);
            done = true;
        } finally {
            if (!done) {
                try {
                    fs.delete(tmp, false);
                } catch (IOException ignored) {
                    // a stray _tmp file is harmless: listings and readers skip it
                }
            }
        }
    }

    /** Deletes a path and everything below it, if it exists. */
    public static void deleteRecursively(FileSystem fs, Path path) {
        try {
            fs.delete(path, true);
        } catch (IOException e) {
            throw new DataException(path + ": cannot delete: " + e.getMessage());
        }
    }

    /**
     * The files under a path (the path itself if it is a file), in a stable order (sorted by path), skipping hidden
     * names ({@code .} or {@code _} first) and keeping those whose path relative to {@code root} matches an
     * {@code include} glob (all when none is given) and no {@code exclude} glob. Globs follow
     * {@link java.nio.file.FileSystem#getPathMatcher}: {@code **}{@code /*.py} matches at any depth.
     */
    public static List<FileStatus> listFiles(FileSystem fs, Path root, List<String> include, List<String> exclude) {
        List<PathMatcher> inc = matchers(include);
        List<PathMatcher> exc = matchers(exclude);
        List<FileStatus> out = new ArrayList<>();
        try {
            FileStatus top = fs.getFileStatus(root);
            if (top.isFile()) {
                return List.of(top);
            }
            String prefix = top.getPath().toUri().getPath();
            RemoteIterator<LocatedFileStatus> it = fs.listFiles(root, true);
            while (it.hasNext()) {
                LocatedFileStatus f = it.next();
                String full = f.getPath().toUri().getPath();
                String rel = full.startsWith(prefix) ? full.substring(prefix.length()).replaceFirst("^/+", "") : full;
                if (hidden(rel)) {
                    continue;
                }
                java.nio.file.Path relPath = java.nio.file.Path.of(rel);
                boolean in = inc.isEmpty() || inc.stream().anyMatch(m -> m.matches(relPath));
                boolean ex = exc.stream().anyMatch(m -> m.matches(relPath));
                if (in && !ex) {
                    out.add(f);
                }
            }
        } catch (FileNotFoundException e) {
            throw new DataException(root + ": not found");
        } catch (IOException e) {
            throw new DataException(root + ": cannot list: " + e.getMessage());
        }
        out.sort(Comparator.comparing(f -> f.getPath().toString()));
        return out;
    }

    private static boolean hidden(String relative) {
        for (String part : relative.split("/")) {
            if (part.startsWith(".") || part.startsWith("_")) {
                return true;
            }
        }
        return false;
    }

    private static List<PathMatcher> matchers(List<String> globs) {
        List<PathMatcher> out = new ArrayList<>();
        if (globs != null) {
            for (String g : globs) {
                try {
                    out.add(FileSystems.getDefault().getPathMatcher("glob:" + g));
                } catch (IllegalArgumentException e) {
                    throw new DataException("glob '" + g + "' is not valid: " + e.getMessage());
                }
            }
        }
        return out;
    }
}

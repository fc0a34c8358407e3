package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.corpus.CorpusFormat;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.shard.Shards;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Pattern;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * One source to prepare: its name, where its files are (sorted), their format, and the fingerprints that tell a
 * re-run what it can reuse. Local preparation and the MapReduce job plan alike, so their outputs are the same.
 */
public record SourcePlan(String name, String uri, Path root, CorpusFormat format, List<FileStatus> files, long bytes,
        String listingSha) {

    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9_.-]*");

    /** Lists and checks a source. */
    public static SourcePlan of(String name, String uri, PrepareSettings s, Configuration conf) {
        if (!NAME.matcher(name).matches()) {
            throw new DataException("source name '" + name + "' must be lower case letters, digits, '.', '_' or '-'"
                    + " (it names a folder)");
        }
        Path root = Fs.path(uri);
        FileSystem fs = Fs.fs(root, conf);
        if (!Fs.exists(fs, root)) {
            throw new DataException("source '" + name + "': " + root + " not found");
        }
        List<FileStatus> files = Fs.listFiles(fs, root, s.include(), s.exclude());
        if (files.isEmpty()) {
            throw new DataException("source '" + name + "': no files under " + root
                    + (s.include().isEmpty() && s.exclude().isEmpty() ? "" : " that match --include/--exclude"));
        }
        CorpusFormat format = s.format() != null ? s.format() : CorpusFormat.detect(files);
        StringBuilder listing = new StringBuilder();
        long bytes = 0;
        for (FileStatus f : files) {
            listing.append(relative(root, files, f)).append('\t').append(f.getLen()).append('\n');
            bytes += f.getLen();
        }
        return new SourcePlan(name, uri, root, format, List.copyOf(files), bytes,
                Shards.sha256(listing.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** A file's path relative to the source root (its name, when the source is a single file). */
    public String relative(FileStatus f) {
        return relative(root, files, f);
    }

    private static String relative(Path root, List<FileStatus> files, FileStatus f) {
        String r = root.toUri().getPath();
        String p = f.getPath().toUri().getPath();
        if (files.size() == 1 && p.equals(r)) {
            return f.getPath().getName();
        }
        return p.startsWith(r) ? p.substring(r.length()).replaceFirst("^/+", "") : p;
    }

    /** What the token files depend on: the tokenizer and how documents are read. */
    public String tokenSettings(String tokenizerSha, PrepareSettings s) {
        return "tokenizer=" + tokenizerSha + ";format=" + format.id() + ";text_field=" + s.textField();
    }
}

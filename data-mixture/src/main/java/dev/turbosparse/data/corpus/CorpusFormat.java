package dev.turbosparse.data.corpus;

import dev.turbosparse.data.DataException;

import java.util.List;
import java.util.Locale;

import org.apache.hadoop.fs.FileStatus;

/** How a source's files hold documents. */
public enum CorpusFormat {
    /** One JSON object per line, the text in a field (default {@code text}); plain, .gz or .zst. */
    JSONL,
    /** Parquet files, the text in a string column (default {@code text}). */
    PARQUET,
    /** Plain text or source files: one file, one document. */
    TEXT;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CorpusFormat of(String name) {
        for (CorpusFormat f : values()) {
            if (f.id().equalsIgnoreCase(name)) {
                return f;
            }
        }
        throw new DataException("unknown corpus format '" + name + "'; expected jsonl, parquet or text");
    }

    /** The format of a list of files: JSONL or Parquet when every file says so by its name, else text. */
    public static CorpusFormat detect(List<FileStatus> files) {
        if (!files.isEmpty() && files.stream().allMatch(f -> isJsonl(f.getPath().getName()))) {
            return JSONL;
        }
        if (!files.isEmpty() && files.stream().allMatch(f -> f.getPath().getName().endsWith(".parquet"))) {
            return PARQUET;
        }
        return TEXT;
    }

    static boolean isJsonl(String name) {
        String n = Compression.stripSuffix(name);
        return n.endsWith(".jsonl") || n.endsWith(".ndjson") || n.endsWith(".json");
    }

    /** The reader of this format. */
    public CorpusReader reader(String textField) {
        return switch (this) {
            case JSONL -> new JsonlReader(textField);
            case PARQUET -> new ParquetTextReader(textField);
            case TEXT -> new TextFileReader();
        };
    }
}

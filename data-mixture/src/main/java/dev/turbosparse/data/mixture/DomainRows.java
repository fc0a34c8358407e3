package dev.turbosparse.data.mixture;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The sequences of prepared sources (a data folder of {@code prepare}, on any Hadoop file system), per source: the
 * held-out ones (what evaluation and sparsity profiles measure) or the first training ones (what activation
 * predictors learn from). Each is {@code seq_len + 1} tokens, of which the first {@code seq_len} are what a model is
 * fed, and the last {@code seq_len} the next tokens it is scored against.
 */
public final class DomainRows {

    private static final Logger LOG = LogManager.getLogger(DomainRows.class);

    /** One source's sequences: {@code rows} of {@code width} tokens, row-major. */
    public record Domain(String name, int[] tokens, int rows, int width) {

        /** The model's inputs: every row without its last token, row-major ({@code rows x (width - 1)}). */
        public int[] inputs() {
            int length = width - 1;
            int[] out = new int[rows * length];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(tokens, r * width, out, r * length, length);
            }
            return out;
        }

        /** Rows {@code [from, to)}, as a domain of their own. */
        public Domain slice(int from, int to) {
            return new Domain(name, java.util.Arrays.copyOfRange(tokens, from * width, to * width), to - from, width);
        }
    }

    /** Which sequences of a source. */
    public enum Split {
        HELDOUT, TRAINING
    }

    private DomainRows() {}

    /** Up to {@code maxTokens} held-out tokens of each source (see {@link #read}). */
    public static List<Domain> heldout(String dataUri, List<String> sources, long maxTokens,
            java.nio.file.Path tokenizerJson, int vocabSize, Configuration conf) {
        return read(Split.HELDOUT, dataUri, sources, maxTokens, tokenizerJson, vocabSize, conf);
    }

    /**
     * Reads up to {@code maxTokens} tokens of each source's split, in whole sequences, in the order the shards hold
     * them.
     *
     * @param sources the sources to read, or empty for every source prepared under {@code dataUri}
     * @param tokenizerJson the model's tokenizer.json, which the data must have been prepared with; null to skip
     *     the check (a model without one)
     * @param vocabSize the model's vocabulary, which the data's ids must lie in
     * @throws DataException if a source is missing, was prepared with another tokenizer or a larger vocabulary, or
     *     has no sequences in the split
     */
    public static List<Domain> read(Split split, String dataUri, List<String> sources, long maxTokens,
            java.nio.file.Path tokenizerJson, int vocabSize, Configuration conf) {
        if (maxTokens <= 0) {
            throw new IllegalArgumentException("max tokens must be positive, got " + maxTokens);
        }
        Path data = Fs.path(dataUri);
        FileSystem fs = Fs.fs(data, conf);
        List<String> names = sources.isEmpty() ? preparedSources(fs, data) : sources;
        String sha = tokenizerJson == null ? null : fingerprint(tokenizerJson);
        List<Domain> out = new ArrayList<>();
        for (String name : names) {
            PreparedSource s = PreparedSource.open(fs, data, name);
            String where = "source '" + name + "' (" + new Path(data, name) + ")";
            s.manifest().tokenizer().requireReadableBy(where, sha, String.valueOf(tokenizerJson), vocabSize);
            List<Manifest.Shard> shards = split == Split.HELDOUT ? s.heldoutShards() : s.trainShards();
            long available = shards.stream().mapToLong(Manifest.Shard::sequences).sum();
            if (available == 0) {
                throw new DataException(where + (split == Split.HELDOUT
                        ? " has no held-out sequences: prepare it with a held-out share (heldout in the mixture"
                                + " definition)" : " has no training sequences"));
            }
            int length = s.manifest().seqLen();
            long wanted = (maxTokens + length - 1) / length;
            if (wanted > available) {
                LOG.warn("source '{}' has {} {} tokens, fewer than the {} asked for: reading all of them", name,
                        available * length, split == Split.HELDOUT ? "held-out" : "training", maxTokens);
            }
            int rows = (int) Math.min(wanted, available);
            out.add(new Domain(name, s.rows(shards, rows), rows, s.width()));
        }
        return out;
    }

    /** The sources under a data folder: its sub-folders that hold a manifest, by name. */
    public static List<String> preparedSources(FileSystem fs, Path data) {
        List<String> names = new ArrayList<>();
        try {
            for (FileStatus st : fs.listStatus(data)) {
                if (st.isDirectory() && fs.exists(new Path(st.getPath(), Manifest.FILE_NAME))) {
                    names.add(st.getPath().getName());
                }
            }
        } catch (java.io.FileNotFoundException e) {
            throw new DataException(data + ": not found (give the folder that prepare wrote)");
        } catch (IOException e) {
            throw new DataException(data + ": cannot list: " + e.getMessage());
        }
        if (names.isEmpty()) {
            throw new DataException(data + ": holds no prepared source (no sub-folder with a manifest.json)");
        }
        names.sort(null);
        return names;
    }

    private static String fingerprint(java.nio.file.Path tokenizerJson) {
        try {
            return Tokenizer.fingerprintOf(Files.readAllBytes(tokenizerJson));
        } catch (IOException e) {
            throw new InputException(tokenizerJson + ": cannot read: " + e.getMessage());
        }
    }
}

package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.corpus.CorpusFormat;

import java.util.List;

/**
 * How sources are prepared.
 *
 * @param seqLen tokens a model sees per sequence; sequences hold {@code seqLen + 1} (inputs and shifted targets)
 * @param format how the files hold documents, or null to detect it from their names
 * @param textField the JSONL field or Parquet column with the text
 * @param include globs of files to read (relative to the source's root), empty for all
 * @param exclude globs of files to leave out
 * @param bos whether each document starts with BOS; null: as the tokenizer's config says
 * @param eos whether each document ends with EOS (the separator of packed documents)
 * @param heldoutFraction the share of documents kept apart for evaluation
 * @param shardSequences sequences per shard; 0 for shards of about 64 MiB
 * @param strict fail at the first unusable record instead of counting it
 * @param keepTokens keep the intermediate token files after success (a later run with another seq_len reuses them)
 * @param force prepare again even if a complete manifest matches
 */
public record PrepareSettings(int seqLen, CorpusFormat format, String textField, List<String> include,
        List<String> exclude, Boolean bos, boolean eos, double heldoutFraction, int shardSequences, boolean strict,
        boolean keepTokens, boolean force) {

    public static final double DEFAULT_HELDOUT = 0.01;
    static final long SHARD_BYTES = 64L << 20;

    public PrepareSettings {
        if (seqLen < 1 || seqLen > (1 << 20)) {
            throw new DataException("--seq-len must be between 1 and " + (1 << 20) + ", got " + seqLen);
        }
        if (!(heldoutFraction >= 0 && heldoutFraction <= 0.5)) {
            throw new DataException("--heldout must be a fraction between 0 and 0.5, got " + heldoutFraction);
        }
        if (shardSequences < 0) {
            throw new DataException("--shard-sequences must be 0 (about 64 MiB) or positive, got " + shardSequences);
        }
        include = include == null ? List.of() : List.copyOf(include);
        exclude = exclude == null ? List.of() : List.copyOf(exclude);
        textField = textField == null ? "text" : textField;
    }

    /** Defaults for a sequence length. */
    public static PrepareSettings defaults(int seqLen) {
        return new PrepareSettings(seqLen, null, "text", List.of(), List.of(), null, true, DEFAULT_HELDOUT, 0, false,
                false, false);
    }

    /** Sequences per shard, resolved. */
    int sequencesPerShard() {
        return shardSequences > 0 ? shardSequences : (int) Math.max(1, SHARD_BYTES / (4L * (seqLen + 1)));
    }
}

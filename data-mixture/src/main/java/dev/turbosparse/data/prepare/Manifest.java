package dev.turbosparse.data.prepare;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.shard.Shards;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code manifest.json} of a prepared source: what went in, what came out, and the checksum of every shard. It is
 * written last, so a source counts as prepared only once its manifest exists. Its bytes depend only on the inputs and
 * settings (no timestamps, fixed field order).
 */
@JsonPropertyOrder({"format", "source", "input", "tokenizer", "seq_len", "bos", "eos", "shard_sequences",
    "heldout_fraction", "documents", "tokens", "sequences", "dropped_tokens", "shards", "heldout", "skipped"})
public record Manifest(
        @JsonProperty("format") String format,
        @JsonProperty("source") String source,
        @JsonProperty("input") Input input,
        @JsonProperty("tokenizer") TokenizerInfo tokenizer,
        @JsonProperty("seq_len") int seqLen,
        @JsonProperty("bos") boolean bos,
        @JsonProperty("eos") boolean eos,
        @JsonProperty("shard_sequences") int shardSequences,
        @JsonProperty("heldout_fraction") double heldoutFraction,
        @JsonProperty("documents") long documents,
        @JsonProperty("tokens") long tokens,
        @JsonProperty("sequences") long sequences,
        @JsonProperty("dropped_tokens") long droppedTokens,
        @JsonProperty("shards") List<Shard> shards,
        @JsonProperty("heldout") Split heldout,
        @JsonProperty("skipped") Skipped skipped) {

    public static final String FILE_NAME = "manifest.json";
    /** Skipped records listed one by one (all are counted by reason). */
    static final int LISTED_SKIPS = 100;

    static final JsonMapper MAPPER = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    /** The input: where, how read, and a digest of its file list (relative paths and sizes). */
    @JsonPropertyOrder({"uri", "format", "text_field", "files", "bytes", "listing_sha256"})
    public record Input(@JsonProperty("uri") String uri, @JsonProperty("format") String format,
            @JsonProperty("text_field") String textField, @JsonProperty("files") int files,
            @JsonProperty("bytes") long bytes, @JsonProperty("listing_sha256") String listingSha256) {}

    @JsonPropertyOrder({"sha256", "vocab_size", "bos_token_id", "eos_token_id"})
    public record TokenizerInfo(@JsonProperty("sha256") String sha256, @JsonProperty("vocab_size") int vocabSize,
            @JsonProperty("bos_token_id") Integer bosTokenId, @JsonProperty("eos_token_id") Integer eosTokenId) {

        /**
         * Refuses data that a model cannot read: prepared with another tokenizer (sha256 of tokenizer.json), or
         * holding ids beyond the model's vocabulary.
         *
         * @param source names the prepared source and where it is, for the message
         * @param modelSha256 the model's tokenizer.json's sha256, or null where the model has none to compare
         * @param modelTokenizer where the model's tokenizer.json is, for the message
         */
        public void requireReadableBy(String source, String modelSha256, String modelTokenizer, int modelVocabSize) {
            if (modelSha256 != null && !sha256.equals(modelSha256)) {
                throw new DataException(source + " was prepared with tokenizer " + abbrev(sha256) + ", but the"
                        + " model's tokenizer (" + modelTokenizer + ") is " + abbrev(modelSha256) + ": prepare the"
                        + " data with the model's tokenizer");
            }
            if (vocabSize > modelVocabSize) {
                throw new DataException(source + " was prepared with a vocabulary of " + vocabSize + " tokens, more"
                        + " than the model's vocab_size " + modelVocabSize);
            }
        }

        private static String abbrev(String sha) {
            return sha.substring(0, Math.min(12, sha.length())) + "...";
        }
    }

    @JsonPropertyOrder({"file", "sequences", "bytes", "sha256"})
    public record Shard(@JsonProperty("file") String file, @JsonProperty("sequences") long sequences,
            @JsonProperty("bytes") long bytes, @JsonProperty("sha256") String sha256) {
        static Shard of(Shards.Written w) {
            return new Shard(w.file(), w.sequences(), w.bytes(), w.sha256());
        }
    }

    /** The held-out documents, packed apart for evaluation. */
    @JsonPropertyOrder({"documents", "tokens", "sequences", "dropped_tokens", "shards"})
    public record Split(@JsonProperty("documents") long documents, @JsonProperty("tokens") long tokens,
            @JsonProperty("sequences") long sequences, @JsonProperty("dropped_tokens") long droppedTokens,
            @JsonProperty("shards") List<Shard> shards) {}

    @JsonPropertyOrder({"records", "by_reason", "first"})
    public record Skipped(@JsonProperty("records") long records, @JsonProperty("by_reason") Map<String, Long> byReason,
            @JsonProperty("first") List<FileRecord.Skip> first) {}

    /** Tokens per sequence: {@code seq_len + 1} (inputs and the shifted targets). */
    public int sequenceTokens() {
        return seqLen + 1;
    }

    public void write(FileSystem fs, Path dir) throws IOException {
        byte[] json = (MAPPER.writeValueAsString(this) + "\n").getBytes(StandardCharsets.UTF_8);
        Fs.writeAtomically(fs, new Path(dir, FILE_NAME), out -> out.write(json));
    }

    /** Reads a source's manifest. */
    public static Manifest read(FileSystem fs, Path dir) {
        Path file = new Path(dir, FILE_NAME);
        byte[] bytes = Fs.readAll(fs, file, 64L << 20);
        try {
            Manifest m = MAPPER.readValue(bytes, Manifest.class);
            if (!Shards.FORMAT.equals(m.format())) {
                throw new DataException(file + ": format '" + m.format() + "', expected '" + Shards.FORMAT + "'");
            }
            return m;
        } catch (JacksonException e) {
            throw new DataException(file + ": not a valid manifest: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage());
        }
    }
}

package dev.turbosparse.data.prepare;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.List;

/**
 * What the tokenizing pass made of one input file: written beside its token file, so that a re-run can tell a
 * complete, verified file from one that must be done again.
 *
 * @param index the file's place in the source's sorted file list
 * @param file the file's path relative to the source's root
 * @param bytes the input file's size, and {@code modified} its modification time: a change means redo
 * @param settings the fingerprint of the tokenizer and reading settings the token file was made with
 * @param sha256 of the token file
 */
@JsonPropertyOrder({"index", "file", "bytes", "modified", "settings", "documents", "tokens", "skipped", "token_file",
    "sha256"})
record FileRecord(
        @JsonProperty("index") int index,
        @JsonProperty("file") String file,
        @JsonProperty("bytes") long bytes,
        @JsonProperty("modified") long modified,
        @JsonProperty("settings") String settings,
        @JsonProperty("documents") long documents,
        @JsonProperty("tokens") long tokens,
        @JsonProperty("skipped") List<Skip> skipped,
        @JsonProperty("token_file") String tokenFile,
        @JsonProperty("sha256") String sha256) {

    /** A record of the input that is not a document. */
    @JsonPropertyOrder({"file", "line", "reason"})
    record Skip(@JsonProperty("file") String file, @JsonProperty("line") long line,
            @JsonProperty("reason") String reason) {}
}

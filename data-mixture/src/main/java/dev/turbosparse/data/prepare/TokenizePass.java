package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.corpus.CorpusReader;
import dev.turbosparse.data.corpus.DocumentSink;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.LongConsumer;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The first pass of preparation, for one input file: read its documents, tokenize them in batches (the tokenizers
 * library encodes a batch on all cores), write their ids to a token file, and describe the result in a
 * {@link FileRecord}. Local preparation runs it file after file; the MapReduce job runs it in its mappers.
 */
final class TokenizePass {

    /** Text gathered before a batch is encoded: large enough to keep every core busy. */
    static final int BATCH_CHARS = 1 << 20;
    static final int BATCH_DOCUMENTS = 1024;

    private TokenizePass() {}

    /**
     * Tokenizes one file into {@code tokenDir}.
     *
     * @param relative the file's path relative to the source root (for records and messages)
     * @param strict fail at the first record that cannot be used, instead of counting it
     * @param progress told the bytes of input read so far in this file (approximately), or null
     */
    static FileRecord run(FileSystem inFs, Configuration conf, FileStatus file, String relative, int index,
            CorpusReader reader, Tokenizer tokenizer, String settings, boolean strict, FileSystem outFs, Path tokenDir,
            LongConsumer progress) throws IOException {
        String tokenName = String.format("%06d.tok", index);
        Path tokenPath = new Path(tokenDir, tokenName);
        List<FileRecord.Skip> skipped = new ArrayList<>();
        long[] counts = new long[2]; // documents, tokens
        MessageDigest sha = sha256();
        Fs.writeAtomically(outFs, tokenPath, raw -> {
            OutputStream hashed = new DigestOutputStream(raw, sha);
            TokenFile.Writer writer = new TokenFile.Writer(hashed, TokenFile.width(tokenizer.vocabSize()));
            Batcher batcher = new Batcher(tokenizer, writer, counts, progress);
            try {
                reader.read(inFs, conf, file.getPath(), new DocumentSink() {
                    @Override
                    public void document(String text, long line) {
                        batcher.add(text);
                    }

                    @Override
                    public void skip(long line, String reason) {
                        if (strict) {
                            throw new DataException(relative + (line > 0 ? ":" + line : "") + ": " + reason
                                    + " (--strict)");
                        }
                        skipped.add(new FileRecord.Skip(relative, line, reason));
                    }
                });
                batcher.flush();
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            writer.finish();
            hashed.flush();
        });
        return new FileRecord(index, relative, file.getLen(), file.getModificationTime(), settings, counts[0],
                counts[1], List.copyOf(skipped), tokenName, HexFormat.of().formatHex(sha.digest()));
    }

    /** Gathers documents into batches and writes each batch's ids in document order. */
    private static final class Batcher {
        private final Tokenizer tokenizer;
        private final TokenFile.Writer writer;
        private final long[] counts;
        private final LongConsumer progress;
        private final List<String> texts = new ArrayList<>();
        private long chars;
        private long doneChars;

        Batcher(Tokenizer tokenizer, TokenFile.Writer writer, long[] counts, LongConsumer progress) {
            this.tokenizer = tokenizer;
            this.writer = writer;
            this.counts = counts;
            this.progress = progress;
        }

        void add(String text) {
            texts.add(text);
            chars += text.length();
            if (chars >= BATCH_CHARS || texts.size() >= BATCH_DOCUMENTS) {
                flush();
            }
        }

        void flush() {
            if (texts.isEmpty()) {
                return;
            }
            long[][] ids = tokenizer.encodeBatch(texts);
            try {
                for (long[] doc : ids) {
                    writer.document(doc);
                    counts[0]++;
                    counts[1] += doc.length;
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            doneChars += chars;
            if (progress != null) {
                progress.accept(doneChars);
            }
            texts.clear();
            chars = 0;
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package dev.turbosparse.data.prepare;

import dev.turbosparse.data.shard.Shards;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Packs documents into sequences of {@code seq_len + 1} tokens: each document as {@code [BOS] tokens [EOS]} (as
 * configured), documents concatenated, the stream cut every {@code seq_len + 1} tokens, so nothing is padded. Full
 * shards are written as they fill; the tokens after the last full sequence are dropped and counted.
 */
final class Packer {

    private final FileSystem fs;
    private final Path dir;
    private final String prefix;
    private final int seqLen;
    private final int width;
    private final int shardSequences;
    private final String tokenizerSha;
    private final int bos;
    private final int eos;
    private final int[] shard;
    private int filled; // tokens in the shard buffer
    private long documents;
    private long tokens;
    private long sequences;
    private final List<Manifest.Shard> written = new ArrayList<>();

    /**
     * @param bos the BOS id to put before each document, or -1
     * @param eos the EOS id to put after each document, or -1
     */
    Packer(FileSystem fs, Path dir, String prefix, int seqLen, int shardSequences, String tokenizerSha, int bos,
            int eos) {
        this.fs = fs;
        this.dir = dir;
        this.prefix = prefix;
        this.seqLen = seqLen;
        this.width = seqLen + 1;
        this.shardSequences = shardSequences;
        this.tokenizerSha = tokenizerSha;
        this.bos = bos;
        this.eos = eos;
        this.shard = new int[Math.multiplyExact(shardSequences, width)];
    }

    void add(int[] ids, int length) throws IOException {
        documents++;
        if (bos >= 0) {
            push(bos);
        }
        for (int i = 0; i < length; i++) {
            push(ids[i]);
        }
        if (eos >= 0) {
            push(eos);
        }
    }

    private void push(int token) throws IOException {
        shard[filled++] = token;
        tokens++;
        if (filled == shard.length) {
            flush(shardSequences);
        }
    }

    private void flush(int rows) throws IOException {
        Path path = new Path(dir, String.format("%s-%05d.arrow", prefix, written.size()));
        written.add(Manifest.Shard.of(Shards.write(fs, path, shard, rows, seqLen, tokenizerSha)));
        sequences += rows;
        int rest = filled - rows * width;
        System.arraycopy(shard, rows * width, shard, 0, rest);
        filled = rest;
    }

    /** Writes the last, partial shard; the tokens short of a full sequence are dropped. */
    Manifest.Split finish() throws IOException {
        int rows = filled / width;
        if (rows > 0) {
            flush(rows);
        }
        long dropped = filled;
        filled = 0;
        return new Manifest.Split(documents, tokens, sequences, dropped, List.copyOf(written));
    }
}

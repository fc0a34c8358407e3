package dev.turbosparse.data.mixture;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.shard.Shards;

import java.util.List;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** A prepared source opened for reading: its manifest, and its shards read and verified on demand. */
public final class PreparedSource {

    private final String name;
    private final FileSystem fs;
    private final Path dir;
    private final Manifest manifest;

    private PreparedSource(String name, FileSystem fs, Path dir, Manifest manifest) {
        this.name = name;
        this.fs = fs;
        this.dir = dir;
        this.manifest = manifest;
    }

    /**
     * Opens {@code <data>/<name>}.
     *
     * @throws DataException if the source was never prepared there (no manifest.json)
     */
    public static PreparedSource open(FileSystem fs, Path data, String name) {
        Path dir = new Path(data, name);
        if (!Fs.exists(fs, new Path(dir, Manifest.FILE_NAME))) {
            throw new DataException("source '" + name + "' was never prepared under " + data + ": no " + dir + "/"
                    + Manifest.FILE_NAME + " (run turbosparse prepare --input " + name + "=... --out " + data + ")");
        }
        Manifest m = Manifest.read(fs, dir);
        if (!name.equals(m.source())) {
            throw new DataException(dir + "/" + Manifest.FILE_NAME + ": describes source '" + m.source()
                    + "', not '" + name + "'");
        }
        return new PreparedSource(name, fs, dir, m);
    }

    public String name() {
        return name;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** Tokens per sequence: {@code seq_len + 1}. */
    public int width() {
        return manifest.sequenceTokens();
    }

    public List<Manifest.Shard> trainShards() {
        return manifest.shards();
    }

    public List<Manifest.Shard> heldoutShards() {
        return manifest.heldout().shards();
    }

    /** The held-out sequences, in order, at most {@code max} of them; row-major, {@link #width()} tokens each. */
    public int[] heldout(int max) {
        return rows(heldoutShards(), (int) Math.min(max, manifest.heldout().sequences()));
    }

    /** The first {@code n} sequences of the shards, in order; row-major, {@link #width()} tokens each. */
    public int[] rows(List<Manifest.Shard> shards, int n) {
        int width = width();
        int[] out = new int[Math.multiplyExact(n, width)];
        int row = 0;
        for (Manifest.Shard shard : shards) {
            if (row >= n) {
                break;
            }
            int[] tokens = read(shard);
            int take = (int) Math.min(shard.sequences(), n - row);
            System.arraycopy(tokens, 0, out, row * width, take * width);
            row += take;
        }
        return out;
    }

    /** A shard's tokens, row-major, after its checksum and schema are verified. */
    public int[] read(Manifest.Shard shard) {
        return Shards.read(fs, new Path(dir, shard.file()), shard.sha256(), shard.sequences(), manifest.seqLen(),
                manifest.tokenizer().sha256());
    }
}

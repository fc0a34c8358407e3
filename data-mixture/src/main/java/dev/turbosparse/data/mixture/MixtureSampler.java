package dev.turbosparse.data.mixture;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.Manifest;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A seeded, deterministic stream of packed sequences drawn from prepared sources by weight.
 *
 * <p><b>Which source.</b> Sequence t goes to the source with the largest deficit {@code target_i * (t + 1) -
 * taken_i} plus a seeded jitter below 1: realised proportions stay within about one sequence of the targets at every
 * point of the stream, and the interleaving still varies with the seed. All sequences have {@code seq_len + 1}
 * tokens, so sequence and token proportions are the same.
 *
 * <p><b>Which sequence.</b> Each source is read epoch by epoch: its shards in an order shuffled per epoch, the rows of
 * each shard shuffled too (so only one shard per source is in memory at a time). A source that runs out starts a
 * new epoch in a fresh shuffle, with a warning; the epochs used are reported.
 *
 * <p><b>State.</b> {@link #state()} is the count of sequences given and taken per source; {@link #restore} continues
 * the identical stream. Every shard is verified against the manifest's sha256 when it is loaded.
 */
public final class MixtureSampler {

    private static final Logger LOG = LogManager.getLogger(MixtureSampler.class);

    private final MixtureSpec spec;
    private final long seed;
    private final List<Stream> streams = new ArrayList<>();
    private final double[] targets;
    private final int width;
    private long emitted;

    private MixtureSampler(MixtureSpec spec, long seed, List<PreparedSource> sources) {
        this.spec = spec;
        this.seed = seed;
        Map<String, Double> t = spec.targets();
        this.targets = new double[sources.size()];
        for (int i = 0; i < sources.size(); i++) {
            streams.add(new Stream(sources.get(i), i, seed));
            targets[i] = t.get(sources.get(i).name());
        }
        this.width = sources.getFirst().width();
    }

    /**
     * Opens the sources a mixture names under a data folder (any Hadoop file system) and checks that they can be
     * mixed: every one prepared, with the same tokenizer and sequence length, and with training sequences.
     */
    public static MixtureSampler open(String dataUri, MixtureSpec spec, long seed, Configuration conf) {
        Path data = Fs.path(dataUri);
        FileSystem fs = Fs.fs(data, conf);
        List<PreparedSource> sources = new ArrayList<>();
        for (String name : spec.weights().keySet()) {
            sources.add(PreparedSource.open(fs, data, name));
        }
        PreparedSource first = sources.getFirst();
        for (PreparedSource s : sources) {
            Manifest m = s.manifest();
            if (!m.tokenizer().sha256().equals(first.manifest().tokenizer().sha256())) {
                throw new DataException("source '" + s.name() + "' was prepared with tokenizer "
                        + m.tokenizer().sha256().substring(0, 12) + "..., source '" + first.name() + "' with "
                        + first.manifest().tokenizer().sha256().substring(0, 12) + "...: one mixture needs one tokenizer");
            }
            if (m.seqLen() != first.manifest().seqLen()) {
                throw new DataException("source '" + s.name() + "' was prepared with seq_len " + m.seqLen()
                        + ", source '" + first.name() + "' with " + first.manifest().seqLen());
            }
            if (m.sequences() == 0) {
                throw new DataException("source '" + s.name() + "' has no training sequences (" + m.tokens()
                        + " tokens, fewer than one sequence of " + m.sequenceTokens() + ")");
            }
        }
        return new MixtureSampler(spec, seed, sources);
    }

    /** Tokens per sequence: {@code seq_len + 1}. */
    public int width() {
        return width;
    }

    public Manifest manifest(String source) {
        return stream(source).source.manifest();
    }

    /** The next {@code batch} sequences, row-major: {@code batch * width()} token ids. */
    public int[] next(int batch) {
        int[] out = new int[Math.multiplyExact(batch, width)];
        next(batch, out, null);
        return out;
    }

    /**
     * Fills {@code out} with the next {@code batch} sequences; {@code sources}, if not null, receives the index (in
     * the weights' order) of the source of each row.
     */
    public void next(int batch, int[] out, int[] sources) {
        for (int r = 0; r < batch; r++) {
            int s = choose();
            streams.get(s).copyNext(out, r * width);
            if (sources != null) {
                sources[r] = s;
            }
            emitted++;
        }
    }

    private int choose() {
        SplittableRandom jitter = new SplittableRandom(mix(seed, 0x6A09E667F3BCC909L, emitted));
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < streams.size(); i++) {
            double deficit = targets[i] * (emitted + 1) - streams.get(i).taken;
            double score = deficit + jitter.nextDouble();
            if (score > bestScore) {
                bestScore = score;
                best = i;
            }
        }
        return best;
    }

    /** Where the stream stands, for resuming it. */
    public SamplerState state() {
        Map<String, Long> taken = new LinkedHashMap<>();
        streams.forEach(s -> taken.put(s.source.name(), s.taken));
        return new SamplerState(seed, spec.temperature(), spec.weights(), emitted, taken);
    }

    /** Continues from a saved state; it must come from the same seed, weights and temperature. */
    public void restore(SamplerState state) {
        if (state.seed() != seed || state.temperature() != spec.temperature()
                || !state.weights().equals(spec.weights())) {
            throw new DataException("the sampler state was saved with seed " + state.seed() + ", weights "
                    + state.weights() + ", temperature " + state.temperature() + "; this mixture has seed " + seed
                    + ", weights " + spec.weights() + ", temperature " + spec.temperature());
        }
        long sum = 0;
        for (Stream s : streams) {
            Long t = state.taken().get(s.source.name());
            if (t == null || t < 0) {
                throw new DataException("the sampler state has no count for source '" + s.source.name() + "'");
            }
            s.seek(t);
            sum += t;
        }
        if (sum != state.emitted()) {
            throw new DataException("the sampler state is inconsistent: " + state.emitted() + " sequences given but "
                    + sum + " taken");
        }
        emitted = state.emitted();
    }

    /** Realised proportions and epochs so far. */
    public MixtureReport report() {
        Map<String, MixtureReport.Source> by = new LinkedHashMap<>();
        for (int i = 0; i < streams.size(); i++) {
            Stream s = streams.get(i);
            long sequences = s.source.manifest().sequences();
            by.put(s.source.name(), new MixtureReport.Source(targets[i],
                    emitted == 0 ? 0 : (double) s.taken / emitted, s.taken, s.taken * (long) width,
                    (double) s.taken / sequences, sequences));
        }
        return new MixtureReport(emitted, emitted * width, by);
    }

    /** The held-out sequences of a source, in order, at most {@code max} of them; row-major. */
    public int[] heldout(String source, int max) {
        return stream(source).source.heldout(max);
    }

    private Stream stream(String name) {
        for (Stream s : streams) {
            if (s.source.name().equals(name)) {
                return s;
            }
        }
        throw new DataException("source '" + name + "' is not in this mixture (" + spec.weights().keySet() + ")");
    }

    /** One source read epoch by epoch in shuffled order. */
    private static final class Stream {
        final PreparedSource source;
        final long seed;
        final int width;
        final long size;
        long taken; // sequences given so far: epoch = taken / size, offset in epoch = taken % size
        // The epoch and shard currently in memory.
        long epoch = -1;
        int[] shardOrder;
        long[] shardStarts; // prefix sums of the shard sizes in shardOrder
        int shardPos = -1;
        int loadedShard = -1; // which shard's tokens are in shardTokens (kept across epochs)
        int[] shardTokens;
        int[] rowOrder;

        Stream(PreparedSource source, int index, long seed) {
            this.source = source;
            this.seed = mix(seed, 0xBB67AE8584CAA73BL, index);
            this.width = source.width();
            this.size = source.manifest().sequences();
        }

        void seek(long position) {
            taken = position;
        }

        void copyNext(int[] out, int at) {
            long e = taken / size;
            long q = taken % size;
            if (e != epoch) {
                startEpoch(e);
            }
            int k = Arrays.binarySearch(shardStarts, q);
            if (k < 0) {
                k = -k - 2;
            }
            if (k != shardPos) {
                load(k);
            }
            int row = rowOrder[(int) (q - shardStarts[k])];
            System.arraycopy(shardTokens, row * width, out, at, width);
            taken++;
        }

        private void startEpoch(long e) {
            if (e >= 1 && (epoch < e)) {
                LOG.warn("source '{}' is repeated: epoch {} of its {} sequences starts", source.name(), e + 1, size);
            }
            epoch = e;
            List<Manifest.Shard> shards = source.trainShards();
            shardOrder = permutation(shards.size(), new SplittableRandom(mix(seed, 0x3C6EF372FE94F82BL, e)));
            shardStarts = new long[shards.size()];
            long start = 0;
            for (int i = 0; i < shards.size(); i++) {
                shardStarts[i] = start;
                start += shards.get(shardOrder[i]).sequences();
            }
            shardPos = -1;
        }

        private void load(int k) {
            Manifest.Shard shard = source.trainShards().get(shardOrder[k]);
            if (loadedShard != shardOrder[k]) {
                shardTokens = source.read(shard);
                loadedShard = shardOrder[k];
            }
            rowOrder = permutation(Math.toIntExact(shard.sequences()),
                    new SplittableRandom(mix(seed, 0xA54FF53A5F1D36F1L, epoch * 1_000_003L + shardOrder[k])));
            shardPos = k;
        }
    }

    /** A Fisher-Yates permutation of 0..n-1. */
    static int[] permutation(int n, SplittableRandom rnd) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** A seed for one purpose (a domain constant) and one index, from the run's seed: splitmix64 of the mix. */
    static long mix(long seed, long domain, long index) {
        long z = seed ^ domain ^ (index * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}

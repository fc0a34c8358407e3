package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.corpus.CorpusReader;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Prepares named sources into packed, sharded token sequences under an output folder (any Hadoop file system):
 * {@code <out>/<name>/train-*.arrow}, {@code heldout-*.arrow} and {@code manifest.json}.
 *
 * <p>Two passes per source. The tokenizing pass turns each input file into a token file under
 * {@code <name>/_tokens/} with a record beside it; a re-run reuses every one whose input is unchanged (same size
 * and modification time) and whose checksum verifies. The packing pass then writes the shards and, last, the
 * manifest. A source whose manifest matches the inputs and settings and whose shards verify is skipped whole. A
 * crash at any point leaves complete files and temporary ones that no reader takes; the next run continues.
 */
public final class Preparer {

    private static final Logger LOG = LogManager.getLogger(Preparer.class);

    /** Hears how preparation goes: for progress bars and logs. */
    public interface Listener {
        default void source(SourcePlan plan) {}

        /** @param bytes input bytes of the source done so far (files reused count at once) */
        default void progress(SourcePlan plan, long bytes) {}

        default void done(SourcePlan plan, Manifest manifest, boolean reused) {}
    }

    private final Configuration conf;
    private final PrepareSettings settings;
    private final Path out;
    private final FileSystem outFs;
    private final Tokenizer tokenizer;
    private final Listener listener;

    /**
     * @param tokenizer the tokenizer, loaded with {@link #loadTokenizer}
     */
    public Preparer(Configuration conf, PrepareSettings settings, String outUri, Tokenizer tokenizer, Listener listener) {
        this.conf = conf;
        this.settings = settings;
        this.out = Fs.path(outUri);
        this.outFs = Fs.fs(out, conf);
        this.tokenizer = tokenizer;
        this.listener = listener == null ? new Listener() {} : listener;
    }

    /** Loads tokenizer.json (a file, or a folder holding it) and its tokenizer_config.json from any file system. */
    public static Tokenizer loadTokenizer(String uri, Configuration conf) {
        Path p = Fs.path(uri);
        FileSystem fs = Fs.fs(p, conf);
        try {
            Path file = fs.getFileStatus(p).isDirectory() ? new Path(p, Tokenizer.FILE_NAME) : p;
            byte[] json = Fs.readAll(fs, file, 1L << 30);
            Path config = new Path(file.getParent(), Tokenizer.CONFIG_FILE_NAME);
            byte[] configJson = Fs.exists(fs, config) ? Fs.readAll(fs, config, 64L << 20) : null;
            return Tokenizer.fromBytes(file.toString(), json, configJson);
        } catch (java.io.FileNotFoundException e) {
            throw new DataException(p + ": not found (give tokenizer.json or a folder that holds it)");
        } catch (IOException e) {
            throw new DataException(p + ": cannot read: " + e.getMessage());
        }
    }

    /** What a source's manifest says about the tokenizer and how special tokens are added. */
    Manifest.TokenizerInfo tokenizerInfo() {
        return new Manifest.TokenizerInfo(tokenizer.fingerprint(), tokenizer.vocabSize(), tokenizer.bosId(),
                tokenizer.eosId());
    }

    /** The BOS id each document starts with, or -1. */
    int bos() {
        boolean add = settings.bos() != null ? settings.bos() : tokenizer.addsBos();
        if (add && tokenizer.bosId() == null) {
            throw new DataException(tokenizer.file() + ": BOS is to be added, but the tokenizer names no BOS token");
        }
        return add ? tokenizer.bosId() : -1;
    }

    /** The EOS id each document ends with, or -1. */
    int eos() {
        if (settings.eos() && tokenizer.eosId() == null) {
            throw new DataException(tokenizer.file() + ": EOS separates documents, but the tokenizer names no EOS token"
                    + " (pass --no-eos to pack without it)");
        }
        return settings.eos() ? tokenizer.eosId() : -1;
    }

    /** Prepares sources (name → URI), in order; returns their manifests. */
    public Map<String, Manifest> prepare(Map<String, String> sources) throws IOException {
        List<SourcePlan> plans = new ArrayList<>();
        for (Map.Entry<String, String> e : sources.entrySet()) {
            plans.add(SourcePlan.of(e.getKey(), e.getValue(), settings, conf)); // all inputs checked before any work
        }
        Map<String, Manifest> manifests = new LinkedHashMap<>();
        for (SourcePlan plan : plans) {
            manifests.put(plan.name(), prepare(plan));
        }
        return manifests;
    }

    Manifest prepare(SourcePlan plan) throws IOException {
        listener.source(plan);
        Path dir = new Path(out, plan.name());
        Manifest done = completed(plan, dir);
        if (done != null) {
            LOG.info("source '{}': already prepared in {} ({} sequences); --force prepares it again", plan.name(), dir,
                    done.sequences());
            listener.progress(plan, plan.bytes());
            listener.done(plan, done, true);
            return done;
        }
        String tokenSettings = plan.tokenSettings(tokenizer.fingerprint(), settings);
        CorpusReader reader = plan.format().reader(settings.textField());
        TokenDirectory tokens = new TokenDirectory(outFs, dir);
        List<FileRecord> records = new ArrayList<>();
        long started = System.nanoTime();
        long before = 0;
        int reused = 0;
        for (int i = 0; i < plan.files().size(); i++) {
            FileStatus file = plan.files().get(i);
            FileRecord r = tokens.reusable(plan, file, i, tokenSettings);
            if (r == null) {
                long base = before;
                r = TokenizePass.run(Fs.fs(file.getPath(), conf), conf, file, plan.relative(file), i, reader, tokenizer,
                        tokenSettings, settings.strict(), outFs, tokens.path(),
                        chars -> listener.progress(plan, base + Math.min(chars, file.getLen())));
                tokens.write(r);
            } else {
                reused++;
            }
            records.add(r);
            before += file.getLen();
            listener.progress(plan, before);
        }
        if (reused > 0) {
            LOG.info("source '{}': reused {} of {} tokenized file(s) from an earlier run", plan.name(), reused,
                    plan.files().size());
        }
        long tokenized = System.nanoTime();
        Manifest m = PackPass.run(outFs, dir, plan, settings, tokenizerInfo(), records, bos(), eos());
        if (!settings.keepTokens()) {
            tokens.delete();
        }
        LOG.debug("source '{}': tokenizing pass {} s ({} file(s)), packing pass {} s ({} shard(s))", plan.name(),
                String.format("%.2f", (tokenized - started) / 1e9), plan.files().size(),
                String.format("%.2f", (System.nanoTime() - tokenized) / 1e9), m.shards().size() + m.heldout().shards().size());
        listener.done(plan, m, false);
        return m;
    }

    /** The manifest of an earlier run if it matches this run's inputs and settings and every shard verifies. */
    Manifest completed(SourcePlan plan, Path dir) {
        if (settings.force() || !Fs.exists(outFs, new Path(dir, Manifest.FILE_NAME))) {
            return null;
        }
        Manifest m;
        try {
            m = Manifest.read(outFs, dir);
        } catch (DataException e) {
            LOG.warn("source '{}': the manifest of an earlier run is unreadable ({}); preparing again", plan.name(),
                    e.getMessage());
            return null;
        }
        boolean same = m.input().listingSha256().equals(plan.listingSha()) && m.input().uri().equals(plan.uri())
                && m.input().format().equals(plan.format().id()) && m.input().textField().equals(settings.textField())
                && m.tokenizer().equals(tokenizerInfo()) && m.seqLen() == settings.seqLen()
                && m.bos() == (bos() >= 0) && m.eos() == (eos() >= 0)
                && m.shardSequences() == settings.sequencesPerShard()
                && m.heldoutFraction() == settings.heldoutFraction();
        if (!same) {
            return null;
        }
        List<Manifest.Shard> all = new ArrayList<>(m.shards());
        all.addAll(m.heldout().shards());
        for (Manifest.Shard s : all) {
            if (!TokenDirectory.verify(outFs, new Path(dir, s.file()), s.bytes(), s.sha256())) {
                LOG.warn("source '{}': shard {} of an earlier run does not verify; preparing again", plan.name(), s.file());
                return null;
            }
        }
        return m;
    }

    /** The shard file name pattern, for tools that list a prepared source. */
    static boolean isShard(String name) {
        return name.endsWith(".arrow") && (name.startsWith("train-") || name.startsWith("heldout-"));
    }
}

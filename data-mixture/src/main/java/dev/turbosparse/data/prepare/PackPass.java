package dev.turbosparse.data.prepare;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.shard.Shards;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The second pass of preparation, for one source: read the token files in input order, send each document to the
 * training or the held-out packer, write the shards, then the manifest, then remove shards of an older run that the
 * new manifest does not list.
 *
 * <p>The held-out documents are the ⌈fraction × documents⌉ with the smallest hash of their token ids (at least one
 * is left for training): an exact share even for a small source, stable across runs, and identical documents always
 * fall on the same side.
 */
final class PackPass {

    private PackPass() {}

    /**
     * @param records the tokenizing pass's records, one per input file, in input order
     * @param bos the BOS id per document, or -1
     * @param eos the EOS id per document, or -1
     */
    static Manifest run(FileSystem fs, Path sourceDir, SourcePlan plan, PrepareSettings s,
            Manifest.TokenizerInfo tokenizer, List<FileRecord> records, int bos, int eos) throws IOException {
        Path tokenDir = new Path(sourceDir, TokenDirectory.NAME);
        int perShard = s.sequencesPerShard();
        Packer train = new Packer(fs, sourceDir, "train", s.seqLen(), perShard, tokenizer.sha256(), bos, eos);
        Packer heldout = new Packer(fs, sourceDir, "heldout", s.seqLen(), perShard, tokenizer.sha256(), bos, eos);
        long threshold = heldoutThreshold(fs, tokenDir, records, s.heldoutFraction());
        for (FileRecord r : records) {
            try (TokenFile.Reader reader = new TokenFile.Reader(fs, new Path(tokenDir, r.tokenFile()))) {
                for (int[] ids = reader.next(); ids != null; ids = reader.next()) {
                    int n = reader.length();
                    if (threshold != NONE && Long.compareUnsigned(hash(ids, n), threshold) <= 0) {
                        heldout.add(ids, n);
                    } else {
                        train.add(ids, n);
                    }
                }
            }
        }
        Manifest.Split t = train.finish();
        Manifest.Split h = heldout.finish();
        if (t.documents() + h.documents() == 0) {
            throw new DataException("source '" + plan.name() + "': no documents in " + plan.files().size() + " file(s) at "
                    + plan.uri() + summary(records));
        }
        Manifest m = new Manifest(Shards.FORMAT, plan.name(),
                new Manifest.Input(plan.uri(), plan.format().id(), s.textField(), plan.files().size(), plan.bytes(),
                        plan.listingSha()),
                tokenizer, s.seqLen(), bos >= 0, eos >= 0, perShard, s.heldoutFraction(), t.documents(), t.tokens(),
                t.sequences(), t.droppedTokens(), t.shards(), h, skipped(records));
        m.write(fs, sourceDir);
        removeUnlisted(fs, sourceDir, m);
        return m;
    }

    /** No document is held out. */
    static final long NONE = 0;

    /**
     * The hash (unsigned) at or below which documents are held out: the largest of the ⌈fraction × n⌉ smallest
     * document hashes, found in one read of the token files with a bounded heap. {@link #NONE} if none is held out.
     */
    static long heldoutThreshold(FileSystem fs, Path tokenDir, List<FileRecord> records, double fraction)
            throws IOException {
        long documents = records.stream().mapToLong(FileRecord::documents).sum();
        long k = Math.min((long) Math.ceil(fraction * documents), documents - 1);
        if (fraction <= 0 || k <= 0) {
            return NONE;
        }
        if (k > Integer.MAX_VALUE - 8) {
            throw new DataException("a held-out split of " + k + " documents is too large; lower --heldout");
        }
        // Max-heap (by unsigned value) of the k smallest hashes seen.
        java.util.PriorityQueue<Long> smallest = new java.util.PriorityQueue<>((int) k,
                (a, b) -> Long.compareUnsigned(b, a));
        for (FileRecord r : records) {
            try (TokenFile.Reader reader = new TokenFile.Reader(fs, new Path(tokenDir, r.tokenFile()))) {
                for (int[] ids = reader.next(); ids != null; ids = reader.next()) {
                    long h = hash(ids, reader.length());
                    if (smallest.size() < k) {
                        smallest.add(h);
                    } else if (Long.compareUnsigned(h, smallest.peek()) < 0) {
                        smallest.poll();
                        smallest.add(h);
                    }
                }
            }
        }
        long t = smallest.peek();
        return t == NONE ? 1 : t; // a hash of 0 is vanishingly rare; keep NONE meaning "none"
    }

    /** A 64-bit hash of a document's token ids (FNV-1a over the ids, then the splitmix64 finaliser); never 0. */
    static long hash(int[] ids, int n) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < n; i++) {
            h = (h ^ ids[i]) * 0x100000001b3L;
        }
        h ^= n;
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return h == NONE ? 1 : h;
    }

    private static Manifest.Skipped skipped(List<FileRecord> records) {
        long total = 0;
        Map<String, Long> byReason = new TreeMap<>();
        List<FileRecord.Skip> first = new ArrayList<>();
        for (FileRecord r : records) {
            for (FileRecord.Skip k : r.skipped()) {
                total++;
                byReason.merge(reasonKey(k.reason()), 1L, Long::sum);
                if (first.size() < Manifest.LISTED_SKIPS) {
                    first.add(k);
                }
            }
        }
        return new Manifest.Skipped(total, byReason, first);
    }

    /** The reason without the detail that varies from record to record (a JSON parser's message). */
    static String reasonKey(String reason) {
        int colon = reason.indexOf(": ");
        return reason.startsWith("malformed JSON") && colon > 0 ? reason.substring(0, colon) : reason;
    }

    private static String summary(List<FileRecord> records) {
        Manifest.Skipped s = skipped(records);
        return s.records() == 0 ? "" : " (" + s.records() + " record(s) skipped: " + s.byReason() + ")";
    }

    private static void removeUnlisted(FileSystem fs, Path dir, Manifest m) throws IOException {
        java.util.Set<String> keep = new java.util.HashSet<>();
        m.shards().forEach(x -> keep.add(x.file()));
        m.heldout().shards().forEach(x -> keep.add(x.file()));
        for (FileStatus f : fs.listStatus(dir)) {
            String name = f.getPath().getName();
            if (f.isFile() && Preparer.isShard(name) && !keep.contains(name)) {
                fs.delete(f.getPath(), false);
            }
        }
    }
}

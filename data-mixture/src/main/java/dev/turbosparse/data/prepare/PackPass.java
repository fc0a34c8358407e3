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
 * training or the held-out packer (by a hash of its tokens, so the split is stable and needs no text), write the
 * shards, then the manifest, then remove shards of an older run that the new manifest does not list.
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
        Path tokenDir = new Path(sourceDir, Preparer.TOKEN_DIR);
        int perShard = s.sequencesPerShard();
        Packer train = new Packer(fs, sourceDir, "train", s.seqLen(), perShard, tokenizer.sha256(), bos, eos);
        Packer heldout = new Packer(fs, sourceDir, "heldout", s.seqLen(), perShard, tokenizer.sha256(), bos, eos);
        long threshold = heldoutThreshold(s.heldoutFraction());
        for (FileRecord r : records) {
            try (TokenFile.Reader reader = new TokenFile.Reader(fs, new Path(tokenDir, r.tokenFile()))) {
                for (int[] ids = reader.next(); ids != null; ids = reader.next()) {
                    int n = reader.length();
                    if (Long.compareUnsigned(hash(ids, n), threshold) < 0) {
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

    /** Documents whose hash falls below this (as unsigned 64-bit) are held out. */
    static long heldoutThreshold(double fraction) {
        if (fraction <= 0) {
            return 0;
        }
        // fraction * 2^64, as an unsigned long
        double scaled = fraction * 0x1p64;
        return scaled >= 0x1p63 ? (long) (scaled - 0x1p63) ^ Long.MIN_VALUE : (long) scaled;
    }

    /** A 64-bit hash of a document's token ids (FNV-1a over the ids, then the splitmix64 finaliser). */
    static long hash(int[] ids, int n) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < n; i++) {
            h = (h ^ ids[i]) * 0x100000001b3L;
        }
        h ^= n;
        h = (h ^ (h >>> 30)) * 0xbf58476d1ce4e5b9L;
        h = (h ^ (h >>> 27)) * 0x94d049bb133111ebL;
        return h ^ (h >>> 31);
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

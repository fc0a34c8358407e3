package dev.turbosparse.data.bench;

import dev.turbosparse.data.corpus.CorpusReader;
import dev.turbosparse.data.corpus.DocumentSink;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.mixture.MixtureSampler;
import dev.turbosparse.data.mixture.MixtureSpec;
import dev.turbosparse.data.prepare.Manifest;
import dev.turbosparse.data.prepare.PrepareSettings;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.data.prepare.SourcePlan;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;

/**
 * Measures the data path on this machine: preparation end to end (read, tokenize, write token files, pack, write
 * shards and manifests) against the raw tokenizer encoding the same documents in the same run, and the sampler
 * drawing batches from the prepared data.
 */
public final class DataBenchmark {

    /** Figures of one run. */
    public record Result(long documents, long characters, long tokens, double rawSeconds, double prepareSeconds,
            long sampledTokens, double sampleSeconds, long shardBytes, long shardTokens, double loadSeconds) {

        /** Reading, verifying (sha256) and decoding shards: the rate at which a sampler can bring in new data. */
        public double shardLoadTokensPerSecond() {
            return shardTokens / loadSeconds;
        }

        public double rawTokensPerSecond() {
            return tokens / rawSeconds;
        }

        public double prepareTokensPerSecond() {
            return tokens / prepareSeconds;
        }

        /** Preparation throughput as a share of the raw tokenizer's. */
        public double prepareShareOfRaw() {
            return prepareTokensPerSecond() / rawTokensPerSecond();
        }

        public double samplerTokensPerSecond() {
            return sampledTokens / sampleSeconds;
        }
    }

    private DataBenchmark() {}

    /**
     * @param inputs source name → raw corpus URI
     * @param out a scratch folder for the prepared data (prepared again with --force semantics)
     * @param sampleSeconds how long to draw batches from the sampler
     */
    public static Result run(Map<String, String> inputs, Tokenizer tokenizer, int seqLen, String out, int batch,
            double sampleSeconds, Configuration conf) throws IOException {
        PrepareSettings settings = new PrepareSettings(seqLen, null, "text", List.of(), List.of(), null, true,
                PrepareSettings.DEFAULT_HELDOUT, 0, false, false, true);
        // The documents, read once into memory for the raw tokenizer.
        List<String> docs = new ArrayList<>();
        for (Map.Entry<String, String> e : inputs.entrySet()) {
            SourcePlan plan = SourcePlan.of(e.getKey(), e.getValue(), settings, conf);
            CorpusReader reader = plan.format().reader("text");
            for (FileStatus f : plan.files()) {
                reader.read(Fs.fs(f.getPath(), conf), conf, f.getPath(), new DocumentSink() {
                    @Override
                    public void document(String text, long line) {
                        docs.add(text);
                    }

                    @Override
                    public void skip(long line, String reason) {}
                });
            }
        }
        long chars = docs.stream().mapToLong(String::length).sum();
        encode(tokenizer, docs); // warm-up
        long t0 = System.nanoTime();
        long tokens = encode(tokenizer, docs);
        double raw1 = (System.nanoTime() - t0) / 1e9;

        Preparer preparer = new Preparer(conf, settings, out, tokenizer, null);
        preparer.prepare(inputs); // warm-up, as for the raw tokenizer (settings say force: every run does all the work)
        t0 = System.nanoTime();
        Map<String, Manifest> manifests = preparer.prepare(inputs);
        double prepare = (System.nanoTime() - t0) / 1e9;

        t0 = System.nanoTime();
        encode(tokenizer, docs); // the raw figure is the mean of a run before and one after preparation
        double raw2 = (System.nanoTime() - t0) / 1e9;

        // Every training shard read, verified and decoded once, as a sampler does once per shard and epoch.
        long shardBytes = 0;
        long shardTokens = 0;
        t0 = System.nanoTime();
        for (Map.Entry<String, Manifest> e : manifests.entrySet()) {
            dev.turbosparse.data.mixture.PreparedSource src = dev.turbosparse.data.mixture.PreparedSource.open(
                    Fs.fs(Fs.path(out), conf), Fs.path(out), e.getKey());
            for (Manifest.Shard shard : src.trainShards()) {
                shardTokens += src.read(shard).length;
                shardBytes += shard.bytes();
            }
        }
        double load = (System.nanoTime() - t0) / 1e9;

        Map<String, Double> weights = new java.util.LinkedHashMap<>();
        manifests.keySet().forEach(n -> weights.put(n, 1.0));
        MixtureSampler sampler = MixtureSampler.open(out, new MixtureSpec(weights, 1.0), 1, conf);
        int[] buffer = new int[batch * sampler.width()];
        sampler.next(batch, buffer, null); // loads the first shards
        long sampled = 0;
        t0 = System.nanoTime();
        long end = t0 + (long) (sampleSeconds * 1e9);
        while (System.nanoTime() < end) {
            sampler.next(batch, buffer, null);
            sampled += buffer.length;
        }
        double sampling = (System.nanoTime() - t0) / 1e9;
        return new Result(docs.size(), chars, tokens, (raw1 + raw2) / 2, prepare, sampled, sampling, shardBytes,
                shardTokens, load);
    }

    /** Encodes documents in the batches preparation uses; returns the token count. */
    private static long encode(Tokenizer tokenizer, List<String> docs) {
        long tokens = 0;
        List<String> batch = new ArrayList<>();
        long chars = 0;
        for (String d : docs) {
            batch.add(d);
            chars += d.length();
            if (chars >= (1 << 20) || batch.size() >= 1024) {
                tokens += count(tokenizer.encodeBatch(batch));
                batch.clear();
                chars = 0;
            }
        }
        if (!batch.isEmpty()) {
            tokens += count(tokenizer.encodeBatch(batch));
        }
        return tokens;
    }

    private static long count(long[][] ids) {
        long n = 0;
        for (long[] d : ids) {
            n += d.length;
        }
        return n;
    }
}

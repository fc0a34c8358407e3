package dev.turbosparse.data.mixture;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.TestData;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.data.prepare.PrepareSettings;
import dev.turbosparse.data.prepare.Preparer;
import dev.turbosparse.data.shard.Shards;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prepared data that was changed, or made with other settings, is refused by name, never silently mixed. */
class PreparedDataIntegrityTest {

    private static final Configuration CONF = Fs.configuration();

    private static void prepare(Path out, String name, int seqLen, Tokenizer t, Path dir) throws IOException {
        Path src = Files.createDirectories(dir.resolve("raw-" + name + "-" + seqLen));
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 50; i++) {
            b.append("{\"text\": \"").append(name).append(" document ").append(i).append(" with some words\"}\n");
        }
        Files.writeString(src.resolve("a.jsonl"), b);
        PrepareSettings s = new PrepareSettings(seqLen, null, "text", List.of(), List.of(), null, true, 0, 4, false,
                false, false);
        new Preparer(CONF, s, out.toString(), t, null).prepare(Map.of(name, src.toString()));
    }

    private static String failure(Path data, String weights) {
        return assertThrows(DataException.class, () -> {
            MixtureSampler s = MixtureSampler.open(data.toString(), MixtureSpec.parse(weights, 1), 1, CONF);
            s.next(200);
        }).getMessage();
    }

    @Test
    void aChangedShardFailsItsChecksum(@TempDir Path dir) throws IOException {
        Path data = dir.resolve("data");
        try (Tokenizer t = TestData.tokenizer()) {
            prepare(data, "web", 7, t, dir);
        }
        Path shard = data.resolve("web/train-00000.arrow");
        byte[] bytes = Files.readAllBytes(shard);
        bytes[bytes.length / 2] ^= 1;
        Files.write(shard, bytes);
        String msg = failure(data, "web=1");
        assertTrue(msg.contains("train-00000.arrow: checksum mismatch"), msg);
    }

    @Test
    void aShardOfAnotherSequenceLengthIsRefusedEvenWithAMatchingChecksum(@TempDir Path dir) throws IOException {
        Path data = dir.resolve("data");
        Path other = dir.resolve("other");
        try (Tokenizer t = TestData.tokenizer()) {
            prepare(data, "web", 7, t, dir);
            prepare(other, "web", 15, t, dir);
        }
        // Put a seq_len-15 shard in place and make the manifest's checksum agree with it.
        Path target = data.resolve("web/train-00000.arrow");
        String oldSha = Shards.sha256(Files.readAllBytes(target));
        Files.copy(other.resolve("web/train-00000.arrow"), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        String newSha = Shards.sha256(Files.readAllBytes(target));
        Path manifest = data.resolve("web/manifest.json");
        Files.writeString(manifest, Files.readString(manifest).replace(oldSha, newSha));
        String msg = failure(data, "web=1");
        assertTrue(msg.contains("made with seq_len 15, expected 7"), msg);
    }

    @Test
    void sourcesOfAnotherTokenizerOrSequenceLengthDoNotMix(@TempDir Path dir) throws IOException {
        Path data = dir.resolve("data");
        Path tok = Files.createDirectories(dir.resolve("tok"));
        // The same vocabulary with one merge less is another tokenizer: another sha256.
        String json = Files.readString(TestData.tokenizerDir().resolve("tokenizer.json"));
        Files.writeString(tok.resolve("tokenizer.json"), json.replaceFirst("\"▁ t\",", ""));
        try (Tokenizer a = TestData.tokenizer(); Tokenizer b = Tokenizer.load(tok)) {
            prepare(data, "web", 7, a, dir);
            prepare(data, "code", 7, b, dir);
            prepare(data, "math", 15, a, dir);
        }
        String msg = failure(data, "web=0.5,code=0.5");
        assertTrue(msg.contains("source 'code' was prepared with tokenizer") && msg.contains("one mixture needs one tokenizer"),
                msg);
        msg = failure(data, "web=0.5,math=0.5");
        assertTrue(msg.contains("source 'math' was prepared with seq_len 15, source 'web' with 7"), msg);
    }
}

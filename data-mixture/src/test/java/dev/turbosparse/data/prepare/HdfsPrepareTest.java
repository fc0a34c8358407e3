package dev.turbosparse.data.prepare;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.turbosparse.data.TestData;
import dev.turbosparse.data.mixture.MixtureReport;
import dev.turbosparse.data.mixture.MixtureSampler;
import dev.turbosparse.data.mixture.MixtureSpec;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Preparation and sampling on hdfs:// (MiniDFSCluster), locally and as a MapReduce job with the local runner. */
class HdfsPrepareTest {

    @TempDir
    static Path dir;
    private static MiniDFSCluster cluster;
    private static FileSystem hdfs;
    private static Configuration conf;
    private static String uri;

    @BeforeAll
    static void start() throws IOException {
        Configuration c = new Configuration();
        c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("dfs").toString());
        cluster = new MiniDFSCluster.Builder(c).numDataNodes(1).build();
        hdfs = cluster.getFileSystem();
        conf = new Configuration(cluster.getConfiguration(0));
        conf.set("mapreduce.framework.name", "local");
        conf.set("mapreduce.local.reduce.tasks.maximum", "2");
        uri = hdfs.getUri().toString();

        // web: the first documents of the bundled sample, in two JSONL files.
        List<String> lines = Files.readAllLines(Path.of(TestData.root().toString(), "..",
                "data-mixture/corpora/sample/web/part-0000.jsonl"), StandardCharsets.UTF_8);
        put("/raw/web/a.jsonl", String.join("\n", lines.subList(0, 6)) + "\n{broken\n");
        put("/raw/web/b.jsonl", String.join("\n", lines.subList(6, 12)) + "\n");
        // math: a Parquet file with a text column.
        MessageType schema = MessageTypeParser.parseMessageType("message doc { required binary text (UTF8); required int32 n; }");
        SimpleGroupFactory groups = new SimpleGroupFactory(schema);
        try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(uri + "/raw/math/m.parquet"))
                .withConf(conf).withType(schema).build()) {
            for (int i = 0; i < 40; i++) {
                w.write(groups.newGroup().append("text", "Theorem " + i + ": for all n, n + " + i + " = " + i + " + n. Proof by induction on n.").append("n", i));
            }
        }
        Path tok = TestData.tokenizerDir().resolve("tokenizer.json");
        hdfs.copyFromLocalFile(new org.apache.hadoop.fs.Path(tok.toUri()), new org.apache.hadoop.fs.Path("/tok/tokenizer.json"));
    }

    private static void put(String path, String text) throws IOException {
        try (OutputStream o = hdfs.create(new org.apache.hadoop.fs.Path(path))) {
            o.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.shutdown();
        }
    }

    private static Map<String, String> inputs() {
        Map<String, String> in = new LinkedHashMap<>();
        in.put("web", uri + "/raw/web");
        in.put("math", uri + "/raw/math");
        return in;
    }

    private static final PrepareSettings SETTINGS = new PrepareSettings(63, null, "text", List.of(), List.of(), null,
            true, 0.1, 16, false, false, false);

    private static Map<String, byte[]> files(String root) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        for (FileStatus s : hdfs.listStatus(new org.apache.hadoop.fs.Path(root))) {
            if (s.getPath().getName().startsWith("_")) {
                continue;
            }
            for (FileStatus f : hdfs.listStatus(s.getPath())) {
                try (var in = hdfs.open(f.getPath())) {
                    out.put(s.getPath().getName() + "/" + f.getPath().getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }

    @Test
    void mapReduceOutputEqualsTheLocalOutputAndSamplesFromHdfs() throws Exception {
        Map<String, Manifest> local;
        try (Tokenizer t = Preparer.loadTokenizer(uri + "/tok", conf)) {
            local = new Preparer(conf, SETTINGS, uri + "/out-local", t, null).prepare(inputs());
        }
        Map<String, Manifest> mr = PrepareJob.run(inputs(), uri + "/tok", uri + "/out-mr", SETTINGS, conf);
        assertEquals(local, mr);
        assertEquals("parquet", mr.get("math").input().format());
        assertEquals(1, mr.get("web").skipped().records(), "the broken line, with its file and line");
        assertEquals("a.jsonl", mr.get("web").skipped().first().getFirst().file());
        assertEquals(7, mr.get("web").skipped().first().getFirst().line());

        Map<String, byte[]> a = files("/out-local");
        Map<String, byte[]> b = files("/out-mr");
        assertEquals(a.keySet(), b.keySet());
        assertTrue(a.size() >= 6, "manifests and shards: " + a.keySet());
        a.forEach((k, v) -> assertArrayEquals(v, b.get(k), k + " differs between local and MapReduce"));
        assertTrue(!hdfs.exists(new org.apache.hadoop.fs.Path("/out-mr/web/_tokens")), "token files removed");

        MixtureSampler s = MixtureSampler.open(uri + "/out-mr", MixtureSpec.parse("web=0.75,math=0.25", 1), 9, conf);
        s.next(400);
        MixtureReport r = s.report();
        assertTrue(r.maxDeviation() < 0.01, r.toString());

        // A second job finds both sources complete and runs nothing.
        Map<String, Manifest> again = PrepareJob.run(inputs(), uri + "/tok", uri + "/out-mr", SETTINGS, conf);
        assertEquals(mr, again);
    }
}

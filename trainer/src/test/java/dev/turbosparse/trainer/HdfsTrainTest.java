package dev.turbosparse.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.data.fs.Fs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run whose start model and run folder are on hdfs:// (MiniDFSCluster): checkpoints committed there, resumed from
 * there, and the resumed run ends with the weights of an uninterrupted local one.
 */
class HdfsTrainTest {

    @TempDir
    static Path dir;
    private static MiniDFSCluster cluster;
    private static FileSystem hdfs;
    private static Configuration conf;
    private static String uri;
    private static Path mixture;

    @BeforeAll
    static void start() throws IOException {
        Configuration c = new Configuration();
        c.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("dfs").toString());
        cluster = new MiniDFSCluster.Builder(c).numDataNodes(1).build();
        hdfs = cluster.getFileSystem();
        conf = new Configuration(cluster.getConfiguration(0));
        uri = hdfs.getUri().toString();
        Path base = TestPaths.root().resolve("models/tiny-mistral-swiglu");
        hdfs.copyFromLocalFile(new org.apache.hadoop.fs.Path(base.toUri()), new org.apache.hadoop.fs.Path("/models/tiny"));
        mixture = TestPaths.demoMixture(dir, dir.resolve("demo-data"));
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.shutdown();
        }
    }

    private static Recipe recipe(String base, String output, int steps) {
        return Recipe.read(TestPaths.config("debug-drelu.yaml"), List.of("data.mixture=" + mixture, "model.base=" + base,
                "output=" + output, "steps=" + steps, "micro_batch=1", // two sequences a step: the same paths, fewer tokens
                "schedule.warmup_steps=2", "checkpoint.every=2", "eval.every=2",
                "sparsity_every=0", // a constant rate after warmup: the schedule does not depend on the budget
                "schedule.kind=constant", "schedule.min_lr=null"));
    }

    private static String read(String path) throws IOException {
        try (InputStream in = hdfs.open(new org.apache.hadoop.fs.Path(path))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void checkpointsAndMetricsLiveOnHdfsAndResumeFromThere() throws IOException {
        String run = uri + "/runs/a";
        Trainer.run(recipe(uri + "/models/tiny", run, 4), false, conf, null);
        assertTrue(hdfs.exists(new org.apache.hadoop.fs.Path("/runs/a/checkpoints/step-000004/COMMITTED")));
        assertTrue(hdfs.exists(new org.apache.hadoop.fs.Path("/runs/a/checkpoints/step-000004/optimizer.safetensors")));
        assertTrue(hdfs.exists(new org.apache.hadoop.fs.Path("/runs/a/final/model.safetensors")));
        assertEquals(5, read("/runs/a/metrics.jsonl").lines().count(), "a baseline line and four steps");

        Trainer.run(recipe(uri + "/models/tiny", run, 6), true, conf, null);
        List<Long> steps = new ArrayList<>();
        for (String line : read("/runs/a/metrics.jsonl").lines().toList()) {
            JsonNode n = MetricsLog.JSON.readTree(line);
            steps.add(n.get("step").asLong());
        }
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L), steps);
        assertFalse(hdfs.exists(new org.apache.hadoop.fs.Path("/runs/a/checkpoints/step-000002")), "keep: 2");
        assertTrue(hdfs.exists(new org.apache.hadoop.fs.Path("/runs/a/checkpoints/step-000006/COMMITTED")));

        // the same 6 steps in one go, all local: the same final weights, byte for byte
        Path local = dir.resolve("local-run");
        Trainer.run(recipe(TestPaths.root().resolve("models/tiny-mistral-swiglu").toString(), local.toString(), 6), false,
                Fs.configuration(), null);
        byte[] resumed;
        try (InputStream in = hdfs.open(new org.apache.hadoop.fs.Path("/runs/a/final/model.safetensors"))) {
            resumed = in.readAllBytes();
        }
        assertArrayEquals(Files.readAllBytes(local.resolve("final/model.safetensors")), resumed);
    }
}

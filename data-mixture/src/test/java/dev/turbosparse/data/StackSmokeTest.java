package dev.turbosparse.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.Path;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.ByteArrayReadableSeekableByteChannel;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.Mapper;
import org.apache.hadoop.mapreduce.lib.input.FileInputFormat;
import org.apache.hadoop.mapreduce.lib.output.FileOutputFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StackSmokeTest {

    public static class Upper extends Mapper<LongWritable, Text, Text, Text> {
        @Override
        protected void map(LongWritable k, Text v, Context ctx) throws java.io.IOException, InterruptedException {
            ctx.write(new Text(v.toString().toUpperCase()), new Text(""));
        }
    }

    @Test
    void miniDfsAndLocalMapReduce(@TempDir Path dir) throws Exception {
        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, dir.resolve("dfs").toString());
        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
        try {
            FileSystem fs = cluster.getFileSystem();
            org.apache.hadoop.fs.Path in = new org.apache.hadoop.fs.Path("/in/a.txt");
            try (FSDataOutputStream out = fs.create(in)) {
                out.writeBytes("hello\nworld\n");
            }
            Configuration jc = new Configuration(cluster.getConfiguration(0));
            jc.set("mapreduce.framework.name", "local");
            Job job = Job.getInstance(jc, "smoke");
            job.setMapperClass(Upper.class);
            job.setNumReduceTasks(1);
            job.setOutputKeyClass(Text.class);
            job.setOutputValueClass(Text.class);
            FileInputFormat.addInputPath(job, new org.apache.hadoop.fs.Path("/in"));
            FileOutputFormat.setOutputPath(job, new org.apache.hadoop.fs.Path("/out"));
            assertEquals(true, job.waitForCompletion(false));
            String result = new String(fs.open(new org.apache.hadoop.fs.Path("/out/part-r-00000")).readAllBytes());
            assertEquals("HELLO\t\nWORLD\t\n", result);
            System.out.println("fs uri " + fs.getUri());
        } finally {
            cluster.shutdown();
        }
    }

    @Test
    void arrowFixedSizeListRoundTrip() throws Exception {
        Field child = new Field("token", FieldType.notNullable(new ArrowType.Int(32, true)), null);
        Field list = new Field("input_ids", FieldType.notNullable(new ArrowType.FixedSizeList(5)), java.util.List.of(child));
        Schema schema = new Schema(java.util.List.of(list));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (BufferAllocator alloc = new RootAllocator(); VectorSchemaRoot root = VectorSchemaRoot.create(schema, alloc);
                ArrowFileWriter w = new ArrowFileWriter(root, null, Channels.newChannel(bytes))) {
            FixedSizeListVector v = (FixedSizeListVector) root.getVector(0);
            IntVector data = (IntVector) v.getDataVector();
            v.allocateNew();
            for (int r = 0; r < 3; r++) {
                v.setNotNull(r);
                for (int i = 0; i < 5; i++) {
                    data.setSafe(r * 5 + i, r * 10 + i);
                }
            }
            data.setValueCount(15);
            root.setRowCount(3);
            w.start();
            w.writeBatch();
            w.end();
        }
        try (BufferAllocator alloc = new RootAllocator();
                ArrowFileReader r = new ArrowFileReader(new ByteArrayReadableSeekableByteChannel(bytes.toByteArray()), alloc)) {
            r.loadNextBatch();
            FixedSizeListVector v = (FixedSizeListVector) r.getVectorSchemaRoot().getVector(0);
            assertEquals(3, r.getVectorSchemaRoot().getRowCount());
            assertEquals(23, ((IntVector) v.getDataVector()).get(13));
        }
    }
}

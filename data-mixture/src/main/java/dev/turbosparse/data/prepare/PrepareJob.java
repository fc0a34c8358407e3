package dev.turbosparse.data.prepare;

import com.fasterxml.jackson.core.JacksonException;

import dev.turbosparse.data.DataException;
import dev.turbosparse.data.corpus.CorpusReader;
import dev.turbosparse.data.fs.Fs;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.IntWritable;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.Mapper;
import org.apache.hadoop.mapreduce.Partitioner;
import org.apache.hadoop.mapreduce.Reducer;
import org.apache.hadoop.mapreduce.lib.input.NLineInputFormat;
import org.apache.hadoop.mapreduce.lib.output.NullOutputFormat;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Preparation as a Hadoop MapReduce job: the same two passes as {@link Preparer}, so its output is byte for byte
 * the local one. Each map task tokenizes the input files on its lines of the work list (the first pass, reusing
 * verified token files of an earlier attempt); one reduce task per source then packs its token files (the second
 * pass) and writes the shards and manifest.
 *
 * <p>Submitted with the Hadoop configuration on the classpath ({@code HADOOP_CONF_DIR}): to YARN when
 * {@code mapreduce.framework.name=yarn}, in this JVM with the local runner otherwise. jobs/README.md says how.
 */
public final class PrepareJob {

    private static final Logger LOG = LogManager.getLogger(PrepareJob.class);

    static final String KEY_SETTINGS = "turbosparse.prepare.settings";
    static final String KEY_TOKENIZER = "turbosparse.prepare.tokenizer";
    static final String KEY_OUT = "turbosparse.prepare.out";
    static final String KEY_SOURCES = "turbosparse.prepare.sources"; // name=uri, tab separated, in order
    /** Input files per map task. */
    public static final String KEY_FILES_PER_MAP = "turbosparse.prepare.files-per-map";

    private PrepareJob() {}

    /**
     * Runs the job for named sources (skipping those already complete) and returns every source's manifest.
     *
     * @param conf the cluster's configuration; {@code mapreduce.framework.name} decides where the job runs
     */
    public static Map<String, Manifest> run(Map<String, String> inputs, String tokenizerUri, String outUri,
            PrepareSettings settings, Configuration conf) throws IOException, InterruptedException {
        Path out = Fs.path(outUri);
        FileSystem outFs = Fs.fs(out, conf);
        Map<String, Manifest> manifests = new LinkedHashMap<>();
        List<SourcePlan> todo = new ArrayList<>();
        try (Tokenizer tokenizer = Preparer.loadTokenizer(tokenizerUri, conf)) {
            Preparer local = new Preparer(conf, settings, outUri, tokenizer, null);
            for (Map.Entry<String, String> e : inputs.entrySet()) {
                SourcePlan plan = SourcePlan.of(e.getKey(), e.getValue(), settings, conf);
                Manifest done = local.completed(plan, new Path(out, plan.name()));
                if (done != null) {
                    LOG.info("source '{}': already prepared; --force prepares it again", plan.name());
                    manifests.put(plan.name(), done);
                } else {
                    todo.add(plan);
                }
            }
            local.bos(); // refuse impossible BOS/EOS settings before the job starts
            local.eos();
        }
        if (!todo.isEmpty()) {
            Path work = new Path(out, "_jobs/" + UUID.randomUUID());
            Path list = new Path(work, "inputs.txt");
            StringBuilder lines = new StringBuilder();
            StringBuilder sources = new StringBuilder();
            for (SourcePlan plan : todo) {
                for (int i = 0; i < plan.files().size(); i++) {
                    lines.append(plan.name()).append('\t').append(i).append('\n');
                }
                sources.append(sources.isEmpty() ? "" : "\t").append(plan.name()).append('=').append(plan.uri());
            }
            Fs.writeAtomically(outFs, list, o -> o.write(lines.toString().getBytes(StandardCharsets.UTF_8)));
            Configuration jc = new Configuration(conf);
            jc.set(KEY_SETTINGS, Manifest.MAPPER.writeValueAsString(settings));
            jc.set(KEY_TOKENIZER, tokenizerUri);
            jc.set(KEY_OUT, out.toString());
            jc.set(KEY_SOURCES, sources.toString());
            Job job = Job.getInstance(jc, "turbosparse prepare " + String.join(",", todo.stream().map(SourcePlan::name).toList()));
            job.setJarByClass(PrepareJob.class);
            job.setInputFormatClass(NLineInputFormat.class);
            NLineInputFormat.addInputPath(job, list);
            NLineInputFormat.setNumLinesPerSplit(job, jc.getInt(KEY_FILES_PER_MAP, 1));
            job.setMapperClass(TokenizeMapper.class);
            job.setMapOutputKeyClass(Text.class);
            job.setMapOutputValueClass(IntWritable.class);
            job.setPartitionerClass(SourcePartitioner.class);
            job.setReducerClass(PackReducer.class);
            job.setNumReduceTasks(todo.size());
            job.setOutputFormatClass(NullOutputFormat.class);
            job.setSpeculativeExecution(false); // tasks write their files themselves
            if (!"local".equals(jc.get("mapreduce.framework.name", "local"))) {
                shipDependencies(job.getConfiguration());
            }
            boolean ok;
            try {
                ok = job.waitForCompletion(LOG.isInfoEnabled());
            } catch (ClassNotFoundException e) {
                throw new DataException("the MapReduce job cannot load its classes: " + e.getMessage(), e);
            } finally {
                Fs.deleteRecursively(outFs, work);
            }
            if (!ok) {
                throw new DataException("MapReduce job " + job.getJobID() + " failed (" + job.getStatus().getFailureInfo()
                        + "); its task logs say why. A re-run reuses the files its tasks finished.");
            }
            for (SourcePlan plan : todo) {
                manifests.put(plan.name(), Manifest.read(outFs, new Path(out, plan.name())));
            }
        }
        Map<String, Manifest> ordered = new LinkedHashMap<>();
        inputs.keySet().forEach(n -> ordered.put(n, manifests.get(n)));
        return ordered;
    }

    /** The JVM options our classes need in every task (Arrow reflects into java.nio; the tokenizer is native). */
    static final String TASK_JVM_FLAGS = "--add-opens=java.base/java.nio=ALL-UNNAMED --enable-native-access=ALL-UNNAMED"
            + " --sun-misc-unsafe-memory-access=allow -Dai.djl.offline=true";

    /**
     * For a cluster: the jars next to this module's jar (the launcher's lib folder) go to the tasks through the
     * distributed cache, as {@code -libjars} would send them, except those the cluster has or the tasks do not need
     * (Hadoop's own client, the PyTorch engine, the command line); and the task JVMs get the flags our classes need.
     */
    static void shipDependencies(Configuration conf) {
        java.io.File own;
        try {
            own = new java.io.File(PrepareJob.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        java.io.File libDir = own.isFile() ? own.getParentFile() : null;
        List<String> jars = new ArrayList<>();
        if (own.isFile()) {
            jars.add(own.toURI().toString());
        }
        java.io.File[] candidates = libDir == null ? null : libDir.listFiles((d, n) -> n.endsWith(".jar"));
        if (candidates != null) {
            for (java.io.File f : candidates) {
                String n = f.getName();
                boolean skip = n.startsWith("hadoop-") || n.startsWith("pytorch-") || n.startsWith("picocli")
                        || n.startsWith("progressbar") || n.startsWith("jline") || n.startsWith("log4j-core")
                        || n.startsWith("log4j-slf4j") || n.startsWith("turbosparse-cli") || f.equals(own);
                if (!skip) {
                    jars.add(f.toURI().toString());
                }
            }
        }
        jars.sort(null);
        conf.set("tmpjars", String.join(",", jars));
        for (String key : new String[] {"mapreduce.map.java.opts", "mapreduce.reduce.java.opts"}) {
            String opts = conf.get(key, "");
            if (!opts.contains("--add-opens=java.base/java.nio")) {
                conf.set(key, (opts + " " + TASK_JVM_FLAGS).trim());
            }
        }
        LOG.info("shipping {} jars to the tasks; task JVMs need JDK 25 ({} is appended to their options)", jars.size(),
                TASK_JVM_FLAGS);
    }

    /** What a task needs from the job's configuration. */
    private record TaskSetup(PrepareSettings settings, String tokenizer, Path out, Map<String, String> sources) {
        static TaskSetup of(Configuration conf) {
            try {
                PrepareSettings s = Manifest.MAPPER.readValue(conf.get(KEY_SETTINGS), PrepareSettings.class);
                Map<String, String> sources = new LinkedHashMap<>();
                for (String kv : conf.get(KEY_SOURCES).split("\t")) {
                    int eq = kv.indexOf('=');
                    sources.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
                return new TaskSetup(s, conf.get(KEY_TOKENIZER), new Path(conf.get(KEY_OUT)), sources);
            } catch (JacksonException e) {
                throw new IllegalStateException("bad job configuration: " + e.getOriginalMessage(), e);
            }
        }

        SourcePlan plan(String name, Configuration conf) {
            return SourcePlan.of(name, sources.get(name), settings, conf);
        }
    }

    /** The first pass: tokenizes the input files named on its lines ({@code source <TAB> file index}). */
    public static final class TokenizeMapper extends Mapper<LongWritable, Text, Text, IntWritable> {
        private TaskSetup ctx;
        private Tokenizer tokenizer;
        private final Map<String, SourcePlan> plans = new LinkedHashMap<>();

        @Override
        protected void setup(Mapper<LongWritable, Text, Text, IntWritable>.Context context) {
            ctx = TaskSetup.of(context.getConfiguration());
            tokenizer = Preparer.loadTokenizer(ctx.tokenizer(), context.getConfiguration());
        }

        @Override
        protected void map(LongWritable offset, Text line,
                Mapper<LongWritable, Text, Text, IntWritable>.Context context) throws IOException, InterruptedException {
            Configuration conf = context.getConfiguration();
            String[] parts = line.toString().split("\t");
            String name = parts[0];
            int index = Integer.parseInt(parts[1]);
            SourcePlan plan = plans.computeIfAbsent(name, n -> ctx.plan(n, conf));
            FileStatus file = plan.files().get(index);
            FileSystem outFs = Fs.fs(ctx.out(), conf);
            TokenDirectory tokens = new TokenDirectory(outFs, new Path(ctx.out(), name));
            String tokenSettings = plan.tokenSettings(tokenizer.fingerprint(), ctx.settings());
            FileRecord r = tokens.reusable(plan, file, index, tokenSettings);
            if (r == null) {
                CorpusReader reader = plan.format().reader(ctx.settings().textField());
                r = TokenizePass.run(Fs.fs(file.getPath(), conf), conf, file, plan.relative(file), index, reader,
                        tokenizer, tokenSettings, ctx.settings().strict(), outFs, tokens.path(),
                        chars -> context.progress());
                tokens.write(r);
            }
            context.getCounter("turbosparse", "documents").increment(r.documents());
            context.getCounter("turbosparse", "tokens").increment(r.tokens());
            context.getCounter("turbosparse", "skipped records").increment(r.skipped().size());
            context.write(new Text(name), new IntWritable(index));
        }

        @Override
        protected void cleanup(Mapper<LongWritable, Text, Text, IntWritable>.Context context) {
            if (tokenizer != null) {
                tokenizer.close();
            }
        }
    }

    /** Sends each source to its own reduce task, in the order the sources were given. */
    public static final class SourcePartitioner extends Partitioner<Text, IntWritable>
            implements org.apache.hadoop.conf.Configurable {
        private Configuration conf;
        private List<String> names;

        @Override
        public int getPartition(Text key, IntWritable value, int partitions) {
            int i = names.indexOf(key.toString());
            return Math.floorMod(i < 0 ? key.hashCode() : i, partitions);
        }

        @Override
        public void setConf(Configuration conf) {
            this.conf = conf;
            this.names = new ArrayList<>(TaskSetup.of(conf).sources().keySet());
        }

        @Override
        public Configuration getConf() {
            return conf;
        }
    }

    /** The second pass: packs one source's token files into shards and writes its manifest. */
    public static final class PackReducer extends Reducer<Text, IntWritable, Text, Text> {
        @Override
        protected void reduce(Text key, Iterable<IntWritable> indexes,
                Reducer<Text, IntWritable, Text, Text>.Context context) throws IOException {
            Configuration conf = context.getConfiguration();
            TaskSetup ctx = TaskSetup.of(conf);
            String name = key.toString();
            SourcePlan plan = ctx.plan(name, conf);
            FileSystem outFs = Fs.fs(ctx.out(), conf);
            Path dir = new Path(ctx.out(), name);
            TokenDirectory tokens = new TokenDirectory(outFs, dir);
            List<FileRecord> records = tokens.readAll(plan);
            try (Tokenizer tokenizer = Preparer.loadTokenizer(ctx.tokenizer(), conf)) {
                Preparer p = new Preparer(conf, ctx.settings(), ctx.out().toString(), tokenizer, null);
                Manifest m = PackPass.run(outFs, dir, plan, ctx.settings(), p.tokenizerInfo(), records, p.bos(), p.eos());
                context.getCounter("turbosparse", "sequences").increment(m.sequences());
            }
            if (!ctx.settings().keepTokens()) {
                tokens.delete();
            }
        }
    }
}

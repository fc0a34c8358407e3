package dev.turbosparse.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny ARC-format task on a small model with the real Mistral tokenizer, whose right answers are set from
 * log-likelihoods computed independently (one plain forward pass per choice over the prompt lm-eval would build),
 * so that acc, acc_norm and their stderr have known values.
 */
class TaskRunnerTest {

    static NDManager manager;
    static CausalLM model;
    static Tokenizer tokenizer;

    @TempDir
    Path tmp;

    static Path models(String name) {
        String prop = System.getProperty("turbosparse.models");
        return Path.of(prop != null ? prop : "../models").resolve(name);
    }

    @BeforeAll
    static void load() {
        manager = NDManager.newBaseManager();
        model = HfCheckpoint.load(models("tiny-mistral-swiglu"), manager);
        tokenizer = Tokenizer.load(models("tiny-mistral-swiglu"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        model.close();
        manager.close();
    }

    static final String[] QUESTIONS = {"Which gas do plants take in?", "What melts ice?", "Where does rain come from?",
        "What is the boiling point of water?", "Which planet is red?", "What do bees make?"};
    static final String[][] CHOICES = {{"oxygen", "carbon dioxide", "helium", "neon"}, {"heat", "cold", "salt water", "wind"},
        {"clouds", "rocks", "the ground", "trees"}, {"100 degrees", "zero", "fifty", "minus ten"},
        {"Mars", "Venus", "Earth", "Jupiter"}, {"honey", "milk", "silk", "wax"}};

    /** log p(" " + choice | prompt), the plain way: lm-eval's pair encoding, one forward pass over everything. */
    static double independentLogLikelihood(String prompt, String choice) {
        long[] whole = tokenizer.encode(prompt + " " + choice);
        long[] ctx = tokenizer.encode(prompt);
        int[] c = java.util.Arrays.stream(ctx).mapToInt(Math::toIntExact).toArray();
        int[] cont = java.util.Arrays.stream(whole).skip(ctx.length).mapToInt(Math::toIntExact).toArray();
        return LoglikelihoodScorerTest.plain(model, c, cont).logLikelihood();
    }

    static String arcLine(int i, String answerKey) {
        StringBuilder choices = new StringBuilder();
        for (int c = 0; c < 4; c++) {
            choices.append(c == 0 ? "" : ",").append("{\"text\":\"").append(CHOICES[i][c]).append("\",\"label\":\"")
                    .append((char) ('A' + c)).append("\"}");
        }
        return "{\"id\":\"q" + i + "\",\"question\":{\"stem\":\"" + QUESTIONS[i] + "\",\"choices\":[" + choices
                + "]},\"answerKey\":\"" + answerKey + "\"}";
    }

    @Test
    void accAccNormAndStderrFollowFromIndependentLogLikelihoods() throws IOException {
        int n = QUESTIONS.length;
        int[] best = new int[n];
        int[] bestNorm = new int[n];
        for (int i = 0; i < n; i++) {
            double[] ll = new double[4];
            double[] norm = new double[4];
            for (int c = 0; c < 4; c++) {
                ll[c] = independentLogLikelihood("Question: " + QUESTIONS[i] + "\nAnswer:", CHOICES[i][c]);
                norm[c] = ll[c] / CHOICES[i][c].length();
            }
            best[i] = Metrics.argmax(ll);
            bestNorm[i] = Metrics.argmax(norm);
        }
        // gold: the model's choice for the first four questions, another choice for the last two => acc = 4/6
        List<String> lines = new ArrayList<>();
        double normHits = 0;
        for (int i = 0; i < n; i++) {
            int gold = i < 4 ? best[i] : (best[i] + 1) % 4;
            normHits += bestNorm[i] == gold ? 1 : 0;
            lines.add(arcLine(i, String.valueOf((char) ('A' + gold))));
        }
        Path dir = tmp.resolve("ARC-Challenge");
        Files.createDirectories(dir);
        Files.write(dir.resolve("ARC-Challenge-Test.jsonl"), lines);
        Tasks.Task task = Tasks.byName("arc_challenge");
        Tasks.Subtask s = task.reader().read(dir, false).getFirst();
        TaskRunner.SubtaskResult r = TaskRunner.run(model, tokenizer, task, s, new TaskRunner.Options(0, 0, 1234, 4), null);
        double p = 4.0 / 6;
        assertEquals(p, r.scores().get("acc,none").value(), 1e-12);
        // lm-eval's mean_stderr of 0/1 values: sqrt(p (1 - p) / (n - 1))
        assertEquals(Math.sqrt(p * (1 - p) / (n - 1)), r.scores().get("acc,none").stderr(), 1e-12);
        assertEquals(normHits / n, r.scores().get("acc_norm,none").value(), 1e-12);
        assertEquals(6, r.scores().get("acc,none").n());
    }

    @Test
    void fewShotExamplesAreCPythonsSampleWithSeed1234InEvaluationOrder() throws IOException {
        Path dir = tmp.resolve("ARC-Easy");
        Files.createDirectories(dir);
        List<String> test = new ArrayList<>();
        List<String> train = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            test.add(arcLine(i, "A"));
        }
        for (int i = 0; i < 10; i++) {
            train.add(arcLine(i % 6, "B").replace("\"stem\":\"", "\"stem\":\"T" + i + " "));
        }
        Files.write(dir.resolve("ARC-Easy-Test.jsonl"), test);
        Files.write(dir.resolve("ARC-Easy-Train.jsonl"), train);
        Tasks.Task task = Tasks.byName("arc_easy");
        Tasks.Subtask s = task.reader().read(dir, true).getFirst();
        List<List<Doc>> shots = TaskRunner.fewshot(task, s, s.docs(), new TaskRunner.Options(3, 0, 1234, 4));
        // r = random.Random(1234); [r.sample(range(10), 3) for _ in range(4)] in CPython 3.11
        int[][] want = {{7, 1, 0}, {1, 0, 9}, {1, 5, 3}, {0, 9, 8}};
        for (int d = 0; d < 4; d++) {
            for (int k = 0; k < 3; k++) {
                assertTrue(shots.get(d).get(k).contexts().getFirst().startsWith("Question: T" + want[d][k] + " "),
                        "doc " + d + " shot " + k + ": " + shots.get(d).get(k).contexts().getFirst());
            }
        }
        // the prompt: solved examples joined by blank lines, then the question
        String prefix = TaskRunner.prefix(s, shots.get(0));
        assertTrue(prefix.startsWith("Question: T7 What melts ice?\nAnswer: cold\n\nQuestion: T1 "), prefix);
    }

    @Test
    void winograndeScoresTheRestOfTheSentenceAfterEachFilledBlank() throws IOException {
        Path dir = tmp.resolve("winogrande");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("dev.jsonl"), "{\"sentence\": \"The trophy did not fit in the case because the _"
                + " was too big.\", \"option1\": \"trophy\", \"option2\": \"case\", \"answer\": \"1\"}\n");
        Tasks.Task task = Tasks.byName("winogrande");
        Doc d = task.reader().read(dir, false).getFirst().docs().getFirst();
        assertEquals(List.of("The trophy did not fit in the case because the trophy",
                "The trophy did not fit in the case because the case"), d.contexts());
        assertEquals(List.of("was too big."), d.choices());
        assertEquals(0, d.gold());
        TaskRunner.SubtaskResult r = TaskRunner.run(model, tokenizer, task, task.reader().read(dir, false).getFirst(),
                new TaskRunner.Options(0, 0, 1234, 4), null);
        double first = independentLogLikelihood(d.contexts().get(0), "was too big.");
        double second = independentLogLikelihood(d.contexts().get(1), "was too big.");
        assertEquals(first > second ? 1.0 : 0.0, r.scores().get("acc,none").value());
        assertTrue(Double.isNaN(r.scores().get("acc,none").stderr()), "no stderr from one example");
    }

    @Test
    void mc2IsTheNormalisedMassOfTheTrueAnswers() {
        double[] lls = {Math.log(0.2), Math.log(0.1), Math.log(0.3), Math.log(0.4)};
        assertEquals(0.3 / 1.0, Metrics.mc2(lls, new int[] {1, 1, 0, 0}), 1e-12);
        assertEquals(0.5 / 1.0, Metrics.mc2(new double[] {-1000, -1000}, new int[] {1, 0}), 1e-12);
    }

    @Test
    void gsm8kExtractionAndExactMatchAsLmEval() {
        String ref = "Natalia sold 48/2 = 24 clips in May.\n#### 1,072";
        assertEquals("1,072", Metrics.extract("so 1072 in all.\n#### 1,072", Metrics.STRICT, 0));
        assertEquals("[invalid]", Metrics.extract("the answer is 1072", Metrics.STRICT, 0));
        assertEquals("$1,072.", Metrics.extract("24 + 48 = 72, and $1,072.", Metrics.FLEXIBLE, -1));
        assertEquals(1.0, Metrics.exactMatch(Metrics.extract("24 + 48 = 72, and $1,072.", Metrics.FLEXIBLE, -1), ref));
        assertEquals(1.0, Metrics.exactMatch(Metrics.extract("x\n#### 1,072", Metrics.STRICT, 0), ref));
        assertEquals(0.0, Metrics.exactMatch("1071", ref));
        assertEquals("7", Metrics.extract("I count 7", Metrics.FLEXIBLE, -1));
    }

    @Test
    void groupStderrIsLmEvalsPooledSampleStderr() {
        double[] a = {1, 0, 1, 0};
        double[] b = {1, 0, 0, 1, 1, 0};
        // by hand: sample variances 1/3 and 3/10, so ((4-1) (1/12) 4 + (6-1) (1/20) 6) / (10 - 2) = 2.5 / 8, over 10
        double pooled = Metrics.pooledStderr(new double[] {Metrics.meanStderr(a), Metrics.meanStderr(b)}, new int[] {4, 6});
        assertEquals(Math.sqrt(2.5 / 8 / 10), pooled, 1e-12);
    }

    @Test
    void badTaskFilesAreNamedByFileLineAndField() throws IOException {
        Path dir = tmp.resolve("bad");
        Files.createDirectories(dir);
        Tasks.Task arc = Tasks.byName("arc_challenge");
        Path file = dir.resolve("ARC-Challenge-Test.jsonl");
        Files.write(file, List.of(arcLine(0, "A"), "{\"id\": \"q1\", \"question\": {\"stem\": \"broken"));
        TaskFormatException e = assertThrows(TaskFormatException.class, () -> arc.reader().read(dir, false));
        assertTrue(e.getMessage().startsWith(file + ":2: not a JSON object"), e.getMessage());

        Files.write(file, List.of(arcLine(0, "A"), arcLine(1, "B").replace("\"answerKey\":\"B\"", "\"key\":\"B\"")));
        e = assertThrows(TaskFormatException.class, () -> arc.reader().read(dir, false));
        assertEquals(file + ":2: field 'answerKey' is missing", e.getMessage());

        Files.write(file, List.of(arcLine(0, "E")));
        e = assertThrows(TaskFormatException.class, () -> arc.reader().read(dir, false));
        assertTrue(e.getMessage().contains(file + ":1: answerKey 'E' is none of the choice labels"), e.getMessage());

        Path hs = dir.resolve("hellaswag_val.jsonl");
        Files.writeString(hs, "{\"ind\": 4, \"activity_label\": \"Removing ice from car\", \"ctx_a\": \"Then, the man"
                + " writes over the snow.\", \"ctx_b\": \"then\", \"endings\": [\"a\", \"b\", \"c\", \"d\"], \"label\": 7}\n");
        e = assertThrows(TaskFormatException.class, () -> Tasks.byName("hellaswag").reader().read(dir, false));
        assertEquals(hs + ":1: the gold answer index 7 is out of range: the example has 4 choices", e.getMessage());

        // shots asked for without the few-shot split beside the file
        Files.write(file, List.of(arcLine(0, "A")));
        e = assertThrows(TaskFormatException.class, () -> arc.reader().read(dir, true));
        assertTrue(e.getMessage().contains("few-shot examples need ARC-Challenge-Train.jsonl"), e.getMessage());
    }

    @Test
    void hellaswagIsPreprocessedAsLmEval() {
        // strip, " [title]" to ". ", drop the bracketed artifacts, then one double space to one (a trailing one stays)
        assertEquals("How to cook. Heat the pan. ", Tasks.hellaswagPreprocess(" How to cook [title] Heat the pan. [step]"));
    }
}

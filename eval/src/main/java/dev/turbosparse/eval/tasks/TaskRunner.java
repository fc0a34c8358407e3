package dev.turbosparse.eval.tasks;

import dev.turbosparse.model.generate.DjlGenerator;
import dev.turbosparse.model.generate.Sampler;
import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Runs a task on a model the way lm-evaluation-harness does with a Hugging Face model: prompts with the task's
 * description and n solved few-shot examples (drawn with CPython's {@code random.Random(seed).sample} over the
 * few-shot split, one generator per subtask, examples in evaluation order; or the first n for MMLU), each pair
 * tokenised as lm-eval's {@code _encode_pair} does, log-likelihoods from {@link LoglikelihoodScorer}, greedy
 * generation until a stop sequence for GSM8K, and the metrics of {@link Metrics}.
 */
public final class TaskRunner {

    /** lm-eval's target delimiter: between a question and its answer. */
    static final String TARGET_DELIMITER = " ";
    /** lm-eval's few-shot delimiter: after each solved example. */
    static final String FEWSHOT_DELIMITER = "\n\n";
    /** GSM8K's stop sequences and generation budget in lm-eval. */
    static final List<String> GSM8K_UNTIL = List.of("Question:", "</s>", "<|im_end|>");
    static final int MAX_GEN_TOKENS = 256;

    /**
     * @param shots few-shot examples per prompt
     * @param limit examples per subtask at most (the first ones), 0 for all
     * @param seed the few-shot sampler's seed (lm-eval's default is 1234)
     * @param batch continuations per forward pass
     */
    public record Options(int shots, int limit, long seed, int batch) {}

    /** A metric over a (sub)task: its value, stderr (NaN when not defined) and the number of examples. */
    public record Score(double value, double stderr, int n) {}

    /** The scores of one subtask, by metric key ({@code acc,none}, {@code exact_match,strict-match}, ...). */
    public record SubtaskResult(String name, Map<String, Score> scores, int n) {}

    private TaskRunner() {}

    /** The prompt prefix of an example: description, then the solved few-shot examples. */
    static String prefix(Tasks.Subtask s, List<Doc> shots) {
        StringBuilder b = new StringBuilder(s.description() == null ? "" : s.description());
        for (Doc d : shots) {
            b.append(d.solved(TARGET_DELIMITER)).append(FEWSHOT_DELIMITER);
        }
        return b.toString();
    }

    /** The few-shot examples of each evaluated example, in evaluation order. */
    static List<List<Doc>> fewshot(Tasks.Task task, Tasks.Subtask s, List<Doc> docs, Options o) {
        List<List<Doc>> out = new ArrayList<>();
        if (o.shots() == 0) {
            docs.forEach(d -> out.add(List.of()));
            return out;
        }
        if (s.fewshot().size() < o.shots()) {
            throw new TaskFormatException(s.name() + ": " + o.shots() + " few-shot examples asked for, but the few-shot"
                    + " split has " + s.fewshot().size());
        }
        PythonRandom rnd = new PythonRandom(o.seed());
        for (int i = 0; i < docs.size(); i++) {
            out.add(task.firstNFewshot() ? s.fewshot().subList(0, o.shots()) : rnd.sample(s.fewshot(), o.shots()));
        }
        return out;
    }

    /**
     * lm-eval's {@code _encode_pair}: trailing whitespace of the context moves to the continuation; the context is
     * encoded alone, the continuation is what encoding both adds after the context's tokens.
     */
    static LoglikelihoodScorer.Request encodePair(Tokenizer tok, String context, String continuation) {
        int trimmed = context.length();
        while (trimmed > 0 && Character.isWhitespace(context.charAt(trimmed - 1))) {
            trimmed--;
        }
        continuation = context.substring(trimmed) + continuation;
        context = context.substring(0, trimmed);
        int[] whole = ints(tok.encode(context + continuation));
        int[] ctx = ints(tok.encode(context));
        int[] cont = Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length);
        if (cont.length == 0) {
            throw new TaskFormatException("the continuation '" + continuation + "' encodes to no tokens after its context");
        }
        return new LoglikelihoodScorer.Request(ctx, cont);
    }

    private static int[] ints(long[] ids) {
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    /** The examples of a subtask that {@link #run} evaluates. */
    static List<Doc> evaluated(Tasks.Subtask s, Options o) {
        return o.limit() > 0 && s.docs().size() > o.limit() ? s.docs().subList(0, o.limit()) : s.docs();
    }

    /** The units of work {@link #run} reports progress in: examples generated, or log-likelihood requests. */
    public static long work(Tasks.Task task, Tasks.Subtask s, Options o) {
        List<Doc> docs = evaluated(s, o);
        return task.kind() == Tasks.Kind.GENERATE ? docs.size() : docs.stream().mapToLong(Doc::options).sum();
    }

    /**
     * Scores one subtask.
     *
     * @param progress told the work done so far ({@link #work}), or null
     */
    public static SubtaskResult run(CausalLM model, Tokenizer tok, Tasks.Task task, Tasks.Subtask s, Options o,
            LongConsumer progress) {
        List<Doc> docs = evaluated(s, o);
        if (docs.isEmpty()) {
            throw new TaskFormatException(s.name() + ": no examples to evaluate");
        }
        List<List<Doc>> shots = fewshot(task, s, docs, o);
        Map<String, Score> scores = new LinkedHashMap<>();
        if (task.kind() == Tasks.Kind.GENERATE) {
            double[] strict = new double[docs.size()];
            double[] flexible = new double[docs.size()];
            for (int i = 0; i < docs.size(); i++) {
                Doc d = docs.get(i);
                String response = generate(model, tok, prefix(s, shots.get(i)) + d.contexts().getFirst());
                strict[i] = Metrics.exactMatch(Metrics.extract(response, Metrics.STRICT, 0), d.target());
                flexible[i] = Metrics.exactMatch(Metrics.extract(response, Metrics.FLEXIBLE, -1), d.target());
                if (progress != null) {
                    progress.accept(i + 1);
                }
            }
            scores.put("exact_match,strict-match", score(strict));
            scores.put("exact_match,flexible-extract", score(flexible));
            return new SubtaskResult(s.name(), scores, docs.size());
        }
        List<LoglikelihoodScorer.Request> requests = new ArrayList<>();
        for (int i = 0; i < docs.size(); i++) {
            Doc d = docs.get(i);
            String p = prefix(s, shots.get(i));
            for (int c = 0; c < d.options(); c++) {
                requests.add(encodePair(tok, p + d.context(c), TARGET_DELIMITER + d.choice(c)));
            }
        }
        LoglikelihoodScorer.Result[] results = LoglikelihoodScorer.score(model, requests, o.batch(), progress);
        double[] acc = new double[docs.size()];
        double[] accNorm = new double[docs.size()];
        double[] accBytes = new double[docs.size()];
        double[] mc2 = new double[docs.size()];
        for (int i = 0, r = 0; i < docs.size(); i++) {
            Doc d = docs.get(i);
            double[] lls = new double[d.options()];
            for (int c = 0; c < lls.length; c++) {
                lls[c] = results[r++].logLikelihood();
            }
            // lm-eval's choices for length normalisation: what doc_to_choice returns (Winogrande: the contexts)
            List<String> choices = d.partial() ? d.contexts() : d.choices();
            acc[i] = Metrics.acc(lls, d.gold());
            accNorm[i] = Metrics.accNorm(lls, choices, d.gold());
            accBytes[i] = Metrics.accBytes(lls, choices, d.gold());
            if (task.kind() == Tasks.Kind.MC2) {
                mc2[i] = Metrics.mc2(lls, d.labels());
            }
        }
        if (task.kind() == Tasks.Kind.MC2) {
            scores.put("acc,none", score(mc2));
        } else {
            scores.put("acc,none", score(acc));
            if (task.accNorm()) {
                scores.put("acc_norm,none", score(accNorm));
                scores.put("acc_bytes,none", score(accBytes));
            }
        }
        return new SubtaskResult(s.name(), scores, docs.size());
    }

    private static Score score(double[] perExample) {
        return new Score(Metrics.mean(perExample), Metrics.meanStderr(perExample), perExample.length);
    }

    /**
     * Greedy generation after the prompt until a stop sequence (cut off) or end of sequence, at most
     * {@link #MAX_GEN_TOKENS} tokens; a prompt that leaves less room is cut from the left, as lm-eval does.
     */
    static String generate(CausalLM model, Tokenizer tok, String prompt) {
        long[] ids = tok.encode(prompt);
        int room = model.config().maxPositionEmbeddings() - MAX_GEN_TOKENS;
        if (room < 1) {
            throw new IllegalArgumentException("the model's " + model.config().maxPositionEmbeddings()
                    + " positions leave no room for a prompt and " + MAX_GEN_TOKENS + " generated tokens");
        }
        if (ids.length > room) {
            ids = Arrays.copyOfRange(ids, ids.length - room, ids.length);
        }
        List<Long> out = new ArrayList<>();
        String[] text = {""};
        DjlGenerator.generate(model, ids, MAX_GEN_TOKENS, Sampler.greedy(), tok.eosId(), (long t) -> {
            if (tok.eosId() != null && t == tok.eosId()) {
                return false;
            }
            out.add(t);
            text[0] = tok.decode(out.stream().mapToLong(Long::longValue).toArray());
            return GSM8K_UNTIL.stream().noneMatch(text[0]::contains);
        });
        String response = text[0];
        for (String stop : GSM8K_UNTIL) {
            int at = response.indexOf(stop);
            if (at >= 0) {
                response = response.substring(0, at);
            }
        }
        return response;
    }
}

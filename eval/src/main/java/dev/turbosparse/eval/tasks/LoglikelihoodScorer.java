package dev.turbosparse.eval.tasks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.ParameterStore;

import dev.turbosparse.model.nn.CausalLM;
import dev.turbosparse.model.nn.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Log-likelihoods of continuations given contexts, lm-evaluation-harness's {@code loglikelihood} request: for each
 * (context, continuation) pair, the sum over the continuation's tokens of log p(token | everything before it), and
 * whether greedy decoding would have produced the continuation.
 *
 * <p>Requests that share a context (the choices of a multiple-choice question, with its few-shot prompt) compute it
 * once: one forward pass over the context fills a KV cache and gives the first continuation token's distribution;
 * the cache is then repeated across a batch of continuations, which one more forward pass scores together (right
 * padded; a causal model's earlier positions do not see the padding). One-token continuations need no second pass.
 * A context longer than the model's positions allow loses its first tokens, as lm-eval truncates.
 */
public final class LoglikelihoodScorer {

    /** One request: token ids of the context (at least one) and of the continuation (at least one). */
    public record Request(int[] context, int[] continuation) {
        public Request {
            if (context.length == 0 || continuation.length == 0) {
                throw new IllegalArgumentException("a log-likelihood request needs a context and a continuation");
            }
        }
    }

    /** The summed log-probability of the continuation, and whether each of its tokens was the argmax. */
    public record Result(double logLikelihood, boolean greedy) {}

    private LoglikelihoodScorer() {}

    /**
     * Scores every request.
     *
     * @param batch continuations per forward pass
     * @param progress told the number of requests scored so far, or null
     */
    public static Result[] score(CausalLM model, List<Request> requests, int batch, LongConsumer progress) {
        Map<String, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < requests.size(); i++) {
            groups.computeIfAbsent(Arrays.toString(requests.get(i).context()), k -> new ArrayList<>()).add(i);
        }
        List<List<Integer>> ordered = new ArrayList<>(groups.values());
        // longest first, as lm-eval orders them: a context too large for memory fails at once, not at the end
        ordered.sort(Comparator.comparingInt((List<Integer> g) -> -requests.get(g.getFirst()).context().length));
        Result[] out = new Result[requests.size()];
        long done = 0;
        for (List<Integer> group : ordered) {
            scoreGroup(model, requests, group, batch, out);
            done += group.size();
            if (progress != null) {
                progress.accept(done);
            }
        }
        return out;
    }

    private static void scoreGroup(CausalLM model, List<Request> requests, List<Integer> group, int batch, Result[] out) {
        int maxCont = group.stream().mapToInt(i -> requests.get(i).continuation().length).max().orElseThrow();
        int positions = model.config().maxPositionEmbeddings();
        if (maxCont > positions) {
            throw new IllegalArgumentException("a continuation of " + maxCont + " tokens is longer than the model's "
                    + positions + " positions");
        }
        int[] context = requests.get(group.getFirst()).context();
        // the last position scored is context + continuation - 1 (the final token is predicted, not fed)
        int keep = Math.min(context.length, positions - maxCont + 1);
        if (keep < context.length) {
            context = Arrays.copyOfRange(context, context.length - keep, context.length);
        }
        int capacity = context.length + maxCont - 1;
        try (NDManager m = model.manager().newSubManager()) {
            ParameterStore ps = new ParameterStore(m, false);
            KvCache cache = new KvCache(m, model.config(), 1, capacity);
            NDArray ctxIds = m.create(context).reshape(1, context.length);
            NDArray last = model.forward(ps, ctxIds, CausalLM.Options.DEFAULT.withCache(cache).withLastPositionOnly(true),
                    false).logits(); // (1, 1, vocab)
            float[] first = last.logSoftmax(-1).toFloatArray();
            int firstArgmax = argmax(first, 0, first.length);
            List<Integer> longer = new ArrayList<>();
            for (int i : group) {
                int[] cont = requests.get(i).continuation();
                out[i] = new Result(first[cont[0]], firstArgmax == cont[0]);
                if (cont.length > 1) {
                    longer.add(i);
                }
            }
            for (int from = 0; from < longer.size(); from += batch) {
                List<Integer> chunk = longer.subList(from, Math.min(longer.size(), from + batch));
                scoreContinuations(model, ps, m, cache, requests, chunk, capacity, out);
            }
        }
    }

    /** The tokens after the first of each continuation, scored in one batch over the repeated context cache. */
    private static void scoreContinuations(CausalLM model, ParameterStore ps, NDManager parent, KvCache context,
            List<Request> requests, List<Integer> chunk, int capacity, Result[] out) {
        int width = chunk.stream().mapToInt(i -> requests.get(i).continuation().length - 1).max().orElseThrow();
        int[] inputs = new int[chunk.size() * width]; // padding: token 0, never read back
        for (int r = 0; r < chunk.size(); r++) {
            int[] cont = requests.get(chunk.get(r)).continuation();
            System.arraycopy(cont, 0, inputs, r * width, cont.length - 1);
        }
        try (NDManager m = parent.newSubManager(); KvCache cache = context.repeat(m, model.config(), chunk.size(), capacity)) {
            NDArray ids = m.create(inputs).reshape(chunk.size(), width);
            NDArray logits = model.forward(ps, ids, CausalLM.Options.DEFAULT.withCache(cache), false).logits();
            NDArray logProbs = logits.logSoftmax(-1); // (rows, width, vocab)
            int vocab = (int) logProbs.getShape().get(2);
            for (int r = 0; r < chunk.size(); r++) {
                int i = chunk.get(r);
                int[] cont = requests.get(i).continuation();
                float[] row = logProbs.get(new NDIndex("{}, :{}, :", r, cont.length - 1)).toFloatArray();
                double sum = out[i].logLikelihood();
                boolean greedy = out[i].greedy();
                for (int j = 1; j < cont.length; j++) {
                    int base = (j - 1) * vocab;
                    sum += row[base + cont[j]];
                    greedy &= argmax(row, base, vocab) == cont[j];
                }
                out[i] = new Result(sum, greedy);
            }
        }
    }

    private static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int k = 1; k < n; k++) {
            if (v[from + k] > v[from + best]) {
                best = k;
            }
        }
        return best;
    }
}

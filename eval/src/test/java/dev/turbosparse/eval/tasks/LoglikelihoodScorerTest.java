package dev.turbosparse.eval.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import dev.turbosparse.model.HfCheckpoint;
import dev.turbosparse.model.nn.CausalLM;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The cached, batched scorer against one plain forward pass per request over context + continuation. */
class LoglikelihoodScorerTest {

    static Path parity(String name) {
        String prop = System.getProperty("turbosparse.testdata");
        return Path.of(prop != null ? prop : "../testdata").resolve("parity").resolve(name);
    }

    static int[] random(Random r, int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = 3 + r.nextInt(500);
        }
        return v;
    }

    /** log p(continuation | context) and greedy, from one forward pass of the concatenation: the plain way. */
    static LoglikelihoodScorer.Result plain(CausalLM model, int[] context, int[] continuation) {
        int[] all = new int[context.length + continuation.length];
        System.arraycopy(context, 0, all, 0, context.length);
        System.arraycopy(continuation, 0, all, context.length, continuation.length);
        int max = model.config().maxPositionEmbeddings();
        int start = Math.max(0, all.length - 1 - max); // lm-eval: the last max_length + 1 tokens, minus the last
        try (NDManager m = model.manager().newSubManager()) {
            int n = all.length - 1 - start;
            int[] input = java.util.Arrays.copyOfRange(all, start, all.length - 1);
            NDArray lp = model.forward(new ParameterStore(m, false), m.create(input).reshape(1, n),
                    CausalLM.Options.DEFAULT, false).logits().logSoftmax(-1);
            float[] v = lp.toFloatArray();
            int vocab = (int) lp.getShape().get(2);
            double sum = 0;
            boolean greedy = true;
            for (int j = 0; j < continuation.length; j++) {
                int pos = n - continuation.length + j;
                sum += v[pos * vocab + continuation[j]];
                int best = 0;
                for (int k = 1; k < vocab; k++) {
                    if (v[pos * vocab + k] > v[pos * vocab + best]) {
                        best = k;
                    }
                }
                greedy &= best == continuation[j];
            }
            return new LoglikelihoodScorer.Result(sum, greedy);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"mistral", "mixtral-drelu", "mistral-swa"})
    void sharedContextsAndBatchesGiveThePlainLogLikelihoods(String name) {
        Random r = new Random(5);
        List<LoglikelihoodScorer.Request> requests = new ArrayList<>();
        for (int q = 0; q < 3; q++) {
            int[] context = random(r, 5 + 9 * q);
            for (int c = 0; c < 4; c++) {
                requests.add(new LoglikelihoodScorer.Request(context, random(r, 1 + (c * 3 + q) % 6)));
            }
        }
        // a context longer than the model's 256 positions, cut from the left
        requests.add(new LoglikelihoodScorer.Request(random(r, 300), random(r, 4)));
        // a greedy continuation, to see greedy = true
        try (NDManager manager = NDManager.newBaseManager(); CausalLM model = HfCheckpoint.load(parity(name), manager)) {
            int[] ctx = random(r, 7);
            int[] greedyCont = greedyContinuation(model, ctx, 3);
            requests.add(new LoglikelihoodScorer.Request(ctx, greedyCont));
            List<Long> progress = new ArrayList<>();
            LoglikelihoodScorer.Result[] got = LoglikelihoodScorer.score(model, requests, 3, progress::add);
            for (int i = 0; i < requests.size(); i++) {
                LoglikelihoodScorer.Result want = plain(model, requests.get(i).context(), requests.get(i).continuation());
                assertEquals(want.logLikelihood(), got[i].logLikelihood(), 2e-4 * Math.max(1, Math.abs(want.logLikelihood())),
                        "request " + i);
                assertEquals(want.greedy(), got[i].greedy(), "greedy of request " + i);
            }
            assertEquals(true, got[requests.size() - 1].greedy());
            assertEquals((long) requests.size(), progress.getLast());
        }
    }

    static int[] greedyContinuation(CausalLM model, int[] context, int n) {
        int[] seq = context.clone();
        int[] cont = new int[n];
        for (int j = 0; j < n; j++) {
            try (NDManager m = model.manager().newSubManager()) {
                float[] last = model.forward(new ParameterStore(m, false), m.create(seq).reshape(1, seq.length),
                        CausalLM.Options.DEFAULT.withLastPositionOnly(true), false).logits().toFloatArray();
                int best = 0;
                for (int k = 1; k < last.length; k++) {
                    if (last[k] > last[best]) {
                        best = k;
                    }
                }
                cont[j] = best;
                seq = java.util.Arrays.copyOf(seq, seq.length + 1);
                seq[seq.length - 1] = best;
            }
        }
        return cont;
    }
}

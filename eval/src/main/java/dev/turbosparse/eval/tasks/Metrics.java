package dev.turbosparse.eval.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-example metrics and their aggregation, with lm-evaluation-harness's definitions:
 * <ul>
 *   <li>{@code acc}: the choice of highest log-likelihood is the gold one;</li>
 *   <li>{@code acc_norm}: the same after dividing each log-likelihood by its choice's length in characters
 *       (code points, Python's {@code len}); {@code acc_bytes}: by its length in UTF-8 bytes;</li>
 *   <li>{@code mc2}: the probability mass of the true answers, the probabilities normalised over all answers;</li>
 *   <li>GSM8K {@code exact_match} under two answer extractions, {@code strict-match} and {@code flexible-extract};</li>
 *   <li>stderr of a mean: the sample standard deviation (n − 1) over √n; of a size-weighted group mean: the pooled
 *       sample variance.</li>
 * </ul>
 */
public final class Metrics {

    private Metrics() {}

    /** The index of the largest value; the first one on ties, as numpy's argmax. */
    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static double acc(double[] lls, int gold) {
        return argmax(lls) == gold ? 1 : 0;
    }

    /** acc after dividing by each choice's length in code points. */
    static double accNorm(double[] lls, List<String> choices, int gold) {
        double[] n = new double[lls.length];
        for (int i = 0; i < lls.length; i++) {
            String c = choices.get(i);
            n[i] = lls[i] / c.codePointCount(0, c.length());
        }
        return argmax(n) == gold ? 1 : 0;
    }

    /** acc after dividing by each choice's length in UTF-8 bytes. */
    static double accBytes(double[] lls, List<String> choices, int gold) {
        double[] n = new double[lls.length];
        for (int i = 0; i < lls.length; i++) {
            n[i] = lls[i] / choices.get(i).getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        }
        return argmax(n) == gold ? 1 : 0;
    }

    /** TruthfulQA mc2: exp of the log-likelihoods, normalised, summed over the true answers. */
    static double mc2(double[] lls, int[] labels) {
        double max = java.util.Arrays.stream(lls).max().orElseThrow();
        double total = 0;
        double truth = 0;
        for (int i = 0; i < lls.length; i++) {
            double p = Math.exp(lls[i] - max); // the shift cancels in the ratio and keeps exp in range
            total += p;
            if (labels[i] == 1) {
                truth += p;
            }
        }
        return truth / total;
    }

    /** The mean of per-example values. */
    public static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    /** lm-eval's {@code mean_stderr}: sample standard deviation (n − 1) over √n; NaN below two values. */
    public static double meanStderr(double[] v) {
        if (v.length < 2) {
            return Double.NaN;
        }
        double mu = mean(v);
        double ss = 0;
        for (double x : v) {
            ss += (x - mu) * (x - mu);
        }
        return Math.sqrt(ss / (v.length - 1)) / Math.sqrt(v.length);
    }

    /** lm-eval's {@code pooled_sample_stderr}: the stderr of a group mean weighted by subtask size. */
    public static double pooledStderr(double[] stderrs, int[] sizes) {
        double num = 0;
        long total = 0;
        for (int i = 0; i < sizes.length; i++) {
            num += (sizes[i] - 1) * stderrs[i] * stderrs[i] * sizes[i];
            total += sizes[i];
        }
        return Math.sqrt(num / (total - sizes.length) / total);
    }

    // ---- GSM8K -------------------------------------------------------------------------------------------------

    /** lm-eval's GSM8K {@code strict-match} extraction: the number after "#### ". */
    static final Pattern STRICT = Pattern.compile("#### (\\-?[0-9\\.\\,]+)");
    /** lm-eval's GSM8K {@code flexible-extract}: the last number-like run of the answer. */
    static final Pattern FLEXIBLE = Pattern.compile("(-?[$0-9.,]{2,})|(-?[0-9]+)");
    /** What exact match ignores in prediction and reference (in this order), then case. */
    private static final List<Pattern> IGNORED = List.of(Pattern.compile(","), Pattern.compile("\\$"),
            Pattern.compile("(?s).*#### "), Pattern.compile("\\.$"));

    /**
     * lm-eval's regex filter then {@code take_first}: all matches; the one at {@code select} (negative from the
     * end); its first non-empty group; stripped; {@code [invalid]} when nothing matches.
     */
    static String extract(String response, Pattern p, int select) {
        List<String> matches = new ArrayList<>();
        Matcher m = p.matcher(response);
        while (m.find()) {
            String chosen = "";
            if (m.groupCount() == 0) {
                chosen = m.group();
            } else if (m.groupCount() == 1) {
                chosen = m.group(1) == null ? "" : m.group(1);
            } else {
                for (int g = 1; g <= m.groupCount(); g++) {
                    if (m.group(g) != null && !m.group(g).isEmpty()) {
                        chosen = m.group(g);
                        break;
                    }
                }
                if (chosen.isEmpty()) {
                    chosen = "[invalid]";
                }
            }
            matches.add(chosen);
        }
        if (matches.isEmpty()) {
            return "[invalid]";
        }
        return matches.get(select < 0 ? matches.size() + select : select).strip();
    }

    /** GSM8K's exact match: both sides without commas, dollar signs, the worked solution, a final period; any case. */
    static double exactMatch(String prediction, String reference) {
        return normalize(prediction).equals(normalize(reference)) ? 1 : 0;
    }

    private static String normalize(String s) {
        for (Pattern p : IGNORED) {
            s = p.matcher(s).replaceAll("");
        }
        return s.toLowerCase(java.util.Locale.ROOT);
    }
}

package dev.turbosparse.eval.tasks;

import java.util.List;

/**
 * One example of a task, rendered to text the way lm-evaluation-harness renders it.
 * <ul>
 *   <li>Multiple choice: one {@code context} (the question as {@code doc_to_text} writes it) and the {@code choices};
 *       each choice is scored as the continuation {@code " " + choice}.</li>
 *   <li>Partial scoring (Winogrande): one context per option (the sentence up to the blank, the option filled in)
 *       and a single choice, the rest of the sentence, scored after each context.</li>
 *   <li>Generation (GSM8K): one context, and the reference answer in {@code target}.</li>
 * </ul>
 *
 * @param where the file and line (or entry) the example came from, for messages
 * @param gold index of the right choice (of the right context, for partial scoring); -1 for generation
 * @param labels for TruthfulQA's mc2: 1 for each true choice, 0 for each false one; else null
 */
public record Doc(String where, List<String> contexts, List<String> choices, int gold, int[] labels, String target) {

    public Doc {
        contexts = List.copyOf(contexts);
        choices = List.copyOf(choices);
        int options = contexts.size() > 1 ? contexts.size() : choices.size();
        if (target == null && (gold < 0 || gold >= options)) {
            throw new TaskFormatException(where + ": the gold answer index " + gold + " is out of range: the example has "
                    + options + " choices");
        }
    }

    /** Multiple choice: one context, several continuations. */
    static Doc choice(String where, String context, List<String> choices, int gold) {
        return new Doc(where, List.of(context), choices, gold, null, null);
    }

    /** Whether each option has its own context and the continuation is shared (Winogrande). */
    public boolean partial() {
        return contexts.size() > 1;
    }

    /** The number of options scored. */
    public int options() {
        return partial() ? contexts.size() : choices.size();
    }

    /** The context of option {@code i}. */
    public String context(int i) {
        return partial() ? contexts.get(i) : contexts.getFirst();
    }

    /** The continuation of option {@code i}, without the target delimiter. */
    public String choice(int i) {
        return partial() ? choices.getFirst() : choices.get(i);
    }

    /** This example as a solved few-shot example: its context, the delimiter, its right answer. */
    String solved(String targetDelimiter) {
        if (target != null) {
            return contexts.getFirst() + targetDelimiter + target;
        }
        return context(gold) + targetDelimiter + choice(gold);
    }
}

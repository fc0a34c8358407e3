package dev.turbosparse.trainer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;

import dev.turbosparse.model.io.InputException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * What may change when a run resumes. The budget, the intervals, the threads and the paths (a run folder or its data
 * may move) may; everything that shapes the model, the data stream or the updates may not, since the resumed run
 * would no longer be the run its checkpoints come from.
 */
final class RecipeDiff {

    private static final Logger LOG = LogManager.getLogger(RecipeDiff.class);

    /** Key paths a resumed run may change. */
    static final Set<String> MAY_CHANGE = Set.of("name", "output", "steps", "tokens", "checkpoint.every",
            "checkpoint.keep", "eval.every", "eval.sequences", "sparsity_every", "max_bad_steps", "threads",
            "model.base", "model.config", "model.tokenizer", "data.mixture", "data.prepared", "data.prepare");

    private RecipeDiff() {}

    /**
     * Refuses to resume with a recipe that differs from the run's saved one in a key that may not change.
     *
     * @param saved the saved recipe (YAML), or null if the run folder has none
     */
    static void checkResumable(String saved, Recipe current, String source) {
        if (saved == null) {
            LOG.warn("{}: missing; resuming without checking the recipe against the run's", source);
            return;
        }
        JsonNode before;
        JsonNode now;
        try {
            before = Recipe.YAML.readTree(saved);
            now = Recipe.YAML.readTree(current.toYaml());
        } catch (JacksonException e) {
            throw new InputException(source + ": not valid YAML: " + e.getOriginalMessage());
        }
        Set<String> keys = new TreeSet<>();
        collect("", before, keys);
        collect("", now, keys);
        List<String> refused = new ArrayList<>();
        for (String key : keys) {
            JsonNode a = at(before, key);
            JsonNode b = at(now, key);
            if (a.equals(b)) {
                continue;
            }
            String change = "'" + key + "' " + text(a) + " -> " + text(b);
            if (MAY_CHANGE.contains(key)) {
                LOG.info("resuming with {}", change);
                if (key.equals("steps") || key.equals("tokens")) {
                    LOG.warn("the budget changed: the learning-rate schedule is recomputed for the new length");
                }
                if (key.equals("threads")) {
                    LOG.warn("the thread count changed: the run continues, but not bit for bit as it would have");
                }
            } else {
                refused.add(change);
            }
        }
        if (!refused.isEmpty()) {
            throw new InputException(source + ": the run was made with another recipe: " + String.join(", ", refused)
                    + "; a resumed run keeps its recipe (only budget, intervals, threads and paths may change)");
        }
    }

    private static void collect(String prefix, JsonNode node, Set<String> out) {
        if (node != null && node.isObject()) {
            for (Iterator<String> it = node.fieldNames(); it.hasNext();) {
                String name = it.next();
                collect(prefix.isEmpty() ? name : prefix + "." + name, node.get(name), out);
            }
        } else if (!prefix.isEmpty()) {
            out.add(prefix);
        }
    }

    private static JsonNode at(JsonNode root, String path) {
        JsonNode n = root;
        for (String part : path.split("\\.")) {
            n = n == null ? null : n.get(part);
        }
        return n == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : n;
    }

    private static String text(JsonNode n) {
        return n.isMissingNode() ? "(absent)" : n.toString();
    }
}

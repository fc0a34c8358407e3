package dev.turbosparse.eval.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.eval.sparsity.ActivationFrequencies;
import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * One model of a report, by its label and what was measured on it; any part may be missing (null).
 *
 * @param sparsity what {@code turbosparse sparsity --format json} printed
 * @param results the {@code results.json} of {@code turbosparse eval}
 * @param frequencies the file of {@code sparsity --frequencies}
 * @param run a training run folder (its {@code metrics.jsonl}), a path or URI
 */
public record ReportModel(String label, JsonNode sparsity, JsonNode results, ActivationFrequencies.Profile frequencies,
        String run) {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    public ReportModel {
        if (label == null || label.isBlank()) {
            throw new InputException("a report's model needs a label");
        }
        if (sparsity == null && results == null && frequencies == null && run == null) {
            throw new InputException("model '" + label + "': give at least one of its sparsity JSON, results.json,"
                    + " activation frequencies or training run");
        }
    }

    /** Reads the files of one model; each is checked to be what it should, naming the file. */
    public static ReportModel read(String label, Path sparsity, Path results, Path frequencies, String run) {
        JsonNode s = sparsity == null ? null : json(sparsity, "zero_fraction",
                "the JSON of `turbosparse sparsity --format json`");
        JsonNode r = results == null ? null : json(results, "results", "a results.json of `turbosparse eval`");
        ActivationFrequencies.Profile f = frequencies == null ? null : ActivationFrequencies.read(frequencies);
        return new ReportModel(label, s, r, f, run);
    }

    private static JsonNode json(Path file, String field, String what) {
        JsonNode n;
        try {
            n = JSON.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new InputException(file + ": not found");
        } catch (JsonProcessingException e) {
            throw new InputException(file + ": not valid JSON (line " + e.getLocation().getLineNr() + ": "
                    + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new InputException(file + ": cannot read: " + e.getMessage());
        }
        if (n == null || !n.isObject() || !n.has(field)) {
            throw new InputException(file + ": has no field '" + field + "'; expected " + what);
        }
        return n;
    }
}

package dev.turbosparse.eval.tasks;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The records of a dataset file, each with where it came from ({@code file:line}), and field access that names the
 * file, line and field when something is missing or of the wrong kind.
 */
final class Records {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** One record: a JSON object (or a CSV row as an array). */
    record Rec(String where, JsonNode node) {

        /** A text field; {@code path} may go into objects ({@code question.stem}). */
        String text(String path) {
            JsonNode n = at(path);
            if (!n.isTextual() && !n.isNumber()) {
                throw new TaskFormatException(where + ": field '" + path + "' must be text, got " + n.getNodeType());
            }
            return n.asText();
        }

        /** An integer field (a JSON number, or text holding one). */
        int integer(String path) {
            JsonNode n = at(path);
            if (n.isIntegralNumber()) {
                return n.asInt();
            }
            try {
                return Integer.parseInt(n.asText().trim());
            } catch (NumberFormatException e) {
                throw new TaskFormatException(where + ": field '" + path + "' must be an integer, got '" + n.asText() + "'");
            }
        }

        /** An array or object field. */
        JsonNode node(String path) {
            return at(path);
        }

        boolean has(String path) {
            JsonNode n = node;
            for (String part : path.split("\\.")) {
                n = n.get(part);
                if (n == null || n.isNull()) {
                    return false;
                }
            }
            return true;
        }

        /** A list of texts: a JSON array of strings. */
        List<String> texts(String path) {
            JsonNode n = at(path);
            if (!n.isArray()) {
                throw new TaskFormatException(where + ": field '" + path + "' must be a list, got " + n.getNodeType());
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : n) {
                if (!e.isTextual()) {
                    throw new TaskFormatException(where + ": field '" + path + "' must hold text, got " + e.getNodeType());
                }
                out.add(e.asText());
            }
            return out;
        }

        private JsonNode at(String path) {
            JsonNode n = node;
            for (String part : path.split("\\.")) {
                JsonNode next = n.get(part);
                if (next == null || next.isNull()) {
                    throw new TaskFormatException(where + ": field '" + path + "' is missing");
                }
                n = next;
            }
            return n;
        }
    }

    private Records() {}

    /** A JSON Lines file: one object per line; blank lines are skipped. */
    static List<Rec> jsonLines(Path file) {
        List<Rec> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = r.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + number;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (JacksonException e) {
                    throw new TaskFormatException(where + ": not a JSON object (" + e.getOriginalMessage() + ")");
                }
                if (n == null || !n.isObject()) {
                    throw new TaskFormatException(where + ": not a JSON object");
                }
                out.add(new Rec(where, n));
            }
        } catch (NoSuchFileException e) {
            throw new TaskFormatException(file + ": not found");
        } catch (IOException e) {
            throw new TaskFormatException(file + ": cannot read: " + e.getMessage());
        }
        return out;
    }

    /** A JSON file holding an array of objects (SciQ, TruthfulQA). */
    static List<Rec> jsonArray(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JacksonException e) {
            throw new TaskFormatException(file + ": not JSON (" + e.getOriginalMessage() + ", line "
                    + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()) + ")");
        } catch (IOException e) {
            throw new TaskFormatException(file + (Files.exists(file) ? ": cannot read: " + e.getMessage() : ": not found"));
        }
        if (root == null || !root.isArray()) {
            throw new TaskFormatException(file + ": expected a JSON array of examples");
        }
        List<Rec> out = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            if (!root.get(i).isObject()) {
                throw new TaskFormatException(file + ": entry " + i + " is not a JSON object");
            }
            out.add(new Rec(file + ": entry " + i, root.get(i)));
        }
        return out;
    }

    /** A CSV file without a header (MMLU): each row as a JSON array of its cells, fields named "0", "1", ... */
    static List<Rec> csv(Path file, int columns) {
        CsvMapper mapper = CsvMapper.builder().enable(CsvParser.Feature.WRAP_AS_ARRAY).build();
        List<Rec> out = new ArrayList<>();
        try (MappingIterator<List<String>> it = mapper.readerForListOf(String.class).readValues(file.toFile())) {
            while (it.hasNextValue()) {
                int line = it.getCurrentLocation().getLineNr();
                List<String> row = it.nextValue();
                String where = file + ":" + line;
                if (row.size() == 1 && row.getFirst().isBlank()) {
                    continue;
                }
                if (row.size() != columns) {
                    throw new TaskFormatException(where + ": " + row.size() + " columns, expected " + columns);
                }
                com.fasterxml.jackson.databind.node.ObjectNode o = JSON.createObjectNode();
                for (int c = 0; c < columns; c++) {
                    o.put(Integer.toString(c), row.get(c));
                }
                out.add(new Rec(where, o));
            }
        } catch (JacksonException e) {
            throw new TaskFormatException(file + ": not valid CSV (" + e.getOriginalMessage() + ")");
        } catch (NoSuchFileException e) {
            throw new TaskFormatException(file + ": not found");
        } catch (IOException e) {
            throw new TaskFormatException(file + ": cannot read: " + e.getMessage());
        }
        return out;
    }

    /** A labels file (PIQA's {@code *-labels.lst}): one integer per line. */
    static List<Integer> labels(Path file) {
        List<Integer> out = new ArrayList<>();
        try {
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                String l = lines.get(i).trim();
                if (l.isEmpty()) {
                    continue;
                }
                try {
                    out.add(Integer.parseInt(l));
                } catch (NumberFormatException e) {
                    throw new TaskFormatException(file + ":" + (i + 1) + ": a label must be an integer, got '" + l + "'");
                }
            }
        } catch (NoSuchFileException e) {
            throw new TaskFormatException(file + ": not found");
        } catch (IOException e) {
            throw new TaskFormatException(file + ": cannot read: " + e.getMessage());
        }
        return out;
    }
}

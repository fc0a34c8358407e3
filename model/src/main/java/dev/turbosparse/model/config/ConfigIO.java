package dev.turbosparse.model.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.turbosparse.model.io.AtomicFiles;
import dev.turbosparse.model.io.ModelFormatException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads and writes Hugging Face {@code config.json}. Errors are one line naming the file and the field. Fields this
 * project does not interpret survive a load/save round trip.
 */
public final class ConfigIO {

    public static final String FILE_NAME = "config.json";

    static final JsonMapper MAPPER = JsonMapper.builder()
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private ConfigIO() {}

    /** Reads {@code config.json} of a checkpoint folder, or the file itself. */
    public static ModelConfig read(Path folderOrFile) {
        Path file = Files.isDirectory(folderOrFile) ? folderOrFile.resolve(FILE_NAME) : folderOrFile;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": not found (a Hugging Face checkpoint folder holds config.json)");
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        return parse(file.toString(), bytes);
    }

    /** Parses config.json bytes; {@code source} names the file in error messages. */
    public static ModelConfig parse(String source, byte[] bytes) {
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (JacksonException e) {
            JsonLocation loc = e.getLocation();
            String where = loc == null ? "" : " at line " + loc.getLineNr() + " column " + loc.getColumnNr();
            throw new ModelFormatException(source + ": not valid JSON" + where + ": " + firstLine(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new ModelFormatException(source + ": cannot read: " + e.getMessage(), e);
        }
        if (!(tree instanceof ObjectNode obj)) {
            throw new ModelFormatException(source + ": expected a JSON object, got " + describe(tree));
        }
        Class<? extends ModelConfig> type = typeOf(source, obj);
        try {
            return MAPPER.treeToValue(obj, type);
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new ModelFormatException(source + ": " + firstLine(cause.getMessage()), e);
        } catch (MismatchedInputException e) {
            String field = fieldOf(e);
            JsonNode value = field == null ? null : obj.get(field);
            if (field != null && (value == null || value.isNull())) {
                throw new ModelFormatException(source + ": required field '" + field + "' is missing", e);
            }
            String expected = expectedType(e.getTargetType());
            throw new ModelFormatException(source + ": field '" + field + "' must be " + expected + ", got "
                    + describe(value), e);
        } catch (JsonMappingException e) {
            throw new ModelFormatException(source + ": " + firstLine(e.getOriginalMessage()), e);
        } catch (JacksonException e) {
            throw new ModelFormatException(source + ": " + firstLine(e.getOriginalMessage()), e);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(source + ": " + firstLine(e.getMessage()), e);
        }
    }

    private static Class<? extends ModelConfig> typeOf(String source, ObjectNode obj) {
        JsonNode modelType = obj.get("model_type");
        String type;
        if (modelType != null && modelType.isTextual()) {
            type = modelType.asText();
        } else if (modelType != null && !modelType.isNull()) {
            throw new ModelFormatException(source + ": field 'model_type' must be a string, got " + describe(modelType));
        } else {
            // Older configs omit model_type; fall back to the architecture name.
            JsonNode arch = obj.path("architectures").path(0);
            type = arch.asText("").startsWith("Mixtral") ? MixtralConfig.MODEL_TYPE
                    : arch.asText("").startsWith("Mistral") ? MistralConfig.MODEL_TYPE : "";
        }
        return switch (type) {
            case MistralConfig.MODEL_TYPE -> MistralConfig.class;
            case MixtralConfig.MODEL_TYPE -> MixtralConfig.class;
            case "" -> throw new ModelFormatException(source
                    + ": required field 'model_type' is missing (expected \"mistral\" or \"mixtral\")");
            default -> throw new ModelFormatException(source + ": model_type '" + type
                    + "' is not supported; turbosparse runs \"mistral\" and \"mixtral\"");
        };
    }

    /** The config as config.json text: HF field names, keys sorted as transformers writes them. */
    public static String toJson(ModelConfig config) {
        ObjectNode node = MAPPER.valueToTree(config);
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        names.sort(null);
        ObjectNode sorted = MAPPER.createObjectNode();
        for (String n : names) {
            sorted.set(n, node.get(n));
        }
        try {
            return MAPPER.writeValueAsString(sorted) + "\n";
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot serialise config", e);
        }
    }

    /** Writes {@code config.json} into a folder, atomically. */
    public static void write(ModelConfig config, Path folder) throws IOException {
        AtomicFiles.write(folder.resolve(FILE_NAME), toJson(config).getBytes(StandardCharsets.UTF_8));
    }

    private static String fieldOf(JsonMappingException e) {
        List<JsonMappingException.Reference> path = e.getPath();
        if (!path.isEmpty() && path.get(path.size() - 1).getFieldName() != null) {
            return path.get(path.size() - 1).getFieldName();
        }
        // "Missing required creator property 'x' (index n)" carries no path.
        String msg = e.getOriginalMessage();
        int a = msg == null ? -1 : msg.indexOf('\'');
        int b = a < 0 ? -1 : msg.indexOf('\'', a + 1);
        return a >= 0 && b > a ? msg.substring(a + 1, b) : null;
    }

    private static String expectedType(Class<?> t) {
        if (t == null) {
            return "of another type";
        }
        if (t == int.class || t == Integer.class || t == long.class || t == Long.class) {
            return "an integer";
        }
        if (t == double.class || t == Double.class || t == float.class || t == Float.class) {
            return "a number";
        }
        if (t == boolean.class || t == Boolean.class) {
            return "true or false";
        }
        if (t == String.class) {
            return "a string";
        }
        if (List.class.isAssignableFrom(t)) {
            return "a list";
        }
        return "a " + t.getSimpleName();
    }

    /** A short description of a JSON value for error messages, e.g. {@code string "64"}. */
    static String describe(JsonNode node) {
        if (node == null || node.isMissingNode()) {
            return "nothing";
        }
        String text = node.toString();
        if (text.length() > 40) {
            text = text.substring(0, 37) + "...";
        }
        String kind = switch (node.getNodeType()) {
            case STRING -> "string";
            case NUMBER -> "number";
            case BOOLEAN -> "boolean";
            case ARRAY -> "list";
            case OBJECT -> "object";
            case NULL -> "null";
            default -> node.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
        return node.isNull() ? "null" : kind + " " + text;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

package dev.turbosparse.data.mixture;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import dev.turbosparse.data.DataException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A mixture definition (YAML, in {@code configs/mixtures/}): the sources, where their raw corpora are and how to read
 * them, their weights, and where the prepared data goes. {@code prepare --config} and {@code mixture --config} read
 * it; relative paths are taken from the file's folder. Unknown keys, wrong types and missing values are refused with
 * the key's path.
 */
public record MixtureConfig(
        @JsonProperty(value = "tokenizer", required = true) String tokenizer,
        @JsonProperty(value = "seq_len", required = true) int seqLen,
        @JsonProperty(value = "data", required = true) String data,
        @JsonProperty("temperature") Double temperature,
        @JsonProperty("heldout") Double heldout,
        @JsonProperty(value = "sources", required = true) Map<String, Source> sources) {

    /**
     * One source: its weight, where its raw corpus is, and what that corpus is (a note for people, e.g. the
     * dataset's name).
     */
    public record Source(
            @JsonProperty(value = "weight", required = true) double weight,
            @JsonProperty(value = "input", required = true) String input,
            @JsonProperty("corpus") String corpus) {}

    private static final YAMLMapper YAML = YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
            .build();

    /** Reads a mixture definition; relative paths in it are resolved against the file's folder. */
    public static MixtureConfig read(Path file) {
        MixtureConfig c;
        try {
            c = YAML.readValue(Files.readAllBytes(file), MixtureConfig.class);
        } catch (NoSuchFileException e) {
            throw new DataException(file + ": not found");
        } catch (JsonMappingException e) {
            String path = e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining("."));
            throw new DataException(file + ": " + (path.isEmpty() ? "" : "key '" + path + "': ")
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (JacksonException e) {
            throw new DataException(file + ": not valid YAML: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage());
        }
        if (c.sources() == null || c.sources().isEmpty()) {
            throw new DataException(file + ": key 'sources' names no source");
        }
        Path base = file.toAbsolutePath().getParent();
        Map<String, Source> sources = new LinkedHashMap<>();
        c.sources().forEach((name, s) -> sources.put(name, new Source(s.weight(), resolve(base, s.input()), s.corpus())));
        return new MixtureConfig(resolve(base, c.tokenizer()), c.seqLen(), resolve(base, c.data()), c.temperature(),
                c.heldout(), sources);
    }

    /** A path relative to the config's folder; a URI with a scheme, or an absolute path, as it is. */
    static String resolve(Path base, String p) {
        if (p == null || p.contains("://") || Path.of(p).isAbsolute()) {
            return p;
        }
        return base.resolve(p).normalize().toString();
    }

    /** The weights as a mixture, with the config's temperature (1 when it gives none). */
    public MixtureSpec spec() {
        Map<String, Double> w = new LinkedHashMap<>();
        sources.forEach((n, s) -> w.put(n, s.weight()));
        return new MixtureSpec(w, temperature == null ? 1.0 : temperature);
    }

    /** Source name → raw corpus URI, in the config's order. */
    public Map<String, String> inputs() {
        Map<String, String> in = new LinkedHashMap<>();
        sources.forEach((n, s) -> in.put(n, s.input()));
        return in;
    }
}

package dev.turbosparse.eval.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgufWriter;
import dev.turbosparse.model.io.InputException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Hugging Face {@code tokenizer.json} of the Mistral/Llama kind (SentencePiece BPE with byte fallback, converted by
 * transformers) as GGUF's {@code tokenizer.ggml.*} metadata, for llama.cpp's SentencePiece tokenizer
 * ({@code tokenizer.ggml.model = "llama"}).
 *
 * <p>llama.cpp merges the adjacent pair whose joined piece has the highest score; HF merges the pair of lowest merge
 * rank. A piece's score is therefore minus the rank of the first merge that makes it, which makes the two agree;
 * pieces no merge makes (characters, bytes, control tokens) score 0. Token types follow llama.cpp: 1 normal,
 * 2 unknown, 3 control, 5 unused (padding up to {@code vocab_size}), 6 byte.
 */
public final class GgufVocab {

    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-F]{2}>");

    private final List<String> tokens;
    private final float[] scores;
    private final int[] types;
    private final int unknownId;
    private final boolean addBos;
    private final boolean addEos;
    private final String chatTemplate;

    private GgufVocab(List<String> tokens, float[] scores, int[] types, int unknownId, boolean addBos, boolean addEos,
            String chatTemplate) {
        this.tokens = tokens;
        this.scores = scores;
        this.types = types;
        this.unknownId = unknownId;
        this.addBos = addBos;
        this.addEos = addEos;
        this.chatTemplate = chatTemplate;
    }

    /** Reads {@code tokenizer.json} (and {@code tokenizer_config.json} if present) of a checkpoint folder. */
    public static GgufVocab read(Path folder, ModelConfig config) {
        Path file = folder.resolve("tokenizer.json");
        JsonMapper mapper = JsonMapper.builder().build();
        JsonNode root;
        try {
            root = mapper.readTree(file.toFile());
        } catch (IOException e) {
            throw new InputException(file + ": cannot read the tokenizer: " + e.getMessage());
        }
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText()) || !model.path("byte_fallback").asBoolean(false)) {
            throw new InputException(file + ": model.type is '" + model.path("type").asText()
                    + "' (byte_fallback " + model.path("byte_fallback").asBoolean(false) + "); GGUF export writes the"
                    + " SentencePiece BPE tokenizers of Mistral and Llama (type BPE with byte_fallback)");
        }
        JsonNode vocab = model.path("vocab");
        if (!vocab.isObject()) {
            throw new InputException(file + ": model.vocab is missing");
        }
        int size = Math.max(config.vocabSize(), vocab.size());
        String[] pieces = new String[size];
        vocab.properties().forEach(e -> put(file, pieces, e.getValue().asInt(-1), e.getKey()));
        Map<Integer, Boolean> added = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt(-1);
            put(file, pieces, id, a.path("content").asText());
            added.put(id, a.path("special").asBoolean(false));
        }
        if (size > config.vocabSize()) {
            throw new InputException(file + ": the tokenizer has " + size + " tokens, more than config.json's vocab_size "
                    + config.vocabSize());
        }
        Map<String, Integer> firstMerge = new HashMap<>();
        JsonNode merges = model.path("merges");
        for (int rank = 0; rank < merges.size(); rank++) {
            JsonNode m = merges.get(rank);
            String joined = m.isArray() ? m.get(0).asText() + m.get(1).asText() : m.asText().replaceFirst(" ", "");
            firstMerge.putIfAbsent(joined, rank);
        }
        String unk = model.path("unk_token").asText(null);
        int unknownId = -1;
        float[] scores = new float[size];
        int[] types = new int[size];
        List<String> tokens = new ArrayList<>(size);
        for (int id = 0; id < size; id++) {
            String p = pieces[id];
            if (p == null) {
                p = "[PAD" + id + "]";
                types[id] = UNUSED;
            } else if (p.equals(unk)) {
                types[id] = UNKNOWN;
                unknownId = id;
            } else if (added.getOrDefault(id, false)) {
                types[id] = CONTROL;
            } else if (BYTE_PIECE.matcher(p).matches()) {
                types[id] = BYTE;
            } else {
                types[id] = NORMAL;
                Integer rank = firstMerge.get(p);
                scores[id] = rank == null ? 0f : -rank;
            }
            tokens.add(p);
        }
        boolean addBos = true;
        boolean addEos = false;
        String chatTemplate = null;
        Path tc = folder.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tc)) {
            try {
                JsonNode c = mapper.readTree(tc.toFile());
                addBos = c.path("add_bos_token").asBoolean(true);
                addEos = c.path("add_eos_token").asBoolean(false);
                chatTemplate = c.path("chat_template").isTextual() ? c.path("chat_template").asText() : null;
            } catch (IOException e) {
                throw new InputException(tc + ": cannot read: " + e.getMessage());
            }
        }
        return new GgufVocab(List.copyOf(tokens), scores, types, unknownId, addBos, addEos, chatTemplate);
    }

    private static void put(Path file, String[] pieces, int id, String piece) {
        if (id < 0 || id >= pieces.length) {
            throw new InputException(file + ": token '" + piece + "' has id " + id + ", outside the vocabulary of "
                    + pieces.length);
        }
        if (pieces[id] != null && !pieces[id].equals(piece)) {
            throw new InputException(file + ": id " + id + " names two tokens, '" + pieces[id] + "' and '" + piece + "'");
        }
        pieces[id] = piece;
    }

    /** Writes the {@code tokenizer.ggml.*} keys. */
    public void writeTo(GgufWriter w, ModelConfig config) {
        w.putString("tokenizer.ggml.model", "llama");
        w.putStrings("tokenizer.ggml.tokens", tokens);
        w.putFloat32s("tokenizer.ggml.scores", scores);
        w.putInt32s("tokenizer.ggml.token_type", types);
        if (config.bosTokenId() != null) {
            w.putUint32("tokenizer.ggml.bos_token_id", config.bosTokenId());
        }
        if (config.eosTokenId() != null) {
            w.putUint32("tokenizer.ggml.eos_token_id", config.eosTokenId());
        }
        if (unknownId >= 0) {
            w.putUint32("tokenizer.ggml.unknown_token_id", unknownId);
        }
        w.putBool("tokenizer.ggml.add_bos_token", addBos);
        w.putBool("tokenizer.ggml.add_eos_token", addEos);
        if (chatTemplate != null) {
            w.putString("tokenizer.chat_template", chatTemplate);
        }
    }
}

package dev.turbosparse.model.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.model.io.ModelFormatException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face tokenizer ({@code tokenizer.json}, run by DJL's binding of the Rust tokenizers library) with BOS
 * and EOS added as {@code tokenizer_config.json} says ({@code add_bos_token}, {@code add_eos_token},
 * {@code bos_token}, {@code eos_token}). Without a tokenizer_config.json, the post-processor template of
 * tokenizer.json decides, as transformers' fast tokenizers do.
 *
 * <p>Never truncates or pads: DJL's defaults would cut every encoding at 512 tokens.
 */
public final class Tokenizer implements AutoCloseable {

    public static final String FILE_NAME = "tokenizer.json";
    public static final String CONFIG_FILE_NAME = "tokenizer_config.json";
    /** Where newer Hugging Face folders keep the chat template. */
    public static final String CHAT_TEMPLATE_FILE_NAME = "chat_template.jinja";

    private static final JsonMapper MAPPER = JsonMapper.builder().build();
    private static final Map<String, String> OPTIONS = Map.of(
            "addSpecialTokens", "false", "truncation", "false", "padding", "false",
            "withOverflowingTokens", "false");

    private final HuggingFaceTokenizer hf;
    private final Path file;
    private final String fingerprint;
    private final boolean addBos;
    private final boolean addEos;
    private final Integer bosId;
    private final Integer eosId;
    private final String chatTemplate;
    private final String chatTemplateOrigin;
    private ChatTemplate parsedChatTemplate;
    private final String bosToken;
    private final String eosToken;
    private final int vocabSize;

    private Tokenizer(HuggingFaceTokenizer hf, Path file, String fingerprint, boolean addBos, boolean addEos,
            Integer bosId, Integer eosId, String chatTemplate, String chatTemplateOrigin, String bosToken,
            String eosToken, int vocabSize) {
        this.hf = hf;
        this.file = file;
        this.fingerprint = fingerprint;
        this.addBos = addBos;
        this.addEos = addEos;
        this.bosId = bosId;
        this.eosId = eosId;
        this.chatTemplate = chatTemplate;
        this.chatTemplateOrigin = chatTemplateOrigin;
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.vocabSize = vocabSize;
    }

    /** Whether a folder holds a tokenizer.json. */
    public static boolean exists(Path folder) {
        return Files.isRegularFile(folder.resolve(FILE_NAME));
    }

    /**
     * Loads the tokenizer of a model folder (or a tokenizer.json file; its folder's tokenizer_config.json, if any,
     * applies).
     */
    public static Tokenizer load(Path folderOrFile) {
        Path file = Files.isDirectory(folderOrFile) ? folderOrFile.resolve(FILE_NAME) : folderOrFile;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": not found (a model folder needs tokenizer.json to encode text)");
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        Path configFile = file.resolveSibling(CONFIG_FILE_NAME);
        byte[] config = Files.isRegularFile(configFile) ? readBytes(configFile) : null;
        Path jinja = file.resolveSibling(CHAT_TEMPLATE_FILE_NAME);
        String template = Files.isRegularFile(jinja) ? new String(readBytes(jinja), StandardCharsets.UTF_8) : null;
        return fromBytes(file.toString(), bytes, config, template);
    }

    /**
     * A tokenizer from the bytes of tokenizer.json and, if there is one, tokenizer_config.json (as read from any file
     * system). {@code name} names the file in error messages.
     */
    public static Tokenizer fromBytes(String name, byte[] bytes, byte[] configBytes) {
        return fromBytes(name, bytes, configBytes, null);
    }

    /**
     * As {@link #fromBytes(String, byte[], byte[])}, with the text of a chat_template.jinja beside them (or null),
     * which newer Hugging Face folders hold instead of tokenizer_config.json's {@code chat_template}.
     */
    public static Tokenizer fromBytes(String name, byte[] bytes, byte[] configBytes, String chatTemplateFile) {
        Path file = Path.of(name);
        JsonNode json = readJson(file, bytes);
        JsonNode config = configBytes == null ? null : readJson(file.resolveSibling(CONFIG_FILE_NAME), configBytes);

        boolean addBos;
        boolean addEos;
        String bosToken;
        String eosToken;
        String chatTemplate = null;
        Template template = Template.of(json);
        if (config != null) {
            addBos = config.path("add_bos_token").asBoolean(template.bos != null);
            addEos = config.path("add_eos_token").asBoolean(template.eos != null);
            // a config without them keeps what the post-processor says
            bosToken = tokenText(config.get("bos_token"));
            bosToken = bosToken != null ? bosToken : template.bos;
            eosToken = tokenText(config.get("eos_token"));
            eosToken = eosToken != null ? eosToken : template.eos != null ? template.eos : "</s>";
            chatTemplate = chatTemplateOf(config.get("chat_template"));
        } else {
            addBos = template.bos != null;
            addEos = template.eos != null;
            bosToken = template.bos;
            eosToken = template.eos != null ? template.eos : "</s>";
        }
        Integer bosId = bosToken == null ? null : tokenId(json, bosToken);
        Integer eosId = eosToken == null ? null : tokenId(json, eosToken);
        if (addBos && bosId == null) {
            throw new ModelFormatException(file + ": BOS is to be added, but token '" + bosToken + "' is not in the vocabulary");
        }
        if (addEos && eosId == null) {
            throw new ModelFormatException(file + ": EOS is to be added, but token '" + eosToken + "' is not in the vocabulary");
        }
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), OPTIONS);
        } catch (IOException | RuntimeException e) {
            throw new ModelFormatException(file + ": the tokenizers library cannot load it: " + e.getMessage(), e);
        }
        String origin = file.resolveSibling(CONFIG_FILE_NAME) + " (chat_template)";
        if (chatTemplate == null && chatTemplateFile != null) {
            chatTemplate = chatTemplateFile;
            origin = file.resolveSibling(CHAT_TEMPLATE_FILE_NAME).toString();
        }
        return new Tokenizer(hf, file, sha256(bytes), addBos, addEos, bosId, eosId, chatTemplate, origin, bosToken,
                eosToken, vocabSize(json));
    }

    /** tokenizer_config.json's chat_template: a string, or a list of named ones of which "default" is used. */
    private static String chatTemplateOf(JsonNode t) {
        if (t == null) {
            return null;
        }
        if (t.isTextual()) {
            return t.asText();
        }
        for (JsonNode named : t) {
            if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                return named.path("template").asText();
            }
        }
        return null;
    }

    /** Special tokens the post-processor puts before and after a single sequence. */
    private record Template(String bos, String eos) {
        static Template of(JsonNode json) {
            JsonNode single = json.path("post_processor").path("single");
            String bos = null;
            String eos = null;
            boolean seenSequence = false;
            for (JsonNode piece : single) {
                if (piece.has("Sequence")) {
                    seenSequence = true;
                } else if (piece.has("SpecialToken")) {
                    String id = piece.path("SpecialToken").path("id").asText(null);
                    if (seenSequence) {
                        eos = id;
                    } else {
                        bos = id;
                    }
                }
            }
            return new Template(bos, eos);
        }
    }

    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return node.isTextual() ? node.asText() : node.path("content").asText(null);
    }

    private static Integer tokenId(JsonNode json, String token) {
        for (JsonNode added : json.path("added_tokens")) {
            if (token.equals(added.path("content").asText())) {
                return added.path("id").asInt();
            }
        }
        JsonNode id = json.path("model").path("vocab").get(token);
        return id != null && id.canConvertToInt() ? id.asInt() : null;
    }

    private static int vocabSize(JsonNode json) {
        int max = -1;
        JsonNode vocab = json.path("model").path("vocab");
        for (JsonNode id : vocab) {
            max = Math.max(max, id.asInt());
        }
        for (JsonNode added : json.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt());
        }
        return max + 1;
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static JsonNode readJson(Path file, byte[] bytes) {
        try {
            return MAPPER.readTree(bytes);
        } catch (JacksonException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The fingerprint of a tokenizer.json's bytes (what {@link #fingerprint()} returns for it): their sha256. */
    public static String fingerprintOf(byte[] tokenizerJson) {
        return sha256(tokenizerJson);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Token ids of a text with BOS/EOS as configured. */
    public long[] encode(String text) {
        return encode(text, addBos, addEos);
    }

    /** Token ids of a text, with or without BOS and EOS. */
    public long[] encode(String text, boolean withBos, boolean withEos) {
        long[] body = hf.encode(text, false, false).getIds();
        int extra = (withBos ? 1 : 0) + (withEos ? 1 : 0);
        if (extra == 0) {
            return body;
        }
        if ((withBos && bosId == null) || (withEos && eosId == null)) {
            throw new IllegalStateException(file + ": no " + (withBos && bosId == null ? "BOS" : "EOS") + " token");
        }
        long[] ids = new long[body.length + extra];
        int at = 0;
        if (withBos) {
            ids[at++] = bosId;
        }
        System.arraycopy(body, 0, ids, at, body.length);
        if (withEos) {
            ids[ids.length - 1] = eosId;
        }
        return ids;
    }

    /**
     * Token ids of many texts at once, without BOS or EOS: the tokenizers library encodes them in parallel on all
     * cores.
     */
    public long[][] encodeBatch(java.util.List<String> texts) {
        ai.djl.huggingface.tokenizers.Encoding[] enc = hf.batchEncode(texts.toArray(new String[0]), false, false);
        long[][] ids = new long[enc.length][];
        for (int i = 0; i < enc.length; i++) {
            ids[i] = enc[i].getIds();
        }
        return ids;
    }

    /** Text of token ids, special tokens left out. */
    public String decode(long[] ids) {
        return hf.decode(ids, true);
    }

    public boolean addsBos() {
        return addBos;
    }

    public boolean addsEos() {
        return addEos;
    }

    /** The BOS id, or null if the tokenizer names none. */
    public Integer bosId() {
        return bosId;
    }

    /** The EOS id, or null if the tokenizer names none. */
    public Integer eosId() {
        return eosId;
    }

    /** The Jinja chat template of tokenizer_config.json (or of chat_template.jinja), or null. */
    public String chatTemplate() {
        return chatTemplate;
    }

    /**
     * The chat template, read, or null when the tokenizer has none.
     *
     * @throws ModelFormatException if it is not a template this project can render, naming the file and line
     */
    public ChatTemplate chat() {
        if (chatTemplate != null && parsedChatTemplate == null) {
            parsedChatTemplate = ChatTemplate.parse(chatTemplate, chatTemplateOrigin); // read once, when first asked
        }
        return parsedChatTemplate;
    }

    /**
     * Token ids of a conversation as the chat template writes it, ending with the assistant's turn opened (HF's
     * {@code apply_chat_template(..., add_generation_prompt=True)}); the template writes BOS itself, so none is added.
     */
    public long[] encodeChat(List<ChatTemplate.Message> messages) {
        ChatTemplate t = chat();
        if (t == null) {
            throw new IllegalStateException(file + ": no chat template");
        }
        return encode(t.render(messages, bosToken, eosToken, true), false, false);
    }

    /** The BOS token's text (e.g. {@code <s>}), or null. */
    public String bosToken() {
        return bosToken;
    }

    /** The EOS token's text (e.g. {@code </s>}), or null. */
    public String eosToken() {
        return eosToken;
    }

    /** Ids in use: 1 + the largest id of the vocabulary and the added tokens. */
    public int vocabSize() {
        return vocabSize;
    }

    /** sha256 of tokenizer.json: data made with one tokenizer is refused by a model with another. */
    public String fingerprint() {
        return fingerprint;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        hf.close();
    }
}

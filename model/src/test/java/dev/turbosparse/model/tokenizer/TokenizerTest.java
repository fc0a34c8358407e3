package dev.turbosparse.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.turbosparse.model.TestData;
import dev.turbosparse.model.io.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.StreamSupport;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {

    private static Tokenizer tokenizer;
    private static JsonNode reference;

    @BeforeAll
    static void load() throws IOException {
        tokenizer = Tokenizer.load(TestData.mistralTokenizer());
        reference = JsonMapper.builder().build().readTree(
                Files.readAllBytes(TestData.mistralTokenizer().resolve("encodings.json")));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static long[] ids(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToLong(JsonNode::asLong).toArray();
    }

    @Test
    void everyReferenceStringEncodesToTheReferenceIds() {
        int cases = 0;
        for (JsonNode c : reference.get("cases")) {
            String text = c.get("text").asText();
            String label = c.get("category").asText() + " " + c.get("text").toString();
            assertArrayEquals(ids(c.get("ids")), tokenizer.encode(text), label);
            assertArrayEquals(ids(c.get("ids_without_bos")), tokenizer.encode(text, false, false), label);
            assertEquals(text, tokenizer.decode(tokenizer.encode(text)), "decode gives back " + label);
            cases++;
        }
        assertEquals(24, cases);
    }

    @Test
    void mistralVocabularyAndSpecialTokens() {
        assertEquals(32000, tokenizer.vocabSize());
        assertEquals(1, tokenizer.bosId());
        assertEquals(2, tokenizer.eosId());
        assertTrue(tokenizer.addsBos(), "the post-processor template adds <s> when there is no tokenizer_config.json");
        assertFalse(tokenizer.addsEos());
        assertEquals("fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc", tokenizer.fingerprint());
    }

    @Test
    void longTextsAreNeverTruncated() {
        String text = "the quick brown fox ".repeat(400); // about 1,600 tokens, beyond DJL's default cut at 512
        long[] ids = tokenizer.encode(text, false, false);
        assertTrue(ids.length > 1500, "got " + ids.length + " tokens");
        assertEquals(text, tokenizer.decode(ids));
    }

    @Test
    void tokenizerConfigDecidesBosAndEos(@TempDir Path dir) throws IOException {
        Files.copy(TestData.mistralTokenizer().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"add_bos_token": false, "add_eos_token": true,
                 "bos_token": {"content": "<s>", "special": true}, "eos_token": "</s>",
                 "chat_template": "{{ messages }}"}""");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertArrayEquals(new long[] {22557, 1526, 28808, 2}, t.encode("Hello world!"));
            assertEquals("{{ messages }}", t.chatTemplate());
        }
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"add_bos_token": true, "bos_token": "<bos-that-is-not-there>"}""");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains("'<bos-that-is-not-there>' is not in the vocabulary"), e.getMessage());
        // a config that names no BOS keeps the post-processor's
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 512}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            assertEquals("<s>", t.bosToken());
            assertEquals(1, t.encode("Hello")[0]);
        }
    }

    @Test
    void aChatTemplateWritesTheConversationAndItsBos(@TempDir Path dir) throws IOException {
        Files.copy(TestData.mistralTokenizer().resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        // the list form, of which "default" is used
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"bos_token": "<s>", "eos_token": "</s>", "chat_template": [
                  {"name": "tool_use", "template": "unused"},
                  {"name": "default", "template": "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"}]}""");
        try (Tokenizer t = Tokenizer.load(dir)) {
            long[] ids = t.encodeChat(List.of(new ChatTemplate.Message("user", "Hello world!")));
            long[] body = t.encode("[INST] Hello world! [/INST]", false, false);
            assertEquals(1, ids[0], "the template's <s> is the BOS token, once");
            assertArrayEquals(body, java.util.Arrays.copyOfRange(ids, 1, ids.length));
        }
        // chat_template.jinja when tokenizer_config.json has none; a template it cannot read names that file
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ bos_token }}\n{% call x() %}{% endcall %}");
        try (Tokenizer t = Tokenizer.load(dir)) {
            ModelFormatException e = assertThrows(ModelFormatException.class, t::chat);
            assertTrue(e.getMessage().endsWith("chat_template.jinja: line 2: {% call %} is not supported in chat templates"
                    + " here (supported: if, for, set)"), e.getMessage());
        }
    }

    @Test
    void missingTokenizerIsNamed(@TempDir Path dir) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json: not found"), e.getMessage());
    }
}

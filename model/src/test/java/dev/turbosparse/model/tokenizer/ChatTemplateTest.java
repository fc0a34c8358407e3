package dev.turbosparse.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.model.io.ModelFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chat templates rendered as Python's Jinja2 renders them for Hugging Face's apply_chat_template: every case of
 * {@code chat-templates/cases.json} (made by tools/chat-template-cases/render.py) gives the same text, or the same
 * refusal.
 */
class ChatTemplateTest {

    static JsonNode cases() throws IOException {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat-templates/cases.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    static Stream<Arguments> everyCase() throws IOException {
        JsonNode all = cases();
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : all.get("cases")) {
            out.add(Arguments.of(c.get("template").asText() + " / " + c.get("messages").asText() + " / "
                    + c.get("add_generation_prompt").asBoolean(), c, all));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyCase")
    void rendersAsJinja2Does(String name, JsonNode c, JsonNode all) {
        ChatTemplate t = ChatTemplate.parse(all.get("templates").get(c.get("template").asText()).asText(), "test");
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (JsonNode m : all.get("messages").get(c.get("messages").asText())) {
            messages.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
        }
        boolean prompt = c.get("add_generation_prompt").asBoolean();
        if (c.has("error")) {
            InputException e = assertThrows(InputException.class, () -> t.render(messages, "<s>", "</s>", prompt));
            assertEquals("test: the chat template refuses these messages: " + c.get("error").asText(), e.getMessage());
        } else {
            assertEquals(c.get("expected").asText(), t.render(messages, "<s>", "</s>", prompt));
        }
    }

    @Test
    void whatItCannotRenderIsRefusedWhenReadNamingTheLine() {
        String[][] bad = {
            {"a\n{% macro m() %}x{% endmacro %}", "test: line 2: {% macro %} is not supported"},
            {"{{ x | wordwrap }}", "test: line 1: the filter 'wordwrap' is not supported"},
            {"{% if x %}\nno end", "test: line 2: the template ends before {% elif / else / endif %}"},
            {"x\n\n{{ 'open }}", "test: line 3: '{{' is never closed"},
            {"{% endfor %}", "test: line 1: 'endfor' without its opening tag"},
            {"{{ a b }}", "test: line 1: unexpected 'b' in 'a b'"},
        };
        for (String[] b : bad) {
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> ChatTemplate.parse(b[0], "test"), b[0]);
            assertTrue(e.getMessage().startsWith(b[1]), b[0] + " -> " + e.getMessage());
        }
    }

    @Test
    void aTemplateThatFailsOnTheMessagesSaysWhereAndWhy() {
        ChatTemplate t = ChatTemplate.parse("x\n{{ messages[5].content }}", "tokenizer_config.json");
        InputException e = assertThrows(InputException.class,
                () -> t.render(List.of(new ChatTemplate.Message("user", "hi")), "<s>", "</s>", true));
        assertEquals("tokenizer_config.json: the chat template fails on these messages, line 2: index 5 is out of range"
                + " for a list of 1", e.getMessage());
    }
}

package dev.turbosparse.model.tokenizer;

import java.util.Arrays;

/**
 * Turns a growing list of token ids into text pieces to print as they come. A token can end in the middle of a
 * UTF-8 character (byte-fallback tokens); such a tail decodes to U+FFFD and is held back until the character is
 * complete.
 */
public final class StreamingDecoder {

    private final Tokenizer tokenizer;
    private long[] ids = new long[0];
    private int printed;

    /** @param prefix ids already shown to the user (the prompt), whose text is not printed again */
    public StreamingDecoder(Tokenizer tokenizer, long[] prefix) {
        this.tokenizer = tokenizer;
        this.ids = prefix.clone();
        this.printed = tokenizer.decode(ids).length();
    }

    /** Adds a token and returns the text that became printable (possibly empty). */
    public String add(long id) {
        ids = Arrays.copyOf(ids, ids.length + 1);
        ids[ids.length - 1] = id;
        String text = tokenizer.decode(ids);
        int end = text.length();
        while (end > printed && text.charAt(end - 1) == '\uFFFD') {
            end--;
        }
        if (end <= printed) {
            return "";
        }
        String piece = text.substring(printed, end);
        printed = end;
        return piece;
    }

    /** Whatever is still held back (an incomplete character at the end). */
    public String flush() {
        String text = tokenizer.decode(ids);
        String rest = text.length() > printed ? text.substring(printed) : "";
        printed = text.length();
        return rest;
    }
}

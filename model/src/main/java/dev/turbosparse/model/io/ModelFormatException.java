package dev.turbosparse.model.io;

/**
 * A model file that cannot be used as it is: a config.json field missing or of the wrong type, a safetensors header
 * that disagrees with its file, a tensor missing or of the wrong shape. The message is one line and names the file
 * and the field or tensor, so that a command can print it as is: control characters that a file's names may hold are
 * escaped, and a message longer than {@value #MAX_LENGTH} characters is cut.
 */
public class ModelFormatException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    static final int MAX_LENGTH = 600;

    public ModelFormatException(String message) {
        super(oneLine(message));
    }

    public ModelFormatException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /** The message with control characters escaped ({@code \n}, {@code \x00}) and cut to a readable length. */
    static String oneLine(String message) {
        if (message == null) {
            return null;
        }
        StringBuilder b = new StringBuilder(Math.min(message.length(), MAX_LENGTH) + 16);
        int i = 0;
        for (; i < message.length() && b.length() < MAX_LENGTH; i++) {
            char c = message.charAt(i);
            switch (c) {
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (Character.isISOControl(c)) {
                        b.append(String.format("\\x%02x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        if (i < message.length()) {
            b.append("...");
        }
        return b.toString();
    }
}

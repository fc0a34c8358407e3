package dev.turbosparse.model.io;

/**
 * Input a command cannot use as it is (a model file, a corpus, a recipe), described in one line that names the file
 * and the field, line or tensor, so that a command can print it as is. Control characters that names in files may
 * hold are escaped, and a message longer than {@value #MAX_LENGTH} characters is cut.
 */
public class InputException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    static final int MAX_LENGTH = 600;

    public InputException(String message) {
        super(oneLine(message));
    }

    public InputException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /** The message with control characters escaped ({@code \n}, {@code \x00}) and cut to a readable length. */
    public static String oneLine(String message) {
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

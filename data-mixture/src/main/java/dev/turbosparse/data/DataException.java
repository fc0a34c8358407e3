package dev.turbosparse.data;

import dev.turbosparse.model.io.InputException;

/**
 * Data a command cannot use: a corpus record, a prepared source, a mixture definition. The message is one line that
 * names the file (and line, or source) and says what is wrong.
 */
public class DataException extends InputException {

    private static final long serialVersionUID = 1L;

    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}

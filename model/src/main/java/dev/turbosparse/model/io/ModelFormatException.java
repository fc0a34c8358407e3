package dev.turbosparse.model.io;

/**
 * A model file that cannot be used as it is: a config.json field missing or of the wrong type, a safetensors header
 * that disagrees with its file, a tensor missing or of the wrong shape. The message names the file and the field or
 * tensor.
 */
public class ModelFormatException extends InputException {

    private static final long serialVersionUID = 1L;

    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}

package dev.turbosparse.trainer;

import dev.turbosparse.model.io.InputException;

/**
 * A run that cannot go on (its loss diverged, memory ran out), described in one line that says what to do, with the
 * last good checkpoint where there is one.
 */
public final class TrainingException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public TrainingException(String message) {
        super(InputException.oneLine(message));
    }

    public TrainingException(String message, Throwable cause) {
        super(InputException.oneLine(message), cause);
    }
}

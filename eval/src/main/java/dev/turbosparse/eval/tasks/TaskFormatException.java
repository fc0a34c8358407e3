package dev.turbosparse.eval.tasks;

import dev.turbosparse.model.io.InputException;

/** A task's data file that cannot be read as the dataset's published format: names the file, line and field. */
public final class TaskFormatException extends InputException {

    private static final long serialVersionUID = 1L;

    public TaskFormatException(String message) {
        super(message);
    }
}

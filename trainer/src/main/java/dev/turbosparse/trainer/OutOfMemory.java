package dev.turbosparse.trainer;

import java.util.Locale;

/** Recognises running out of memory (torch's allocators, the JVM's) and says what to change in the recipe. */
final class OutOfMemory {

    private OutOfMemory() {}

    /** Whether a failure is an allocation that did not fit, on the CPU or a GPU. */
    static boolean is(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError) {
                return true;
            }
            String m = c.getMessage() == null ? "" : c.getMessage().toLowerCase(Locale.ROOT);
            if (m.contains("out of memory") || m.contains("can't allocate memory")
                    || m.contains("not enough memory") || m.contains("failed to allocate")) {
                return true;
            }
        }
        return false;
    }

    /** The one-line explanation: what ran out, and a micro-batch and accumulation that keep the step's size. */
    static TrainingException explain(Throwable t, Recipe r, long step) {
        String what = t instanceof OutOfMemoryError ? "the Java heap" : "device memory";
        String first = t.getMessage() == null ? t.toString() : t.getMessage().lines().findFirst().orElse("");
        String suggestion;
        if (r.microBatch() > 1) {
            int micro = Math.max(1, r.microBatch() / 2);
            int accumulation = (int) Math.ceil((double) r.microBatch() * r.accumulation() / micro);
            suggestion = "lower micro_batch and raise grad_accumulation to keep the step's " + r.sequencesPerStep()
                    + " sequences, e.g. --set micro_batch=" + micro + " --set grad_accumulation=" + accumulation;
        } else {
            suggestion = "micro_batch is already 1: use a shorter seq_len, a smaller model or a device with more"
                    + " memory";
        }
        return new TrainingException("step " + step + ": out of " + what + " (" + first + "); " + suggestion, t);
    }
}

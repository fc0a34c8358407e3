package dev.turbosparse.cli;

import java.time.temporal.ChronoUnit;
import java.util.Locale;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Progress with ETA on stderr, so that stdout keeps only a command's result: a live bar on a terminal; elsewhere
 * (CI and cluster job logs) a log line every 10 seconds and one when done, and nothing for work done in under 10
 * seconds.
 */
final class Progress implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(Progress.class);
    private static final long LOG_EVERY_NANOS = 10_000_000_000L;

    private final ProgressBar bar; // null off a terminal
    private final String task;
    private final long total;
    private final String unit;
    private final long unitSize;
    private final long start = System.nanoTime();
    private long lastLog = start;
    private final long initial; // done before this process started (a resumed run): not counted in the rate
    private long done;
    private boolean logged;
    private String message = "";

    private Progress(String task, long total, String unit, long unitSize, long initial, boolean terminal) {
        this.task = task;
        this.total = Math.max(total, 1);
        this.unit = unit;
        this.unitSize = unitSize;
        this.initial = initial;
        this.done = initial;
        this.bar = terminal ? new ProgressBarBuilder().setTaskName(task).setInitialMax(this.total)
                .setUnit(" " + unit, unitSize).showSpeed().setSpeedUnit(ChronoUnit.SECONDS)
                .startsFrom(initial, java.time.Duration.ZERO)
                .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(200).clearDisplayOnFinish().build() : null;
    }

    /** Progress over a number of bytes, shown in MB. */
    static Progress bytes(String task, long total) {
        return new Progress(task, total, "MB", 1L << 20, 0, isTerminal());
    }

    /** Progress over a count of things, e.g. tokens. */
    static Progress count(String task, long total, String unit) {
        return new Progress(task, total, unit, 1, 0, isTerminal());
    }

    /** Progress over a count of which {@code initial} were done before (the ETA counts only the rest). */
    static Progress count(String task, long total, String unit, long initial) {
        return new Progress(task, total, unit, 1, initial, isTerminal());
    }

    /** A short note shown after the bar (and in the log lines), e.g. the latest loss. */
    void message(String text) {
        message = text;
        if (bar != null) {
            bar.setExtraMessage(" " + text);
        }
    }

    private static boolean isTerminal() {
        return System.console() != null && System.console().isTerminal();
    }

    void stepTo(long n) {
        done = n;
        if (bar != null) {
            bar.stepTo(n);
            return;
        }
        long now = System.nanoTime();
        if (now - lastLog >= LOG_EVERY_NANOS) {
            lastLog = now;
            logged = true;
            double elapsed = (now - start) / 1e9;
            double eta = done <= initial ? Double.NaN : elapsed * (total - done) / (done - initial);
            LOG.info("{}: {} of {} {} ({}%), {} elapsed, ETA {}{}", task, amount(done), amount(total), unit,
                    String.format(Locale.ROOT, "%.0f", 100.0 * done / total), clock(elapsed), clock(eta),
                    message.isEmpty() ? "" : "; " + message);
        }
    }

    void step() {
        stepTo(done + 1);
    }

    private String amount(long n) {
        return unitSize == 1 ? String.format(Locale.ROOT, "%,d", n)
                : String.format(Locale.ROOT, "%,.0f", n / (double) unitSize);
    }

    private static String clock(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) {
            return "?";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        } else if (logged) {
            LOG.info("{}: {} {} in {}", task, amount(done - initial), unit, clock((System.nanoTime() - start) / 1e9));
        }
    }
}

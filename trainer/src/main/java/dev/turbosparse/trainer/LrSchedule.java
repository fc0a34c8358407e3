package dev.turbosparse.trainer;

/**
 * The learning rate of each optimiser step: linear warmup from lr / warmup to lr over the first {@code warmup}
 * steps, then either constant or a half cosine from lr down to {@code minLr} at the last step.
 */
public record LrSchedule(double lr, double minLr, long warmup, long total, boolean cosine) {

    public static LrSchedule of(Recipe r) {
        return new LrSchedule(r.optimizer().lr(), r.minLr(), r.warmupSteps(), r.totalSteps(),
                r.scheduleKind().equalsIgnoreCase("cosine"));
    }

    /** The learning rate of step {@code step} (0-based). */
    public double at(long step) {
        if (step < warmup) {
            return lr * (step + 1) / warmup;
        }
        if (!cosine) {
            return lr;
        }
        long decay = Math.max(1, total - warmup - 1);
        double progress = Math.min(1.0, (double) (step - warmup) / decay);
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
}

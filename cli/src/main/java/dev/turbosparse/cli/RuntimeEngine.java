package dev.turbosparse.cli;

import dev.turbosparse.runtime.Decoder;
import dev.turbosparse.runtime.RuntimeModel;
import dev.turbosparse.runtime.TokenDecoder;
import dev.turbosparse.runtime.gpu.DjlDecoder;

import java.util.Locale;

/** The runtime engine as the commands offer it: a mode, threads, and the device (the CPU decoder, or a GPU). */
final class RuntimeEngine {

    /** The --device values. */
    enum DeviceName { cpu, gpu }

    private RuntimeEngine() {}

    /** A decoder of the model: the CPU runtime on {@code cpu}, the DJL-device decoder on {@code gpu}. */
    static TokenDecoder open(RuntimeModel model, String mode, int context, Integer threads, DeviceName device) {
        Decoder.Mode m = Decoder.Mode.valueOf(mode.toUpperCase(Locale.ROOT));
        if (device == DeviceName.gpu) {
            return new DjlDecoder(model, m, context, DjlDecoder.device("gpu"));
        }
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (n < 1) {
            throw new Cli.UserError("--threads must be at least 1, got " + n);
        }
        return new Decoder(model, m, context, n, Float.NaN);
    }
}

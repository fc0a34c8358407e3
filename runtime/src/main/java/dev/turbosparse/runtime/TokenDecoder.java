package dev.turbosparse.runtime;

/** One sequence decoded a token at a time: {@link Decoder} on the CPU, or the DJL-device decoder (GPU). */
public interface TokenDecoder extends AutoCloseable {

    /** Feeds the token at the next position and returns the logits that follow it. */
    float[] forward(int token);

    /** Forgets the sequence: the next token is at position 0. */
    void reset();

    /** The most positions the decoder holds. */
    int context();

    @Override
    void close();
}

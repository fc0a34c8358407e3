package dev.turbosparse.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.turbosparse.model.config.ModelConfig;

/**
 * Keys and values of past positions, per layer, for incremental decoding: preallocated to a capacity, written in
 * place, read as views. With a sliding window every key stays stored and the mask hides the ones out of reach.
 * Inference only: in-place writes do not take part in autograd.
 */
public final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray[] keys; // per layer (batch, kvHeads, capacity, headDim)
    private final NDArray[] values; // per layer (batch, kvHeads, capacity, headDim)
    private final int capacity;
    private long length;

    /**
     * @param parent the manager the cache's arrays live under (the model's, or a session's)
     * @param capacity positions it can hold: prompt plus generated tokens
     */
    public KvCache(NDManager parent, ModelConfig c, int batch, int capacity) {
        if (capacity <= 0 || batch <= 0) {
            throw new IllegalArgumentException("KV cache needs a positive batch and capacity, got " + batch + ", " + capacity);
        }
        this.manager = parent.newSubManager();
        this.capacity = capacity;
        this.keys = new NDArray[c.numHiddenLayers()];
        this.values = new NDArray[c.numHiddenLayers()];
        Shape shape = new Shape(batch, c.numKeyValueHeads(), capacity, c.headDim());
        for (int l = 0; l < keys.length; l++) {
            keys[l] = manager.zeros(shape, DataType.FLOAT32);
            values[l] = manager.zeros(shape, DataType.FLOAT32);
        }
    }

    /** Positions stored so far: the position of the next token. */
    public long length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Checks that {@code seq} more positions fit. */
    void ensureRoom(long seq) {
        if (length + seq > capacity) {
            throw new IllegalArgumentException("the KV cache holds " + capacity + " positions; " + length
                    + " are used and " + seq + " more do not fit");
        }
    }

    /**
     * Stores k and v of positions [start, start + seq) and returns the keys and values of [0, start + seq) as views
     * in k's manager.
     *
     * @param k (batch, kvHeads, seq, headDim)
     * @param v (batch, kvHeads, seq, headDim)
     */
    NDList append(int layer, NDArray k, NDArray v, long start) {
        long end = start + k.getShape().get(2);
        NDIndex slot = new NDIndex(":, :, {}:{}", start, end);
        keys[layer].set(slot, k);
        values[layer].set(slot, v);
        NDIndex upTo = new NDIndex(":, :, :{}", end);
        return new NDList(keys[layer].get(k.getManager(), upTo), values[layer].get(k.getManager(), upTo));
    }

    /** Marks {@code seq} more positions as stored, after every layer has appended them. */
    void advance(long seq) {
        length += seq;
    }

    /**
     * A new cache of {@code batch} rows, each starting with a copy of this one-row cache's positions: a shared prompt
     * computed once and continued by several sequences.
     */
    public KvCache repeat(NDManager parent, ModelConfig c, int batch, int capacity) {
        if (keys.length > 0 && keys[0].getShape().get(0) != 1) {
            throw new IllegalStateException("only a one-row cache is repeated, this one has " + keys[0].getShape().get(0));
        }
        if (capacity < length) {
            throw new IllegalArgumentException("capacity " + capacity + " is below the " + length + " positions stored");
        }
        KvCache out = new KvCache(parent, c, batch, capacity);
        if (length > 0) {
            NDIndex stored = new NDIndex(":, :, :{}", length);
            for (int l = 0; l < keys.length; l++) {
                try (NDArray k1 = keys[l].get(stored); NDArray v1 = values[l].get(stored);
                        NDArray k = k1.repeat(0, batch); NDArray v = v1.repeat(0, batch)) {
                    out.keys[l].set(stored, k); // (batch, kvHeads, length, headDim)
                    out.values[l].set(stored, v);
                }
            }
        }
        out.length = length;
        return out;
    }

    @Override
    public void close() {
        manager.close();
    }
}

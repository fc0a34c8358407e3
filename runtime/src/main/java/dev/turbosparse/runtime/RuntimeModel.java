package dev.turbosparse.runtime;

import dev.turbosparse.model.config.ModelConfig;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.function.UnaryOperator;

/**
 * A Mistral or Mixtral model as the runtime holds it: matrices where the file maps them (nothing copied but the
 * norms), or in the process's own memory ({@link #inMemory}), and how the file arranges them.
 *
 * @param rope how q and k rows are ordered within a head: HF's rotate-half order, or llama.cpp's interleaved pairs
 *     (GGUF files); the runtime rotates each the way its rows are stored
 * @param embeddings (vocab, hidden)
 * @param lmHead (vocab, hidden): the embeddings when they are tied
 * @param sparseThreshold a neuron is predicted active when its predictor score reaches it
 * @param source what the weights were read from, for messages
 * @param closer releases the mapped files (or the memory the weights were read into)
 */
public record RuntimeModel(ModelConfig config, Rope rope, Matrix embeddings, List<Layer> layers, float[] norm,
        Matrix lmHead, float sparseThreshold, String source, AutoCloseable closer) implements AutoCloseable {

    /** The order of q/k rows within each head. */
    public enum Rope {
        /** HF's: dimension i pairs with i + headDim/2 */
        HALF,
        /** llama.cpp's (GGUF): dimension 2i pairs with 2i + 1 */
        INTERLEAVED
    }

    /** A low-rank activation predictor: score = fc2 · relu(fc1 · residual). fc1 (rank, hidden), fc2 (intermediate, rank). */
    public record Predictor(Matrix fc1, Matrix fc2) {}

    /**
     * One gated FFN (a layer's, or an expert's): gate and up (intermediate, hidden), the down projection as stored,
     * row-major (hidden, intermediate) and/or neuron-major (intermediate, hidden), and its predictor if it has one.
     */
    public record Ffn(Matrix gate, Matrix up, Matrix down, Matrix downT, Predictor predictor) {
        public Ffn {
            if (down == null && downT == null) {
                throw new IllegalArgumentException(gate.name() + ": an FFN needs its down projection");
            }
        }
    }

    /**
     * One decoder layer: RMSNorm weights, the attention projections q (heads·headDim, hidden), k and v
     * (kvHeads·headDim, hidden), o (hidden, heads·headDim), and the FFN: one, or the experts with their router
     * (experts, hidden).
     */
    public record Layer(float[] inputNorm, Matrix q, Matrix k, Matrix v, Matrix o, float[] postNorm, Matrix router,
            List<Ffn> experts) {}

    /** Whether every FFN carries a predictor. */
    public boolean hasPredictors() {
        return layers.stream().allMatch(l -> l.experts().stream().allMatch(f -> f.predictor() != null));
    }

    /** Every weight matrix's bytes where they lie (the embeddings once when the lm head is tied to them). */
    public List<MemorySegment> weightSegments() {
        return matrices().stream().map(Matrix::data).toList();
    }

    /** Every weight matrix once (a tied lm head is the embeddings), in the order {@link #withMatrices} visits them. */
    private List<Matrix> matrices() {
        Set<Matrix> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Matrix> out = new ArrayList<>();
        withMatrices(m -> {
            if (seen.add(m)) {
                out.add(m);
            }
            return m;
        }, closer);
        return out;
    }

    /**
     * The same model with every weight matrix read into memory of the process's own (anonymous memory, as llama.cpp's
     * {@code --no-mmap} has it), the mapped files released: what the kernels then read no longer depends on where the
     * page cache put the file's pages, nor on the kernel keeping them. The matrices share one block, in transparent
     * huge pages where Linux allows them ({@link MappedPages#allocateHugePages}): reading 1.9 GB in took 1.1-1.3 s so
     * on the benchmarks' VM, 6.3-7.7 s in 4 KiB pages. This model is closed, whether or not the copy succeeds; the
     * one returned frees the memory when it is closed.
     *
     * @param progress told the bytes copied so far, after each matrix
     * @throws OutOfMemoryError when the memory cannot be had (after this model is closed)
     */
    public RuntimeModel inMemory(LongConsumer progress) {
        Arena arena = Arena.ofShared();
        boolean ok = false;
        try {
            Map<Matrix, Long> offsets = new IdentityHashMap<>();
            long size = 0;
            for (Matrix x : matrices()) {
                offsets.put(x, size);
                size = Math.ceilDiv(size + x.bytes(), 4096) * 4096;
            }
            MemorySegment block = MappedPages.allocateHugePages(size, arena);
            Map<Matrix, Matrix> copies = new IdentityHashMap<>(); // a tied lm head stays the embeddings
            long[] done = {0};
            RuntimeModel m = withMatrices(x -> copies.computeIfAbsent(x, y -> {
                MemorySegment to = block.asSlice(offsets.get(y), y.bytes());
                to.copyFrom(y.data().asSlice(0, y.bytes()));
                done[0] += y.bytes();
                progress.accept(done[0]);
                return new Matrix(y.name(), y.type(), y.rows(), y.cols(), to);
            }), arena::close);
            ok = true;
            return m;
        } finally {
            if (!ok) {
                arena.close();
            }
            close();
        }
    }

    /**
     * This model with {@code f} applied to each of its weight matrices (absent ones stay null), released by
     * {@code closer}.
     */
    private RuntimeModel withMatrices(UnaryOperator<Matrix> f, AutoCloseable closer) {
        UnaryOperator<Matrix> g = m -> m == null ? null : f.apply(m);
        Matrix e = g.apply(embeddings);
        List<Layer> ls = new ArrayList<>();
        for (Layer l : layers) {
            List<Ffn> fs = new ArrayList<>();
            for (Ffn x : l.experts()) {
                Predictor p = x.predictor() == null ? null
                        : new Predictor(g.apply(x.predictor().fc1()), g.apply(x.predictor().fc2()));
                fs.add(new Ffn(g.apply(x.gate()), g.apply(x.up()), g.apply(x.down()), g.apply(x.downT()), p));
            }
            ls.add(new Layer(l.inputNorm(), g.apply(l.q()), g.apply(l.k()), g.apply(l.v()), g.apply(l.o()),
                    l.postNorm(), g.apply(l.router()), List.copyOf(fs)));
        }
        return new RuntimeModel(config, rope, e, List.copyOf(ls), norm, g.apply(lmHead), sparseThreshold, source,
                closer);
    }

    /** Bytes of all weight matrices, as stored. */
    public long weightBytes() {
        long sum = embeddings.bytes() + (lmHead == embeddings ? 0 : lmHead.bytes());
        for (Layer l : layers) {
            sum += l.q().bytes() + l.k().bytes() + l.v().bytes() + l.o().bytes()
                    + (l.router() == null ? 0 : l.router().bytes());
            for (Ffn f : l.experts()) {
                sum += f.gate().bytes() + f.up().bytes() + (f.down() != null ? f.down() : f.downT()).bytes();
            }
        }
        return sum;
    }

    @Override
    public void close() {
        try {
            closer.close();
        } catch (Exception e) {
            throw new IllegalStateException(source + ": could not be released: " + e.getMessage(), e);
        }
    }
}

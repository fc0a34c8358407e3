package dev.turbosparse.runtime;

import dev.turbosparse.activations.FfnActivation;
import dev.turbosparse.model.config.ModelConfig;
import dev.turbosparse.model.gguf.GgmlType;
import dev.turbosparse.model.gguf.Transpose;
import dev.turbosparse.model.io.InputException;
import dev.turbosparse.runtime.cpu.Parallel;
import dev.turbosparse.runtime.cpu.RowKernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * Decodes one token at a time on the CPU: a KV cache per layer, grouped-query attention (with the sliding window
 * when the model has one), MoE routing, and the FFN in one of three {@link Mode}s. The arithmetic follows HF's
 * Mistral/Mixtral in float32: RMSNorm, rotary embeddings, scores scaled by headDim^-0.5, softmax, top-k routing with
 * the kept probabilities renormalised.
 *
 * <p>Not thread-safe: one decoder is one sequence. Its threads come from a {@link Parallel} it owns.
 */
public final class Decoder implements TokenDecoder {

    private static final Logger LOG = LogManager.getLogger(Decoder.class);

    /** How the FFN runs. */
    public enum Mode {
        /** every neuron: gate, up and down in full */
        DENSE,
        /**
         * the gate projection in full, then up and down only for neurons whose relu(gate) is positive: identical to
         * dense for ReGLU and dReLU models
         */
        EXACT,
        /** the predictor picks the neurons first; gate, up and down only for them (approximate) */
        PREDICTED
    }

    private final RuntimeModel model;
    private final ModelConfig c;
    private final Mode mode;
    private final RowKernels k;
    private final Parallel parallel;
    private final int context;
    private final float threshold;
    private final FfnActivation act;
    private final Arena transposed = Arena.ofShared();
    /** Predicted mode's fc2 of each FFN as (rank, intermediate), [layer][expert]; null in the other modes. */
    private final Matrix[][] fc2T;
    /** The neuron-major down projection of each FFN, [layer][expert]: the file's, or a transposed copy. */
    private final Matrix[][] downT;
    private final float[] invFreq;
    /** cos and sin of the current position's rotary angles, one per frequency: the same for every layer and head. */
    private final float[] ropeCos;
    private final float[] ropeSin;

    /** Per layer, KV head by KV head: element (head · context + position) · headDim + i. */
    private final float[][] keys;
    private final float[][] values;
    /**
     * The same caches as F32 matrices, [layer][KV head], a position's vector per row, so that attention's scores are
     * the kernels' dots (four positions at a time) and its weighted values their axpy.
     */
    private final Matrix[][] keyRows;
    private final Matrix[][] valueRows;
    private int position;

    // scratch, sized once
    private final float[] x;
    private final float[] xb;
    private final float[] residual;
    private final float[] q;
    private final float[] kv;
    private final float[] vv;
    private final float[] att;
    private final float[] ffnOut;
    private final float[] moeOut;
    private final float[] gate;
    private final float[] up;
    private final float[] h;
    private final int[] active;
    /**
     * The positions attention reads for the current token, first to last (the rows of the KV caches it adds): from
     * {@code positions[0]} to {@link #position}, set once per token.
     */
    private final int[] positions;
    /**
     * Per FFN block ({@link #blocks}): its partial output, its neurons' list, how many gate rows (predicted mode) and up
     * rows it read, and how many down rows it kept.
     */
    private final float[][] partials;
    private final int[][] blockRows;
    /** Per FFN block, its neurons in the order they are listed and read ({@link #quarterOrder}). */
    private final int[][] blockOrder;
    private final int[] blockGates;
    private final int[] blockRead;
    private final int[] blockKept;
    private final float[] rank;
    private final float[] score;
    private final float[] logits;
    private final float[] routerLogits;

    private long bytesRead;
    private long neuronsComputed;
    private long gateRows;
    private long upRows;
    private long neuronsTotal;

    /**
     * @param context the most positions this decoder holds (at most the model's max_position_embeddings)
     * @param threads CPU threads
     * @param threshold the predictor threshold, or NaN for the model's own
     */
    public Decoder(RuntimeModel model, Mode mode, int context, int threads, float threshold) {
        this.model = model;
        this.c = model.config();
        this.mode = mode;
        this.act = c.activation();
        if (mode != Mode.DENSE && !act.zeroGateMeansZeroOutput()) {
            throw new InputException(model.source() + ": --mode " + mode.name().toLowerCase(java.util.Locale.ROOT)
                    + " skips the neurons whose relu(gate) is zero, and this model's FFN is " + act.paperName()
                    + ", which has no such zeros; use --mode dense (or a dReLU/ReGLU model)");
        }
        if (mode == Mode.PREDICTED && !model.hasPredictors()) {
            throw new InputException(model.source() + ": --mode predicted needs activation predictors, and this model"
                    + " has none (train them with `turbosparse predictors`)");
        }
        if (context < 1 || context > c.maxPositionEmbeddings()) {
            throw new InputException("context " + context + " must be in [1, " + c.maxPositionEmbeddings()
                    + "] (the model's max_position_embeddings)");
        }
        this.context = context;
        this.k = RowKernels.best();
        this.parallel = new Parallel(threads);
        this.threshold = Float.isNaN(threshold) ? model.sparseThreshold() : threshold;
        int hidden = c.hiddenSize();
        int inter = c.intermediateSize();
        int kvDim = c.numKeyValueHeads() * c.headDim();
        this.keys = new float[c.numHiddenLayers()][];
        this.values = new float[c.numHiddenLayers()][];
        this.keyRows = new Matrix[c.numHiddenLayers()][c.numKeyValueHeads()];
        this.valueRows = new Matrix[c.numHiddenLayers()][c.numKeyValueHeads()];
        long headBytes = (long) context * c.headDim() * Float.BYTES;
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            keys[l] = new float[context * kvDim];
            values[l] = new float[context * kvDim];
            for (int h = 0; h < c.numKeyValueHeads(); h++) {
                keyRows[l][h] = new Matrix("layer " + l + " keys of KV head " + h, GgmlType.F32, context,
                        c.headDim(), MemorySegment.ofArray(keys[l]).asSlice(h * headBytes, headBytes));
                valueRows[l][h] = new Matrix("layer " + l + " values of KV head " + h, GgmlType.F32, context,
                        c.headDim(), MemorySegment.ofArray(values[l]).asSlice(h * headBytes, headBytes));
            }
        }
        this.x = new float[hidden];
        this.xb = new float[hidden];
        this.residual = new float[hidden];
        this.q = new float[c.numAttentionHeads() * c.headDim()];
        this.kv = new float[kvDim];
        this.vv = new float[kvDim];
        this.att = new float[c.numAttentionHeads() * c.headDim()];
        this.ffnOut = new float[hidden];
        this.moeOut = new float[hidden];
        this.gate = new float[inter];
        this.up = new float[inter];
        this.h = new float[inter];
        this.active = new int[inter];
        this.positions = new int[context];
        int blocks = (inter + blockSize() - 1) / blockSize();
        this.partials = new float[blocks][hidden];
        this.blockRows = new int[blocks][Math.min(inter, blockSize())];
        this.blockOrder = new int[blocks][];
        for (int b = 0; b < blocks; b++) {
            blockOrder[b] = quarterOrder(b * blockSize(), Math.min(inter, (b + 1) * blockSize()));
        }
        this.blockGates = new int[blocks];
        this.blockRead = new int[blocks];
        this.blockKept = new int[blocks];
        int r = model.hasPredictors() ? (int) model.layers().getFirst().experts().getFirst().predictor().fc1().rows() : 0;
        this.rank = new float[r];
        this.score = new float[inter];
        this.logits = new float[c.vocabSize()];
        this.routerLogits = new float[c.numExperts()];
        this.invFreq = new float[c.headDim() / 2];
        this.ropeCos = new float[invFreq.length];
        this.ropeSin = new float[invFreq.length];
        for (int i = 0; i < invFreq.length; i++) {
            invFreq[i] = 1.0f / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / c.headDim());
        }
        this.downT = neuronMajorDowns(mode);
        this.fc2T = mode == Mode.PREDICTED ? rankMajorFc2s() : null;
    }

    /**
     * Predicted mode's fc2 as (rank, intermediate) copies, [layer][expert]: scores are then a sum of the fc2
     * columns of the rank entries that relu left positive, long contiguous rows, where fc2's own rows (one per neuron,
     * rank elements each) would be thousands of short dots. A rank entry at zero is skipped.
     */
    private Matrix[][] rankMajorFc2s() {
        Matrix[][] out = new Matrix[c.numHiddenLayers()][c.numExperts()];
        long copied = 0;
        for (int l = 0; l < out.length; l++) {
            for (int e = 0; e < out[l].length; e++) {
                out[l][e] = transposed(model.layers().get(l).experts().get(e).predictor().fc2(), "rank-major");
                copied += out[l][e].bytes();
            }
        }
        LOG.debug("{}: predictors' fc2 transposed to rank-major in memory ({} KiB)", model.source(),
                copied >> 10);
        return out;
    }

    /**
     * A copy of a matrix's transpose, in the decoder's own memory (freed when it closes): F16 and BF16 as they are
     * (the same values, half the bytes of float32), the other types as float32.
     */
    private Matrix transposed(Matrix m, String layout) {
        if (m.type() == GgmlType.F16 || m.type() == GgmlType.BF16) {
            MemorySegment b16 = transposed.allocate(m.rows() * m.cols() * 2, 64);
            Transpose.b16(m.data(), m.rows(), m.cols(), b16);
            return new Matrix(m.name() + " (" + layout + ")", m.type(), m.cols(), m.rows(), b16);
        }
        MemorySegment f32 = transposed.allocate(m.rows() * m.cols() * 4, 64);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment rowMajor = tmp.allocate(m.rows() * m.cols() * 4, 64);
            m.type().toFloat32(m.data(), 0, rowMajor, m.rows() * m.cols());
            Transpose.f32(rowMajor, m.rows(), m.cols(), f32);
        }
        return new Matrix(m.name() + " (" + layout + ")", GgmlType.F32, m.cols(), m.rows(), f32);
    }

    /** Sparse modes read the down projection a neuron at a time: the file's neuron-major one, or a transposed copy. */
    private Matrix[][] neuronMajorDowns(Mode mode) {
        Matrix[][] out = new Matrix[c.numHiddenLayers()][c.numExperts()];
        long copied = 0;
        for (int l = 0; l < out.length; l++) {
            for (int e = 0; e < out[l].length; e++) {
                RuntimeModel.Ffn f = model.layers().get(l).experts().get(e);
                if (f.downT() != null || mode == Mode.DENSE) {
                    out[l][e] = f.downT();
                    continue;
                }
                out[l][e] = transposed(f.down(), "neuron-major"); // (hidden, inter) → (inter, hidden)
                copied += out[l][e].bytes();
            }
        }
        if (copied > 0) {
            LOG.info("{}: down projections transposed to neuron-major in memory ({} MiB); `turbosparse export"
                    + " --format gguf --sparse` stores them so", model.source(), copied >> 20);
        }
        return out;
    }

    public int position() {
        return position;
    }

    @Override
    public int context() {
        return context;
    }

    public Mode mode() {
        return mode;
    }

    /** Bytes of weights read since the decoder was made (or {@link #resetCounters}). */
    public long bytesRead() {
        return bytesRead;
    }

    /**
     * The share of FFN neurons whose down row was read since the decoder was made (or {@link #resetCounters}):
     * 1 in dense mode, 1 minus the FFN's sparsity in exact mode, in predicted mode the share of neurons both chosen and
     * not zero.
     */
    public double neuronShare() {
        return share(neuronsComputed);
    }

    /** The share of FFN neurons whose gate row was read: 1 but in predicted mode, where it is the share chosen. */
    public double gateShare() {
        return share(gateRows);
    }

    /**
     * The share of FFN neurons whose up row was read: 1 in dense mode, else the share whose relu(gate) is positive (in
     * predicted mode, among those chosen).
     */
    public double upShare() {
        return share(upRows);
    }

    private double share(long neurons) {
        return neuronsTotal == 0 ? Double.NaN : (double) neurons / neuronsTotal;
    }

    public void resetCounters() {
        bytesRead = 0;
        neuronsComputed = 0;
        gateRows = 0;
        upRows = 0;
        neuronsTotal = 0;
    }

    @Override
    public void reset() {
        position = 0;
    }

    /**
     * Feeds the token at the next position and returns the logits that follow it (a view, overwritten by the next
     * call).
     */
    @Override
    public float[] forward(int token) {
        if (token < 0 || token >= c.vocabSize()) {
            throw new InputException("token id " + token + " is outside the vocabulary [0, " + c.vocabSize() + ")");
        }
        if (position >= context) {
            throw new InputException("the sequence is longer than the context of " + context + " positions");
        }
        int hidden = c.hiddenSize();
        for (int i = 0; i < invFreq.length; i++) {
            float angle = position * invFreq[i];
            ropeCos[i] = (float) Math.cos(angle);
            ropeSin[i] = (float) Math.sin(angle);
        }
        // the positions every layer's attention reads: the sliding window's, when the model has one
        int first = c.slidingWindow() == null ? 0 : Math.max(0, position - c.slidingWindow() + 1);
        for (int t = first; t <= position; t++) {
            positions[t - first] = t;
        }
        Arrays.fill(x, 0);
        k.axpy(model.embeddings(), token, 1f, x, 0, hidden);
        bytesRead += model.embeddings().rowBytes();
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            RuntimeModel.Layer layer = model.layers().get(l);
            rmsNorm(x, layer.inputNorm(), xb);
            attention(l, layer);
            matVec(layer.o(), att, ffnOut);
            add(x, ffnOut);
            System.arraycopy(x, 0, residual, 0, hidden); // the predictor's input: the residual before the FFN's norm
            rmsNorm(x, layer.postNorm(), xb);
            if (layer.router() == null) {
                ffn(layer.experts().getFirst(), downT[l][0], fc2T == null ? null : fc2T[l][0], ffnOut);
                add(x, ffnOut);
            } else {
                moe(l, layer);
                add(x, moeOut);
            }
        }
        rmsNorm(x, model.norm(), xb);
        matVec(model.lmHead(), xb, logits);
        position++;
        return logits;
    }

    // ---- attention ----------------------------------------------------------------------------------------------

    private void attention(int l, RuntimeModel.Layer layer) {
        int headDim = c.headDim();
        matVecs(layer.q(), q, layer.k(), kv, layer.v(), vv, xb);
        for (int hd = 0; hd < c.numAttentionHeads(); hd++) {
            rope(q, hd * headDim);
        }
        for (int hd = 0; hd < c.numKeyValueHeads(); hd++) {
            rope(kv, hd * headDim);
        }
        for (int h = 0; h < c.numKeyValueHeads(); h++) {
            int at = (h * context + position) * headDim;
            System.arraycopy(kv, h * headDim, keys[l], at, headDim);
            System.arraycopy(vv, h * headDim, values[l], at, headDim);
        }
        int first = positions[0];
        int groups = c.numAttentionHeads() / c.numKeyValueHeads();
        float scale = (float) Math.pow(headDim, -0.5);
        Matrix[] kc = keyRows[l];
        Matrix[] vc = valueRows[l];
        int span = position + 1 - first;
        // a KV head with its query heads, up to four at a time: its cached keys and values are read once for them
        int quads = (groups + 3) / 4;
        parallel.forRange(c.numKeyValueHeads() * quads, 1, 1, (from, to) -> {
            for (int u = from; u < to; u++) {
                int kvHead = u / quads;
                int head = kvHead * groups + u % quads * 4; // the first query head of this part
                int heads = Math.min(4, groups - u % quads * 4);
                float[][] qs = new float[heads][headDim];
                float[][] ss = new float[heads][position + 1]; // by position; those before the window unused
                float[][] os = new float[heads][headDim];
                for (int i = 0; i < heads; i++) {
                    System.arraycopy(q, (head + i) * headDim, qs[i], 0, headDim);
                }
                k.dotsMany(kc[kvHead], first, position + 1, qs, ss);
                for (float[] s : ss) {
                    float max = Float.NEGATIVE_INFINITY;
                    for (int t = first; t <= position; t++) {
                        s[t] *= scale;
                        max = Math.max(max, s[t]);
                    }
                    float sum = 0;
                    for (int t = first; t <= position; t++) {
                        s[t] = (float) Math.exp(s[t] - max);
                        sum += s[t];
                    }
                    for (int t = first; t <= position; t++) {
                        s[t] /= sum;
                    }
                }
                k.axpysMany(vc[kvHead], positions, span, ss, os, 0, headDim); // the positions' values in their order
                for (int i = 0; i < heads; i++) {
                    System.arraycopy(os[i], 0, att, (head + i) * headDim, headDim);
                }
            }
        });
    }

    /** Rotates one head of q or k at {@code off} to the current position, in the row order the weights have. */
    private void rope(float[] v, int off) {
        int half = c.headDim() / 2;
        for (int i = 0; i < half; i++) {
            float cos = ropeCos[i];
            float sin = ropeSin[i];
            int a = model.rope() == RuntimeModel.Rope.HALF ? off + i : off + 2 * i;
            int b = model.rope() == RuntimeModel.Rope.HALF ? off + i + half : off + 2 * i + 1;
            float x1 = v[a];
            float x2 = v[b];
            v[a] = x1 * cos - x2 * sin;
            v[b] = x2 * cos + x1 * sin;
        }
    }

    // ---- FFN ----------------------------------------------------------------------------------------------------

    private void moe(int l, RuntimeModel.Layer layer) {
        matVec(layer.router(), xb, routerLogits);
        Routing r = Routing.topK(routerLogits, c.expertsPerToken());
        Arrays.fill(moeOut, 0);
        for (int i = 0; i < r.experts().length; i++) {
            int e = r.experts()[i];
            float w = r.weights()[i];
            ffn(layer.experts().get(e), downT[l][e], fc2T == null ? null : fc2T[l][e], ffnOut);
            for (int j = 0; j < moeOut.length; j++) {
                moeOut[j] += w * ffnOut[j];
            }
        }
    }

    /** One FFN of the normed input {@code xb} (and the residual, for a predictor) into {@code out}. */
    private void ffn(RuntimeModel.Ffn f, Matrix neuronMajor, Matrix fc2t, float[] out) {
        int inter = c.intermediateSize();
        neuronsTotal += inter;
        if (mode == Mode.DENSE && f.down() != null) { // a row-major down projection: whole mat-vecs
            Matrix gateM = f.gate();
            Matrix upM = f.up();
            RowKernels.Input in = input(xb, gateM);
            RowKernels.Input inUp = input(xb, upM, gateM, in);
            // one pass: each part its neurons' gate and up rows, and their activation
            parallel.forRange(inter, rowGrain(upM), 1, (from, to) -> {
                k.dots(gateM, null, from, to, in, gate);
                k.dots(upM, null, from, to, inUp, up);
                for (int i = from; i < to; i++) {
                    h[i] = act.apply(gate[i], up[i]);
                }
            });
            bytesRead += gateM.bytes() + upM.bytes();
            neuronsComputed += inter;
            gateRows += inter;
            upRows += inter;
            matVec(f.down(), h, out);
            return;
        }
        if (mode == Mode.PREDICTED) {
            RuntimeModel.Predictor pr = f.predictor();
            matVec(pr.fc1(), residual, rank);
            int positive = 0; // relu: the rank entries above zero, the only ones fc2 sees
            for (int i = 0; i < rank.length; i++) {
                if (rank[i] > 0) {
                    active[positive++] = i;
                }
            }
            Arrays.fill(score, 0);
            int count = positive;
            parallel.forRange(inter, columnGrain(fc2t, count, 64), 16,
                    (from, to) -> k.axpys(fc2t, active, count, rank, score, from, to));
            bytesRead += (long) positive * fc2t.rowBytes();
        }
        blocks(f.gate(), f.up(), neuronMajor, out);
    }

    /**
     * The FFN over a neuron-major down projection, a block of neurons at a time ({@link #blockSize}): each block reads
     * its gate rows (all of them, or in predicted mode the chosen neurons'), the up rows of the neurons its mode keeps
     * (all in dense mode; otherwise those whose relu(gate) is positive, in predicted mode among the chosen ones: the
     * others' activation is zero whatever up gives), and the down rows of those whose activation is
     * not zero (in dense mode, all of them), added into the block's own partial output. The partials are then
     * summed in block order. A thread so reads whole rows, near each other, in one pass, where a column slice of the
     * down projection read a piece of every active row. Blocks have a fixed size, so the result does not depend on
     * the number of threads; and exact equals dense bit for bit, as the zero rows dense adds change no bit of a
     * block's sum ({@link RowKernels#axpys}).
     */
    private void blocks(Matrix gateM, Matrix upM, Matrix downT, float[] out) {
        int inter = c.intermediateSize();
        int hidden = c.hiddenSize();
        int size = blockSize();
        int blocks = (inter + size - 1) / size;
        RowKernels.Input inGate = input(xb, gateM);
        RowKernels.Input inUp = input(xb, upM, gateM, inGate);
        parallel.forRange(blocks, 1, 1, (bFrom, bTo) -> {
            for (int b = bFrom; b < bTo; b++) {
                int lo = b * size;
                int hi = Math.min(inter, lo + size);
                int[] list = blockRows[b];
                int n = 0;
                switch (mode) {
                    case DENSE -> {
                        k.dots(gateM, null, lo, hi, inGate, gate);
                        k.dots(upM, null, lo, hi, inUp, up);
                        n = hi - lo;
                    }
                    case EXACT -> {
                        k.dots(gateM, null, lo, hi, inGate, gate);
                        for (int i = lo; i < hi; i++) {
                            if (gate[i] > 0) {
                                list[n++] = i;
                            }
                        }
                        k.dots(upM, list, 0, n, inUp, up);
                    }
                    case PREDICTED -> { // the chosen neurons' gate rows, then up rows as exact does, of those positive
                        int chosen = 0;
                        for (int i = lo; i < hi; i++) {
                            if (score[i] >= threshold) {
                                list[chosen++] = i;
                            }
                        }
                        k.dots(gateM, list, 0, chosen, inGate, gate);
                        for (int j = 0; j < chosen; j++) {
                            if (gate[list[j]] > 0) {
                                list[n++] = list[j];
                            }
                        }
                        k.dots(upM, list, 0, n, inUp, up);
                        blockGates[b] = chosen;
                    }
                }
                // the down rows to add, in the block's own order: dense reads every one, the others those not zero
                int kept = 0;
                if (mode == Mode.DENSE) {
                    for (int i = lo; i < hi; i++) {
                        h[i] = act.apply(gate[i], up[i]);
                    }
                    System.arraycopy(blockOrder[b], 0, list, 0, n);
                    kept = n;
                } else { // the neurons not read are zero
                    Arrays.fill(h, lo, hi, 0f);
                    for (int j = 0; j < n; j++) {
                        int i = list[j];
                        h[i] = act.apply(gate[i], up[i]);
                    }
                    for (int i : blockOrder[b]) {
                        if (h[i] != 0) {
                            list[kept++] = i;
                        }
                    }
                }
                blockRead[b] = n;
                blockKept[b] = kept;
                float[] y = partials[b];
                Arrays.fill(y, 0);
                if (mode == Mode.DENSE) { // four streams a quarter of the block apart (quarterOrder)
                    k.axpys(downT, list, kept, h, y, 0, hidden);
                } else {
                    k.axpysScattered(downT, list, kept, h, y, 0, hidden);
                }
            }
        });
        Arrays.fill(out, 0);
        long gates = 0;
        long read = 0;
        long kept = 0;
        for (int b = 0; b < blocks; b++) {
            float[] y = partials[b];
            for (int j = 0; j < hidden; j++) {
                out[j] += y[j];
            }
            gates += blockGates[b];
            read += blockRead[b];
            kept += blockKept[b];
        }
        bytesRead += (mode == Mode.PREDICTED ? gates * gateM.rowBytes() : gateM.bytes()) + read * upM.rowBytes()
                + kept * downT.rowBytes();
        neuronsComputed += kept;
        gateRows += mode == Mode.PREDICTED ? gates : inter;
        upRows += read;
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    /**
     * The least weight bytes a thread's part of a mat-vec or down projection gets: smaller work runs on fewer threads.
     * A hand-off costs about a microsecond, and a thread reads 64 KiB in about two.
     */
    private static final long MIN_PART_BYTES = 64 * 1024;

    /** Neurons per block of the FFN over a neuron-major down projection ({@link #blocks}), in dense and exact mode. */
    private static final int FFN_BLOCK = 256;

    /**
     * Neurons per FFN block: {@link #FFN_BLOCK} in dense and exact mode. Predicted mode reads only its chosen
     * neurons' rows of a block (an eighth of them at 90% zeros), and a block costs a partial output of its own: with
     * 256-neuron blocks the 1.0 B benchmark model (7,168 neurons) decoded 3-7% slower than with one list of neurons
     * and column slices of the down projection. Its blocks are a sixteenth of the neurons, from 256 to 1,024, which
     * leaves a small model (the demo's 2,048) blocks enough for the threads to share.
     */
    private int blockSize() {
        return mode == Mode.PREDICTED
                ? Math.clamp(c.intermediateSize() / 16, FFN_BLOCK, 4 * FFN_BLOCK)
                : FFN_BLOCK;
    }

    /**
     * The neurons [lo, hi) in the order a block lists them: the first of each quarter of the block, then the second of
     * each, and so on (then the few past the last whole quarter). {@link RowKernels#axpys} adds four listed rows at a
     * time, so in dense mode it reads four streams a quarter of the block apart, which this machine reads faster than
     * four neighbouring rows ({@link dev.turbosparse.runtime.cpu.VectorKernels}). The order depends on the neurons
     * alone, never on which are active, so exact still adds its rows in dense's order and equals it bit for bit.
     */
    static int[] quarterOrder(int lo, int hi) {
        int q = (hi - lo) / 4;
        int[] order = new int[hi - lo];
        int n = 0;
        for (int t = 0; t < q; t++) {
            for (int s = 0; s < 4; s++) {
                order[n++] = lo + s * q + t;
            }
        }
        for (int i = lo + 4 * q; i < hi; i++) {
            order[n++] = i;
        }
        return order;
    }

    /** Rows per part of a mat-vec: at least 16, and at least {@link #MIN_PART_BYTES} of weights. */
    private static int rowGrain(Matrix m) {
        return (int) Math.max(16, (MIN_PART_BYTES + m.rowBytes() - 1) / m.rowBytes());
    }

    /**
     * Columns per part of {@code n} rows added up in column slices: at least {@code least}, at least
     * {@link #MIN_PART_BYTES} of weights, and at least a quarter of a thread's share of the columns. Each part reads
     * a piece of every row, so narrow parts read short scattered pieces: the last chunks of a call stay this wide.
     */
    private int columnGrain(Matrix m, int n, int least) {
        long perColumn = Math.max(1, n * m.rowBytes() / m.cols());
        long share = m.cols() / (4L * parallel.threads());
        long bytes = (MIN_PART_BYTES + perColumn - 1) / perColumn;
        return (int) Math.min(Integer.MAX_VALUE, Math.max(Math.max(least, share), bytes));
    }

    /** {@code in} prepared for dots over {@code m}'s rows. */
    private RowKernels.Input input(float[] in, Matrix m) {
        return k.prepare(in, (int) m.cols(), m.type());
    }

    /** {@code in} prepared for {@code m}: {@code shared}, prepared for {@code other}, when the two rows are alike. */
    private RowKernels.Input input(float[] in, Matrix m, Matrix other, RowKernels.Input shared) {
        return m.type() == other.type() && m.cols() == other.cols() ? shared : input(in, m);
    }

    private void matVec(Matrix m, float[] in, float[] out) {
        int n = (int) m.rows();
        RowKernels.Input prepared = input(in, m);
        parallel.forRange(n, rowGrain(m), 1, (from, to) -> k.dots(m, null, from, to, prepared, out));
        bytesRead += m.bytes();
    }

    /**
     * Three mat-vecs of one input (attention's q, k and v) as one range of rows, {@code a}'s first: one hand-off
     * where there were three. Matrices of different types or widths go one by one.
     */
    private void matVecs(Matrix a, float[] outA, Matrix b, float[] outB, Matrix c3, float[] outC, float[] in) {
        if (a.type() != b.type() || a.type() != c3.type() || a.cols() != b.cols() || a.cols() != c3.cols()) {
            matVec(a, in, outA);
            matVec(b, in, outB);
            matVec(c3, in, outC);
            return;
        }
        RowKernels.Input prepared = input(in, a);
        int ra = (int) a.rows();
        int rab = ra + (int) b.rows();
        int n = rab + (int) c3.rows();
        parallel.forRange(n, rowGrain(a), 1, (from, to) -> {
            if (from < ra) {
                k.dots(a, null, from, Math.min(to, ra), prepared, outA);
            }
            if (to > ra && from < rab) { // b's rows are ra.. in the range
                k.dots(b, null, Math.max(from, ra) - ra, Math.min(to, rab) - ra, prepared, outB);
            }
            if (to > rab) {
                k.dots(c3, null, Math.max(from, rab) - rab, to - rab, prepared, outC);
            }
        });
        bytesRead += a.bytes() + b.bytes() + c3.bytes();
    }

    /** HF's MistralRMSNorm in float32: x · rsqrt(mean(x²) + eps) · weight. */
    private void rmsNorm(float[] in, float[] weight, float[] out) {
        float ss = 0;
        for (float v : in) {
            ss += v * v;
        }
        float inv = (float) (1.0 / Math.sqrt(ss / in.length + (float) c.rmsNormEps()));
        for (int i = 0; i < in.length; i++) {
            out[i] = weight[i] * (in[i] * inv);
        }
    }

    private static void add(float[] into, float[] v) {
        for (int i = 0; i < into.length; i++) {
            into[i] += v[i];
        }
    }

    /** The logits of every position of a token sequence, from position 0 (the decoder is reset first). */
    public float[][] logits(int[] tokens) {
        reset();
        List<float[]> rows = new ArrayList<>();
        for (int t : tokens) {
            rows.add(forward(t).clone());
        }
        return rows.toArray(float[][]::new);
    }

    @Override
    public void close() {
        parallel.close();
        transposed.close();
    }
}

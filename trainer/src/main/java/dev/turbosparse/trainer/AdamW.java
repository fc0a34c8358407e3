package dev.turbosparse.trainer;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (Loshchilov and Hutter), as torch.optim.AdamW computes it: {@code m = b1 m + (1 - b1) g},
 * {@code v = b2 v + (1 - b2) g^2}, {@code p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)}, and a decoupled
 * weight decay {@code p -= lr * wd * p} on every weight except the norms' (DJL's {@code Parameter.Type.GAMMA}).
 *
 * <p>Its moments are arrays the trainer saves with each checkpoint, so that a resumed run steps exactly as an
 * uninterrupted one. Updates are made in place on detached views, outside autograd.
 */
public final class AdamW implements AutoCloseable {

    private final List<String> names;
    private final List<Parameter> params;
    private final boolean[] decay;
    private final NDManager manager;
    private final NDArray[] m;
    private final NDArray[] v;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private long step;

    /** Suffixes of the moments' names in {@link #state()}, as torch.optim.AdamW names them. */
    public static final String EXP_AVG = ".exp_avg";
    public static final String EXP_AVG_SQ = ".exp_avg_sq";

    /**
     * @param params the model's parameters by name (their arrays must be set)
     */
    public AdamW(Map<String, Parameter> params, double beta1, double beta2, double eps, double weightDecay) {
        this.names = new ArrayList<>(params.keySet());
        this.params = new ArrayList<>(params.values());
        this.decay = new boolean[this.params.size()];
        NDArray first = this.params.getFirst().getArray();
        this.manager = first.getManager().newSubManager();
        this.m = new NDArray[this.params.size()];
        this.v = new NDArray[this.params.size()];
        for (int i = 0; i < this.params.size(); i++) {
            Parameter p = this.params.get(i);
            decay[i] = p.getType() != Parameter.Type.GAMMA;
            m[i] = manager.zeros(p.getArray().getShape(), p.getArray().getDataType(), p.getArray().getDevice());
            v[i] = manager.zeros(p.getArray().getShape(), p.getArray().getDataType(), p.getArray().getDevice());
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    /** Steps taken so far. */
    public long steps() {
        return step;
    }

    /** Whether a parameter gets weight decay (all but the norms). */
    public boolean decays(String name) {
        return decay[names.indexOf(name)];
    }

    /**
     * One update with the gradients now in the parameters, then clears them.
     *
     * @param scale multiplies every gradient first (the clipping factor)
     */
    public void step(double lr, double scale) {
        step++;
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < params.size(); i++) {
            NDArray w = params.get(i).getArray();
            // Every new array joins tmp: an op's result belongs to its first operand's manager, here the model's.
            try (NDManager tmp = manager.newSubManager(w.getDevice()); NDArray g = w.getGradient()) {
                NDArray grad = scale == 1.0 ? g : in(tmp, g.mul(scale));
                m[i].muli(beta1).addi(in(tmp, grad.mul(1 - beta1)));
                v[i].muli(beta2).addi(in(tmp, in(tmp, grad.square()).muli(1 - beta2)));
                NDArray denom = in(tmp, in(tmp, v[i].div(bc2)).sqrt()).addi(eps);
                NDArray update = in(tmp, m[i].div(bc1)).divi(denom).muli(lr);
                try (NDArray detached = w.stopGradient()) { // the same storage, outside autograd
                    if (decay[i] && weightDecay > 0) {
                        detached.muli(1 - lr * weightDecay);
                    }
                    detached.subi(update);
                }
                Gradients.clear(w);
            }
        }
    }

    private static NDArray in(NDManager tmp, NDArray a) {
        a.attach(tmp);
        return a;
    }

    /** The moments by parameter name, for a checkpoint: {@code name.exp_avg} and {@code name.exp_avg_sq}. */
    public Map<String, NDArray> state() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            out.put(names.get(i) + EXP_AVG, m[i]);
            out.put(names.get(i) + EXP_AVG_SQ, v[i]);
        }
        return out;
    }

    /** Writes the float32 values of one saved moment into its destination storage. */
    @FunctionalInterface
    public interface MomentSource {
        void fill(String name, MemorySegment float32);
    }

    /**
     * Restores the moments of a checkpoint, each read straight into its (torch-owned) storage, and the step count
     * the bias corrections continue from.
     */
    public void restore(long steps, MomentSource source) {
        for (Map.Entry<String, NDArray> e : state().entrySet()) {
            NDArray target = e.getValue();
            if (target.getDevice().equals(Device.cpu())) {
                source.fill(e.getKey(), MemorySegment.ofBuffer(target.toByteBuffer(true))); // the tensor's own memory
            } else {
                ByteBuffer host = ByteBuffer.allocateDirect(Math.toIntExact(target.size() * 4)).order(ByteOrder.nativeOrder());
                source.fill(e.getKey(), MemorySegment.ofBuffer(host));
                target.set(host); // copied to the device
            }
        }
        this.step = steps;
    }

    @Override
    public void close() {
        manager.close();
    }
}

package dev.turbosparse.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;

import dev.turbosparse.activations.TorchTensors;

import dev.turbosparse.model.nn.CausalLM;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/**
 * Data parallelism over the devices of one node, the way DJL's multi-device training does it: a replica of every
 * weight on each device, each replica runs forward and backward on its own rows of the batch in its own thread, the
 * gradients are summed onto the main device (the model's own arrays), the optimizer steps there, and the new
 * weights are copied back to the replicas. One device means no replica and no thread: the model's arrays are used
 * as they are.
 *
 * <p>The model blocks ask a {@link ParameterStore} for their weights; each replica is one, so model code knows
 * nothing of devices.
 */
final class DataParallel implements AutoCloseable {

    private final CausalLM model;
    private final List<Device> devices;
    private final List<Replica> replicas = new ArrayList<>();
    private final NDManager replicaManager;
    private final ExecutorService pool;

    /**
     * @param devices the training devices; the first holds the model
     * @param copyOnMainDevice make replicas even on the main device (tests run two replicas on one CPU)
     */
    DataParallel(CausalLM model, List<Device> devices, boolean copyOnMainDevice) {
        this.model = model;
        this.devices = List.copyOf(devices);
        model.setTrainable(true);
        this.replicaManager = model.manager().newSubManager();
        for (int k = 0; k < devices.size(); k++) {
            Device d = devices.get(k);
            if (k == 0 && !(copyOnMainDevice && devices.size() > 1)) {
                replicas.add(new Replica(replicaManager, null));
                continue;
            }
            Map<String, NDArray> arrays = new HashMap<>();
            for (Parameter p : model.parametersByName().values()) {
                NDArray copy;
                try (NDArray detached = p.getArray().stopGradient()) {
                    copy = detached.toDevice(d, true); // a leaf of its own (even on the same device), not a view
                }
                copy.attach(replicaManager);
                copy.setRequiresGradient(true);
                arrays.put(p.getId(), copy);
            }
            replicas.add(new Replica(replicaManager, arrays));
        }
        if (replicas.getFirst().arrays != null) {
            defineGradients(model);
        }
        this.pool = devices.size() > 1 ? Executors.newFixedThreadPool(devices.size(), r -> {
            Thread t = new Thread(r, "replica");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    /**
     * Gives every weight of the model a (zero) gradient tensor. Torch creates one at a weight's first backward pass;
     * when only replicas run backward, the model's weights need one to sum the replicas' gradients into.
     */
    private static void defineGradients(CausalLM model) {
        try (NDManager tmp = model.manager().newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            for (Parameter p : model.parametersByName().values()) {
                NDArray w = p.getArray();
                NDArray zero = w.sum(); // ()
                zero.attach(tmp);
                gc.backward(zero.mul(TorchTensors.scalar(zero, 0)));
            }
        }
    }

    int size() {
        return devices.size();
    }

    Device device(int k) {
        return devices.get(k);
    }

    /** Where replica {@code k}'s blocks find their weights. */
    ParameterStore store(int k) {
        return replicas.get(k);
    }

    /** Runs {@code work} for every replica, each in its own thread when there are several; results in order. */
    <T> List<T> run(IntFunction<T> work) {
        if (pool == null) {
            List<T> one = new ArrayList<>(1);
            one.add(work.apply(0));
            return one;
        }
        List<Future<T>> futures = new ArrayList<>();
        for (int k = 0; k < devices.size(); k++) {
            int replica = k;
            futures.add(pool.submit(() -> work.apply(replica)));
        }
        List<T> out = new ArrayList<>();
        for (Future<T> f : futures) {
            try {
                out.add(f.get());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RuntimeException re) {
                    throw re;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        return out;
    }

    /** Adds the replicas' gradients into the model's own, and clears them. */
    void reduceGradients() {
        for (Replica r : replicas) {
            if (r.arrays == null) {
                continue;
            }
            for (Parameter p : model.parametersByName().values()) {
                NDArray main = p.getArray();
                NDArray replica = r.arrays.get(p.getId());
                try (NDArray total = main.getGradient(); NDArray g = replica.getGradient();
                        NDArray moved = g.toDevice(main.getDevice(), true)) {
                    total.addi(moved);
                }
                Gradients.clear(replica);
            }
        }
    }

    /** Clears the replicas' gradients (a skipped step). */
    void clearReplicaGradients() {
        for (Replica r : replicas) {
            if (r.arrays != null) {
                for (NDArray a : r.arrays.values()) {
                    Gradients.clear(a);
                }
            }
        }
    }

    /** Copies the model's weights into every replica, after an optimizer step. */
    void broadcast() {
        for (int k = 0; k < replicas.size(); k++) {
            Replica r = replicas.get(k);
            if (r.arrays == null) {
                continue;
            }
            for (Parameter p : model.parametersByName().values()) {
                NDArray replica = r.arrays.get(p.getId());
                NDArray fresh;
                try (NDArray main = p.getArray().stopGradient()) {
                    fresh = main.toDevice(devices.get(k), true); // a new leaf with the updated weights
                }
                replica.intern(fresh); // the replica now holds it (and frees its old tensor): no copy through indexing
                replica.setRequiresGradient(true);
            }
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
        replicaManager.close();
    }

    /** One device's weights: the model's own (null map) or copies. */
    private static final class Replica extends ParameterStore {
        final Map<String, NDArray> arrays;

        Replica(NDManager manager, Map<String, NDArray> arrays) {
            super(manager, false);
            this.arrays = arrays;
        }

        @Override
        public NDArray getValue(Parameter parameter, Device device, boolean training) {
            return arrays == null ? parameter.getArray() : arrays.get(parameter.getId());
        }
    }
}

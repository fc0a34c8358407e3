package dev.turbosparse.activations;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The activation of a gated feed-forward block, chosen by name.
 *
 * <p>Every variant computes the FFN intermediate activation {@code h} from the two projections
 * {@code gate = gate_proj(x)} and {@code up = up_proj(x)}; the block's output is {@code down_proj(h)}.
 *
 * <pre>
 *   silu               SwiGLU   h = silu(gate) * up                 (Mistral, Mixtral)
 *   gelu               GeGLU    h = gelu(gate) * up                 (erf form)
 *   gelu_pytorch_tanh  GeGLU    h = gelu_tanh(gate) * up            (tanh approximation, as in Gemma)
 *   relu               ReGLU    h = relu(gate) * up
 *   drelu              dReLU    h = relu(gate) * relu(up)           (Turbo Sparse, Song et al. 2024)
 * </pre>
 *
 * <p>The names are Hugging Face's {@code hidden_act} values, plus {@code drelu}. A dReLU checkpoint keeps
 * {@code "hidden_act": "relu"} as the published TurboSparse checkpoints do and adds {@code "ffn_activation":
 * "drelu"}; {@link #hiddenAct()} gives the value to write into {@code hidden_act}.
 *
 * <p>Each variant exists twice: as a DJL {@link NDArray} op (differentiable, for training and the DJL engine) and as
 * a scalar float op (the reference the runtime's kernels are tested against).
 */
public enum FfnActivation {
    SILU("silu", "SwiGLU", "silu"),
    GELU("gelu", "GeGLU", "gelu"),
    GELU_PYTORCH_TANH("gelu_pytorch_tanh", "GeGLU", "gelu_pytorch_tanh"),
    RELU("relu", "ReGLU", "relu"),
    DRELU("drelu", "dReLU", "relu");

    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_TANH_CUBIC = 0.044715f;

    private final String configName;
    private final String paperName;
    private final String hiddenAct;

    FfnActivation(String configName, String paperName, String hiddenAct) {
        this.configName = configName;
        this.paperName = paperName;
        this.hiddenAct = hiddenAct;
    }

    /** The name used in configs and recipes, e.g. {@code drelu}. */
    public String configName() {
        return configName;
    }

    /** The name of the gated FFN in the literature, e.g. {@code SwiGLU}. */
    public String paperName() {
        return paperName;
    }

    /** The value Hugging Face's {@code hidden_act} holds for this activation ({@code relu} for dReLU). */
    public String hiddenAct() {
        return hiddenAct;
    }

    /**
     * Whether {@code relu(gate) == 0} forces {@code h == 0}: true for ReGLU and dReLU. A sparse FFN may then compute
     * the gate projection first and skip the up and down rows of every neuron whose gate is not positive, with a
     * result identical to the dense one.
     */
    public boolean zeroGateMeansZeroOutput() {
        return this == RELU || this == DRELU;
    }

    /**
     * The activation for a name, as written in {@code hidden_act}, {@code ffn_activation} or a recipe. {@code swish}
     * is accepted for {@code silu} and {@code gelu_new} for {@code gelu_pytorch_tanh}, as in Hugging Face.
     *
     * @throws IllegalArgumentException naming the valid choices
     */
    public static FfnActivation byName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("no activation name given; expected one of " + names());
        }
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "silu", "swish" -> SILU;
            case "gelu" -> GELU;
            case "gelu_pytorch_tanh", "gelu_new" -> GELU_PYTORCH_TANH;
            case "relu" -> RELU;
            case "drelu" -> DRELU;
            default -> throw new IllegalArgumentException(
                    "unknown FFN activation '" + name + "'; expected one of " + names());
        };
    }

    /** The accepted names, comma separated. */
    public static String names() {
        return Arrays.stream(values()).map(FfnActivation::configName).collect(Collectors.joining(", "));
    }

    /**
     * The intermediate activation {@code h} from the gate and up projections (same shape), differentiable.
     *
     * @param gate {@code gate_proj(x)}, shape (..., intermediate)
     * @param up {@code up_proj(x)}, shape (..., intermediate)
     * @return {@code h}, shape (..., intermediate)
     */
    public NDArray apply(NDArray gate, NDArray up) {
        return switch (this) {
            case SILU -> gate.mul(Activation.sigmoid(gate)).mul(up);
            case GELU -> Activation.gelu(gate).mul(up);
            case GELU_PYTORCH_TANH -> {
                // 0.5 * g * (1 + tanh(sqrt(2/pi) * (g + 0.044715 g^3))); constants as torch-owned tensors
                NDArray cube = gate.mul(gate).mul(gate);
                NDArray inner = gate.add(cube.mul(TorchTensors.scalar(gate, GELU_TANH_CUBIC)))
                        .mul(TorchTensors.scalar(gate, SQRT_2_OVER_PI));
                NDArray onePlusTanh = inner.tanh().add(TorchTensors.scalar(gate, 1));
                yield gate.mul(TorchTensors.scalar(gate, 0.5)).mul(onePlusTanh).mul(up);
            }
            case RELU -> Activation.relu(gate).mul(up);
            case DRELU -> Activation.relu(gate).mul(Activation.relu(up));
        };
    }

    /** The scalar twin of {@link #apply(NDArray, NDArray)} for one neuron. */
    public float apply(float gate, float up) {
        return switch (this) {
            case SILU -> silu(gate) * up;
            case GELU -> gelu(gate) * up;
            case GELU_PYTORCH_TANH -> geluTanh(gate) * up;
            case RELU -> relu(gate) * up;
            case DRELU -> relu(gate) * relu(up);
        };
    }

    /**
     * The scalar op over arrays: {@code out[i] = h(gate[i], up[i])} for {@code i < n}. {@code out} may be
     * {@code gate} or {@code up}.
     */
    public void apply(float[] gate, float[] up, float[] out, int n) {
        if (gate.length < n || up.length < n || out.length < n) {
            throw new IllegalArgumentException("arrays shorter than n=" + n + ": gate " + gate.length + ", up "
                    + up.length + ", out " + out.length);
        }
        for (int i = 0; i < n; i++) {
            out[i] = apply(gate[i], up[i]);
        }
    }

    static float relu(float x) {
        return x > 0f ? x : 0f;
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    static float gelu(float x) {
        return (float) (0.5 * x * (1.0 + erf(x / Math.sqrt(2.0))));
    }

    static float geluTanh(float x) {
        double inner = SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * (double) x * x * x);
        return (float) (0.5 * x * (1.0 + Math.tanh(inner)));
    }

    /**
     * The error function, to about 1.2e-7 relative error on erfc (Chebyshev fit of Press et al., Numerical Recipes
     * §6.2), ample for float32. Java's Math has no erf.
     */
    static double erf(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? 1.0 - erfc : erfc - 1.0;
    }
}

package dev.turbosparse.model.safetensors;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The element types of the safetensors format, with the conversions this project needs. Weights are F32, F16 or
 * BF16; reference data also uses I64. BF16 is converted here in Java because DJL 0.36 aborts the JVM on any BF16
 * NDArray.
 */
public enum DType {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1), I16(2), U16(2), F16(2), BF16(2), I32(4), U32(4), F32(4), F64(8),
    I64(8), U64(8);

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** Whether {@link #toFloat32} can read it: F32, F16, BF16 and F64. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** The dtype named as safetensors names it ({@code "BF16"}), or null if it is not one this reader knows. */
    public static DType fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** From a user's or torch's name: {@code bf16}, {@code bfloat16}, {@code float16}, {@code f32}, ... */
    public static DType parseWeightType(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "f32", "float32", "float" -> F32;
            case "f16", "float16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown weight type '" + name
                    + "'; expected one of f32, f16, bf16 (or float32, float16, bfloat16)");
        };
    }

    /** The name torch and config.json's {@code torch_dtype} use: {@code bfloat16}, {@code float16}, {@code float32}. */
    public String torchName() {
        return switch (this) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }

    public static String knownNames() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }

    /**
     * Converts {@code count} elements of this type at {@code src} into little-endian float32 at {@code dst}.
     *
     * @throws UnsupportedOperationException for non-floating-point types
     */
    public void toFloat32(MemorySegment src, MemorySegment dst, long count) {
        switch (this) {
            case F32 -> MemorySegment.copy(src, 0, dst, 0, count * 4);
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(FLOAT_LE, i, bf16ToFloat(src.getAtIndex(SHORT_LE, i)));
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(FLOAT_LE, i, Float.float16ToFloat(src.getAtIndex(SHORT_LE, i)));
                }
            }
            case F64 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(FLOAT_LE, i, (float) src.getAtIndex(DOUBLE_LE, i));
                }
            }
            default -> throw new UnsupportedOperationException(this + " is not a floating-point type");
        }
    }

    /**
     * Converts {@code count} little-endian float32 elements at {@code src} into this type at {@code dst}, rounding
     * to nearest even as torch does.
     */
    public void fromFloat32(MemorySegment src, MemorySegment dst, long count) {
        switch (this) {
            case F32 -> MemorySegment.copy(src, 0, dst, 0, count * 4);
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(SHORT_LE, i, floatToBf16(src.getAtIndex(FLOAT_LE, i)));
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(SHORT_LE, i, Float.floatToFloat16(src.getAtIndex(FLOAT_LE, i)));
                }
            }
            case F64 -> {
                for (long i = 0; i < count; i++) {
                    dst.setAtIndex(DOUBLE_LE, i, src.getAtIndex(FLOAT_LE, i));
                }
            }
            default -> throw new UnsupportedOperationException(this + " is not a floating-point type");
        }
    }

    /** bfloat16 bits to float: the upper half of a float32. Exact. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float to bfloat16 bits, rounding to nearest even (torch's rule); NaN stays a quiet NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}

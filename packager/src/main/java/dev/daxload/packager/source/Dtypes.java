package dev.daxload.packager.source;

import dev.daxload.manifest.DType;
import java.util.OptionalInt;

/**
 * Element types that daxload stores, by their safetensors names, with the size of one element in bits.
 * The list follows safetensors 0.8 (including its sub-byte and FNUZ types) so that any file the
 * reference writer can produce is accepted (the table itself is {@link DType}); GGUF block-quantized
 * types live in {@link GgmlType}.
 */
public final class Dtypes {
    private Dtypes() {
    }

    /** Bits per element of a safetensors dtype name, or empty if the name is unknown. */
    public static OptionalInt bits(String name) {
        // The manifest's DType is the one table of element types; safetensors names are its plain ones.
        try {
            DType t = DType.valueOf(name);
            return t.isQuantized() ? OptionalInt.empty() : OptionalInt.of(t.bits());
        } catch (IllegalArgumentException e) {
            return OptionalInt.empty();
        }
    }

    /** The known safetensors dtype names, for messages. */
    public static String known() {
        return String.join(" ", java.util.Arrays.stream(DType.values()).filter(t -> !t.isQuantized()).map(Enum::name).toList());
    }

    /**
     * The number of elements of {@code shape}: 1 for a scalar.
     *
     * @throws IllegalArgumentException if a dimension is negative
     * @throws ArithmeticException if the product overflows a signed 64-bit integer
     */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension " + d);
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * Bytes taken by {@code elements} elements of {@code bits} bits each.
     *
     * @throws ArithmeticException if the size overflows
     * @throws IllegalArgumentException if the elements do not end on a byte boundary (sub-byte types)
     */
    public static long byteLength(long elements, int bits) {
        long totalBits = Math.multiplyExact(elements, (long) bits);
        if (totalBits % 8 != 0) {
            throw new IllegalArgumentException(elements + " elements of " + bits + " bits do not fill whole bytes");
        }
        return totalBits / 8;
    }
}

package dev.daxload.packager.source;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * Element types that daxload stores, by their safetensors names, with the size of one element in bits.
 * The list follows safetensors 0.8 (including its sub-byte and FNUZ types) so that any file the
 * reference writer can produce is accepted; GGUF block-quantized types live in {@link GgmlType}.
 */
public final class Dtypes {
    private static final Map<String, Integer> BITS = new LinkedHashMap<>();

    static {
        bits(4, "F4");
        bits(6, "F6_E2M3", "F6_E3M2");
        bits(8, "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ");
        bits(16, "I16", "U16", "F16", "BF16");
        bits(32, "I32", "U32", "F32");
        bits(64, "I64", "U64", "F64", "C64");
    }

    private Dtypes() {
    }

    private static void bits(int n, String... names) {
        for (String name : names) {
            BITS.put(name, n);
        }
    }

    /** Bits per element of a safetensors dtype name, or empty if the name is unknown. */
    public static OptionalInt bits(String name) {
        Integer b = BITS.get(name);
        return b == null ? OptionalInt.empty() : OptionalInt.of(b);
    }

    /** The known safetensors dtype names, for messages. */
    public static String known() {
        return String.join(" ", BITS.keySet());
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

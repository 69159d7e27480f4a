package dev.daxload.manifest;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types a manifest can name: the safetensors names for plain types, and GGUF's names for its
 * block-quantized types, which are stored as raw blocks (a block of {@link #blockElements()} values
 * takes {@link #blockBytes()} bytes).
 */
public enum DType {
    F64(1, 8), F32(1, 4), F16(1, 2), BF16(1, 2),
    I64(1, 8), I32(1, 4), I16(1, 2), I8(1, 1),
    U64(1, 8), U32(1, 4), U16(1, 2), U8(1, 1),
    BOOL(1, 1), F8_E4M3(1, 1), F8_E5M2(1, 1),
    // the rest of what safetensors 0.8 writes: sub-byte floats pack several values per byte
    F8_E8M0(1, 1), F8_E4M3FNUZ(1, 1), F8_E5M2FNUZ(1, 1), F4(2, 1), F6_E2M3(4, 3), F6_E3M2(4, 3), C64(1, 8),
    // GGUF block-quantized types (ggml block sizes, in elements and bytes)
    Q4_0(32, 18), Q4_1(32, 20), Q5_0(32, 22), Q5_1(32, 24), Q8_0(32, 34), Q8_1(32, 36),
    Q2_K(256, 84), Q3_K(256, 110), Q4_K(256, 144), Q5_K(256, 176), Q6_K(256, 210), Q8_K(256, 292),
    IQ2_XXS(256, 66), IQ2_XS(256, 74), IQ3_XXS(256, 98), IQ1_S(256, 50), IQ4_NL(32, 18),
    IQ3_S(256, 110), IQ2_S(256, 82), IQ4_XS(256, 136), IQ1_M(256, 56),
    TQ1_0(256, 54), TQ2_0(256, 66), MXFP4(32, 17), NVFP4(64, 36), Q1_0(128, 18);

    private final int blockElements;
    private final int blockBytes;

    DType(int blockElements, int blockBytes) {
        this.blockElements = blockElements;
        this.blockBytes = blockBytes;
    }

    /** Values per block: 1 for plain types. */
    public int blockElements() {
        return blockElements;
    }

    /** Bytes per block: the element size for plain types. */
    public int blockBytes() {
        return blockBytes;
    }

    /**
     * PyTorch's name for this type, as libtorch's C shim spells it ({@code aoti_torch_dtype_<name>()}),
     * or empty where PyTorch has no tensor type (GGUF blocks, F4, F6, F8_E8M0). The one table both the
     * CPU views ({@code djl.Aoti}) and the CUDA specs ({@code bridge.cuda.TorchCuda}) read.
     */
    public Optional<String> torchName() {
        return Optional.ofNullable(switch (this) {
            case F64 -> "float64";
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case I64 -> "int64";
            case I32 -> "int32";
            case I16 -> "int16";
            case I8 -> "int8";
            case U64 -> "uint64";
            case U32 -> "uint32";
            case U16 -> "uint16";
            case U8 -> "uint8";
            case BOOL -> "bool";
            // safetensors' F8_E4M3 is the "fn" variant (finite, no infinities), as in PyTorch.
            case F8_E4M3 -> "float8_e4m3fn";
            case F8_E5M2 -> "float8_e5m2";
            case F8_E4M3FNUZ -> "float8_e4m3fnuz";
            case F8_E5M2FNUZ -> "float8_e5m2fnuz";
            case C64 -> "complex64";
            default -> null;
        });
    }

    /** True for GGUF's block-quantized types (stored as raw blocks, no framework dtype). */
    public boolean isQuantized() {
        return ordinal() >= Q4_0.ordinal();
    }

    /** Bits per value of a plain (not block-quantized) type: 4 for F4, 6 for F6, 16 for BF16. */
    public int bits() {
        if (isQuantized()) {
            throw new IllegalStateException(this + " is block-quantized: it has bytes per block, not bits per value");
        }
        return blockBytes * 8 / blockElements;
    }

    /**
     * Bytes that {@code elements} values take, or empty if the count is not a whole number of blocks
     * or the size overflows a long.
     */
    public Optional<Long> byteSize(long elements) {
        if (elements < 0 || elements % blockElements != 0) {
            return Optional.empty();
        }
        try {
            return Optional.of(Math.multiplyExact(elements / blockElements, (long) blockBytes));
        } catch (ArithmeticException e) {
            return Optional.empty();
        }
    }

    /** The type named {@code name} (case-insensitive), or empty. */
    public static Optional<DType> byName(String name) {
        try {
            return Optional.of(valueOf(name.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** Number of elements of {@code shape}, or -1 if a dimension is negative or the product overflows. */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                return -1;
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                return -1;
            }
        }
        return n;
    }
}

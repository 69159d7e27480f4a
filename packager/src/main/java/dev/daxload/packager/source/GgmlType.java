package dev.daxload.packager.source;

import dev.daxload.manifest.DType;

/**
 * GGML tensor types as GGUF stores them: the type id, and the {@link DType} of the same name, which holds
 * how many elements one block has and how many bytes it takes (ggml's type traits). Ids that ggml
 * retired (4, 5, 31-33, 36-38) are deliberately absent so that such files are refused instead of being
 * mis-sized. Where gguf-py's table disagrees with ggml's C structs, ggml wins because ggml is what
 * reads the file: Q8_1 is 36 bytes (two halves and 32 quants), not the 40 gguf-py 0.19 still lists.
 */
public enum GgmlType {
    F32(0),
    F16(1),
    Q4_0(2),
    Q4_1(3),
    Q5_0(6),
    Q5_1(7),
    Q8_0(8),
    Q8_1(9),
    Q2_K(10),
    Q3_K(11),
    Q4_K(12),
    Q5_K(13),
    Q6_K(14),
    Q8_K(15),
    IQ2_XXS(16),
    IQ2_XS(17),
    IQ3_XXS(18),
    IQ1_S(19),
    IQ4_NL(20),
    IQ3_S(21),
    IQ2_S(22),
    IQ4_XS(23),
    I8(24),
    I16(25),
    I32(26),
    I64(27),
    F64(28),
    IQ1_M(29),
    BF16(30),
    TQ1_0(34),
    TQ2_0(35),
    MXFP4(39),
    NVFP4(40),
    Q1_0(41);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final DType dtype;

    GgmlType(int id) {
        this.id = id;
        this.dtype = DType.valueOf(name());
    }

    /** The type with GGUF id {@code id}, or null if ggml has no such type (or retired it). */
    public static GgmlType byId(long id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[(int) id] : null;
    }

    /** The type named {@code name} (Q4_0, F32, ...), or null. */
    public static GgmlType byName(String name) {
        for (GgmlType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** The type id GGUF stores. */
    public int id() {
        return id;
    }

    /** Elements per block: 1 for plain types, 32 or 256 for quantized ones. */
    public int blockSize() {
        return dtype.blockElements();
    }

    /** Bytes per block. */
    public int typeSize() {
        return dtype.blockBytes();
    }

    /** True for types whose elements are plain numbers (no blocks). */
    public boolean isPlain() {
        return dtype.blockElements() == 1;
    }

    /**
     * The dtype name daxload records: the safetensors name for plain types (they coincide), the GGML
     * name for block-quantized ones.
     */
    public String dtypeName() {
        return name();
    }

    /**
     * Bytes taken by a tensor of this type whose innermost dimension is {@code ne0} and which has
     * {@code elements} elements in all.
     *
     * @throws IllegalArgumentException if {@code ne0} is not a whole number of blocks
     * @throws ArithmeticException on overflow
     */
    public long byteLength(long ne0, long elements) {
        if (ne0 % blockSize() != 0) {
            throw new IllegalArgumentException("innermost dimension " + ne0 + " is not a multiple of the " + name()
                    + " block size " + blockSize());
        }
        if (elements == 0) {
            return 0;
        }
        return Math.multiplyExact(elements / blockSize(), (long) typeSize());
    }
}

package dev.daxload.packager.source;

/**
 * GGML tensor types as GGUF stores them: the type id, how many elements one block holds and how many
 * bytes one block takes. Sizes follow ggml's type traits; ids that ggml retired (4, 5, 31-33, 36-38)
 * are deliberately absent so that such files are refused instead of being mis-sized.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
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
        return blockSize;
    }

    /** Bytes per block. */
    public int typeSize() {
        return typeSize;
    }

    /** True for types whose elements are plain numbers (no blocks). */
    public boolean isPlain() {
        return blockSize == 1;
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
        if (ne0 % blockSize != 0) {
            throw new IllegalArgumentException("innermost dimension " + ne0 + " is not a multiple of the " + name()
                    + " block size " + blockSize);
        }
        if (elements == 0) {
            return 0;
        }
        return Math.multiplyExact(elements / blockSize, (long) typeSize);
    }
}

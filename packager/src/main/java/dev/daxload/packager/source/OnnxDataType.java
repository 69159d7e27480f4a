package dev.daxload.packager.source;

/**
 * The ONNX tensor element types daxload takes, with the safetensors dtype name each becomes and the
 * typed {@code TensorProto} field ONNX stores it in when it does not use {@code raw_data}.
 */
enum OnnxDataType {
    FLOAT(1, "F32", 4, TypedField.FLOAT_DATA, 0, 0),
    UINT8(2, "U8", 1, TypedField.INT32_DATA, 0, 0xFF),
    INT8(3, "I8", 1, TypedField.INT32_DATA, Byte.MIN_VALUE, Byte.MAX_VALUE),
    UINT16(4, "U16", 2, TypedField.INT32_DATA, 0, 0xFFFF),
    INT16(5, "I16", 2, TypedField.INT32_DATA, Short.MIN_VALUE, Short.MAX_VALUE),
    INT32(6, "I32", 4, TypedField.INT32_DATA, Integer.MIN_VALUE, Integer.MAX_VALUE),
    INT64(7, "I64", 8, TypedField.INT64_DATA, 0, 0),
    BOOL(9, "BOOL", 1, TypedField.INT32_DATA, 0, 1),
    // The 16- and 8-bit floats sit in int32_data as their bit patterns, zero-extended (ONNX IR spec).
    FLOAT16(10, "F16", 2, TypedField.INT32_DATA, 0, 0xFFFF),
    DOUBLE(11, "F64", 8, TypedField.DOUBLE_DATA, 0, 0),
    UINT32(12, "U32", 4, TypedField.UINT64_DATA, 0, 0xFFFF_FFFFL),
    UINT64(13, "U64", 8, TypedField.UINT64_DATA, 0, 0),
    BFLOAT16(16, "BF16", 2, TypedField.INT32_DATA, 0, 0xFFFF),
    FLOAT8E4M3FN(17, "F8_E4M3", 1, TypedField.INT32_DATA, 0, 0xFF),
    FLOAT8E5M2(19, "F8_E5M2", 1, TypedField.INT32_DATA, 0, 0xFF);

    /** The repeated field of {@code TensorProto} that holds this type's values when raw_data is absent. */
    enum TypedField {
        FLOAT_DATA("float_data"), INT32_DATA("int32_data"), INT64_DATA("int64_data"),
        DOUBLE_DATA("double_data"), UINT64_DATA("uint64_data");

        final String protoName;

        TypedField(String protoName) {
            this.protoName = protoName;
        }
    }

    final int code;
    final String dtype;
    final int elementSize;
    final TypedField field;
    /** Allowed range of a value in int32_data or uint64_data (unsigned for the latter); unused otherwise. */
    final long min;
    final long max;

    OnnxDataType(int code, String dtype, int elementSize, TypedField field, long min, long max) {
        this.code = code;
        this.dtype = dtype;
        this.elementSize = elementSize;
        this.field = field;
        this.min = min;
        this.max = max;
    }

    /** The type with ONNX code {@code code}, or null when daxload does not take it. */
    static OnnxDataType of(int code) {
        for (OnnxDataType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }

    /** ONNX's name for any data_type code, for messages about the types refused. */
    static String onnxName(int code) {
        return switch (code) {
            case 0 -> "UNDEFINED";
            case 8 -> "STRING";
            case 14 -> "COMPLEX64";
            case 15 -> "COMPLEX128";
            case 18 -> "FLOAT8E4M3FNUZ";
            case 20 -> "FLOAT8E5M2FNUZ";
            case 21 -> "UINT4";
            case 22 -> "INT4";
            case 23 -> "FLOAT4E2M1";
            case 24 -> "FLOAT8E8M0";
            case 25 -> "UINT2";
            case 26 -> "INT2";
            default -> {
                OnnxDataType t = of(code);
                yield t != null ? t.name() : "unknown data_type " + code;
            }
        };
    }
}

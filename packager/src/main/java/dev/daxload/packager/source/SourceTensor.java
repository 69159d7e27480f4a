package dev.daxload.packager.source;

import dev.daxload.packager.image.FileContent;
import java.util.Arrays;

/**
 * One tensor found in a source file, not yet copied: its bytes are described by {@link #content()} and
 * move straight into the image when it is written.
 *
 * @param name the tensor's name as the source stores it
 * @param dtype safetensors dtype names (F32, BF16, I64, BOOL, ...) or, for GGUF block-quantized
 *     tensors, the GGUF type name (Q4_0, Q8_0, Q4_K, ...)
 * @param shape dimensions, outermost first (row-major); empty for a scalar
 * @param content the raw little-endian bytes, exactly as a reader of the image will see them
 */
public record SourceTensor(String name, String dtype, long[] shape, FileContent content) {
    public SourceTensor {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " (" + content.size() + " bytes)";
    }
}

package dev.daxload.manifest;

import java.util.Arrays;

/**
 * One tensor of a model as the manifest records it.
 *
 * @param name the tensor's real name (the file name may be an encoding of it)
 * @param file the tensor's file, relative to the model directory, e.g. {@code tensors/fc.weight}
 * @param dtype element type
 * @param shape dimensions, outermost first
 * @param offset absolute offset of the first byte in the image: a reader over raw memory needs no tree walk
 * @param length bytes
 * @param crc32c CRC32C of the bytes, or null if the packager did not record one
 */
public record TensorEntry(String name, String file, DType dtype, long[] shape, long offset, long length, Integer crc32c) {
    public TensorEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (the product of the shape). */
    public long elementCount() {
        return DType.elementCount(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorEntry t && name.equals(t.name) && file.equals(t.file) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && offset == t.offset && length == t.length
                && java.util.Objects.equals(crc32c, t.crc32c);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Long.hashCode(offset);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @" + offset + "+" + length;
    }
}

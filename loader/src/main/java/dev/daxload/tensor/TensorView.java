package dev.daxload.tensor;

import dev.daxload.tensor.internal.Checksums;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.DType;
import dev.daxload.manifest.TensorEntry;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A tensor of an image: name, dtype, shape and its bytes as a slice of the image's one mapping, so
 * making a view copies nothing, and a view of 100 GB costs what a view of 100 bytes costs.
 *
 * <p>The view is valid while its image is open; reading it after the image is closed throws
 * {@link IllegalStateException}.
 */
public final class TensorView {
    private final TensorEntry entry;
    private final MemorySegment data;
    private final DaxImage image;
    private final Runnable usable; // null: always usable

    /**
     * @param entry what the manifest says (already checked against the image)
     * @param data the tensor's bytes: {@code entry.length()} long
     */
    public TensorView(TensorEntry entry, MemorySegment data) {
        this(entry, data, null);
    }

    /**
     * @param entry what the manifest says (already checked against the image)
     * @param data the tensor's bytes: {@code entry.length()} long
     * @param image the image {@code data} lies in, which users of the view may {@link DaxImage#pin pin}
     */
    public TensorView(TensorEntry entry, MemorySegment data, DaxImage image) {
        this(entry, data, image, null);
    }

    /**
     * @param entry what the manifest says (already checked against the image)
     * @param data the tensor's bytes: {@code entry.length()} long
     * @param image the image {@code data} lies in, or null
     * @param usable run before every use of the bytes ({@link #segment()}, {@link #ensureUsable()}):
     *     throws once the weights this view belongs to may not be used (a failed checksum check)
     */
    public TensorView(TensorEntry entry, MemorySegment data, DaxImage image, Runnable usable) {
        if (data.byteSize() != entry.length()) {
            throw new IllegalArgumentException("tensor '" + entry.name() + "': view of " + data.byteSize() + " bytes for " + entry.length());
        }
        this.entry = entry;
        this.data = data;
        this.image = image;
        this.usable = usable;
    }

    /**
     * Throws if the weights this view belongs to may not be used any more: for code that hands the
     * bytes to native code (an NDArray over the view checks this before each op).
     *
     * @throws IllegalStateException (a {@code CorruptWeightsException}) naming the tensor that failed its check
     */
    public void ensureUsable() {
        if (usable != null) {
            usable.run();
        }
    }

    /** The image this tensor lies in, or null for a view made over other memory. */
    public DaxImage image() {
        return image;
    }

    public String name() {
        return entry.name();
    }

    public DType dtype() {
        return entry.dtype();
    }

    public long[] shape() {
        return entry.shape();
    }

    /**
     * The tensor's bytes, little-endian, in place in the image.
     *
     * @throws IllegalStateException if the weights failed a checksum check ({@link #ensureUsable()})
     */
    public MemorySegment segment() {
        ensureUsable();
        return data;
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** What the manifest says about this tensor. */
    public TensorEntry entry() {
        return entry;
    }

    /** True if the manifest recorded a checksum for this tensor. */
    public boolean hasChecksum() {
        return entry.crc32c() != null;
    }

    /**
     * Recomputes the CRC32C of the bytes and compares it with the manifest's. Safe against the image
     * being closed on another thread (the check stops with {@link IllegalStateException}, and the
     * image's close waits for it) and against the image file being truncated while mapped (a
     * {@link ChecksumException} saying so, not a crash): see {@link Checksums}.
     *
     * @throws ChecksumException if they differ, or the bytes cannot be read any more
     * @throws IllegalStateException if the image is closed, or closes during the check
     */
    public void verify() throws ChecksumException {
        if (entry.crc32c() == null) {
            return;
        }
        int actual;
        try (DaxImage.Reader reader = image == null ? null : image.beginRead()) {
            actual = Checksums.crc32c(data, reader, image != null && image.isFixedSize());
        } catch (Checksums.MemoryFaultException e) {
            throw new ChecksumException(String.format("tensor '%s' at offset %d: %s", name(), entry.offset(), e.getMessage()), e);
        }
        if (actual != entry.crc32c()) {
            throw new ChecksumException(String.format("tensor '%s' at offset %d: CRC32C is %08x, the manifest says %08x",
                    name(), entry.offset(), actual, entry.crc32c()));
        }
    }

    /** CRC32C of a segment of any size, through {@link Checksums} (a truncated file is an exception, not a crash). */
    public static int crc32c(MemorySegment seg) {
        try {
            return Checksums.crc32c(seg, null);
        } catch (Checksums.MemoryFaultException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return name() + " " + dtype() + Arrays.toString(shape()) + " @0x" + Long.toHexString(data.address());
    }

    /** A tensor's bytes do not match the checksum its manifest recorded. */
    public static final class ChecksumException extends IOException {
        private static final long serialVersionUID = 1L;

        public ChecksumException(String message) {
            super(message);
        }

        public ChecksumException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}

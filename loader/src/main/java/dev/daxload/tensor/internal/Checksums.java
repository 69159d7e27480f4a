package dev.daxload.tensor.internal;

import dev.daxload.image.DaxImage;
import java.lang.foreign.MemorySegment;
import java.util.zip.CRC32C;

/**
 * CRC32C over mapped memory that may vanish under the reader.
 *
 * <p>A mapped file that another process truncates raises SIGBUS on the next read of a lost page. The
 * JVM turns that into an {@link InternalError} for its own guarded copies ({@link MemorySegment#copy})
 * but not for the CRC32C intrinsic, which reads the mapping directly and kills the JVM. So the bytes
 * pass through a small heap buffer, copied with the guarded copy: a truncated image is an exception
 * here, never a crash. Measured on this project's build machines, the copy costs about half of the
 * direct CRC32C's throughput (see docs/benchmarks.md, "Checksums over a guarded copy").
 */
public final class Checksums {
    /** Per chunk: small enough to stay in L2 and to stop within microseconds once an image closes. */
    static final int CHUNK = 256 << 10;

    private Checksums() {}

    /** The memory under a read was lost: the file was truncated (or its device failed) while mapped. */
    public static final class MemoryFaultException extends java.io.IOException {
        private static final long serialVersionUID = 1L;

        MemoryFaultException(long offset, Throwable cause) {
            super("the mapped bytes at +" + offset + " cannot be read (" + cause.getMessage()
                    + "): the image file was truncated or rewritten while mapped", cause);
        }
    }

    /**
     * CRC32C of {@code seg}, of any size.
     *
     * @param reader if not null, polled between chunks: the pass stops with {@link IllegalStateException}
     *     once the image is closing
     * @throws MemoryFaultException if part of the memory cannot be read any more
     */
    public static int crc32c(MemorySegment seg, DaxImage.Reader reader) throws MemoryFaultException {
        return crc32c(seg, reader, false);
    }

    /**
     * CRC32C of {@code seg}; with {@code fixedSize} (memory that cannot lose pages: a device, a sealed
     * memfd) the bytes are read directly, without the guarded copy.
     */
    public static int crc32c(MemorySegment seg, DaxImage.Reader reader, boolean fixedSize) throws MemoryFaultException {
        CRC32C crc = new CRC32C();
        long size = seg.byteSize();
        if (fixedSize) {
            final long direct = 64L << 20; // chunks: the check still stops soon after a close
            for (long off = 0; off < size; off += direct) {
                if (reader != null) {
                    reader.checkOpen();
                }
                crc.update(seg.asSlice(off, Math.min(direct, size - off)).asByteBuffer());
            }
            return (int) crc.getValue();
        }
        byte[] buf = new byte[(int) Math.min(CHUNK, size)];
        MemorySegment heap = MemorySegment.ofArray(buf);
        for (long off = 0; off < size; off += CHUNK) {
            if (reader != null) {
                reader.checkOpen();
            }
            int n = (int) Math.min(CHUNK, size - off);
            try {
                MemorySegment.copy(seg, off, heap, 0, n);
            } catch (InternalError fault) { // HotSpot's report of SIGBUS/SIGSEGV in a guarded copy
                throw new MemoryFaultException(off, fault);
            }
            crc.update(buf, 0, n);
        }
        return (int) crc.getValue();
    }
}

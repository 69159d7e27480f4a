package dev.daxload.bridge.dmabuf;

import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.io.UncheckedIOException;

/**
 * CPU access brackets for a mapped dma-buf ({@code DMA_BUF_IOCTL_SYNC}): the exporter flushes or
 * invalidates caches as needed. Use as
 * {@code try (var s = DmaBufSync.access(buf, DmaBufSync.Access.READ)) { ...read the mapping... }}.
 */
public final class DmaBufSync implements AutoCloseable {
    /** What the CPU is about to do with the buffer. */
    public enum Access {
        READ(LinuxConstants.DMA_BUF_SYNC_READ),
        WRITE(LinuxConstants.DMA_BUF_SYNC_WRITE),
        READ_WRITE(LinuxConstants.DMA_BUF_SYNC_READ | LinuxConstants.DMA_BUF_SYNC_WRITE);

        final long bits;

        Access(long bits) {
            this.bits = bits;
        }
    }

    private final NativeFd buf;
    private final Access access;
    private boolean ended;

    private DmaBufSync(NativeFd buf, Access access) {
        this.buf = buf;
        this.access = access;
    }

    /**
     * Begins CPU access ({@code DMA_BUF_SYNC_START}).
     *
     * @param buf the dma-buf
     * @param access read, write or both
     * @throws LinuxException if the ioctl fails (ENOTTY: not a dma-buf)
     */
    public static void begin(NativeFd buf, Access access) throws LinuxException {
        sync(buf, access, LinuxConstants.DMA_BUF_SYNC_START, "START");
    }

    /**
     * Ends CPU access ({@code DMA_BUF_SYNC_END}); must match a {@link #begin}.
     *
     * @param buf the dma-buf
     * @param access as given to begin
     * @throws LinuxException if the ioctl fails
     */
    public static void end(NativeFd buf, Access access) throws LinuxException {
        sync(buf, access, LinuxConstants.DMA_BUF_SYNC_END, "END");
    }

    /**
     * Begins access now and ends it on {@link #close()}.
     *
     * @param buf the dma-buf
     * @param access read, write or both
     * @return the bracket
     * @throws LinuxException if beginning fails
     */
    public static DmaBufSync access(NativeFd buf, Access access) throws LinuxException {
        begin(buf, access);
        return new DmaBufSync(buf, access);
    }

    /** Ends the access once. */
    @Override
    public void close() {
        if (ended) {
            return;
        }
        ended = true;
        try {
            end(buf, access);
        } catch (LinuxException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sync(NativeFd buf, Access access, long phase, String phaseName) throws LinuxException {
        LinuxException.check(LinuxNative.dmaBufSync(buf.fd(), phase | access.bits),
                "DMA_BUF_IOCTL_SYNC(" + buf.what() + ", " + phaseName + "|" + access + ")",
                err -> err == dev.daxload.bridge.linux.Errno.ENOTTY ? buf.what() + " is not a dma-buf" : null);
    }
}

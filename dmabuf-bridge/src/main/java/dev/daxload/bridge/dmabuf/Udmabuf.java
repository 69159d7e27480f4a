package dev.daxload.bridge.dmabuf;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.memfd.Seal;

import java.nio.file.Path;
import java.util.Set;

/**
 * A dma-buf over the pages of a memfd ({@code /dev/udmabuf}, {@code UDMABUF_CREATE}): no copy,
 * the dma-buf and the memfd share their pages. It supports kernel vmap, so a DAXFS image in host
 * memory can be mounted this way.
 *
 * <p>The kernel's rules: the memfd must carry {@link Seal#SHRINK} (the udmabuf pins its pages)
 * and not {@link Seal#WRITE}; offset and size are multiples of the page size and lie within the
 * memfd; the size is at most the module's {@code size_limit_mb} (64 MiB unless set, see
 * {@link #sizeLimit()}).
 */
public final class Udmabuf {
    /** The udmabuf device, present when the kernel has CONFIG_UDMABUF (a module in Debian). */
    public static final Path DEVICE = Path.of("/dev/udmabuf");

    private Udmabuf() {}

    /**
     * Creates a udmabuf over {@code [offset, offset+size)} of the memfd. The memfd may be closed
     * afterwards: the udmabuf keeps the pages.
     *
     * @param memfd the memfd, sealed with {@link Seal#SHRINK}
     * @param offset page-aligned offset in the memfd
     * @param size page-aligned size
     * @return the dma-buf fd (close-on-exec)
     * @throws LinuxException if the device is missing or the kernel rejects the range or the memfd
     */
    public static NativeFd create(Memfd memfd, long offset, long size) throws LinuxException {
        return create(DEVICE, memfd, offset, size);
    }

    /**
     * As {@link #create(Memfd, long, long)}, with another device path (for tests).
     *
     * @param device the udmabuf device
     * @param memfd the memfd, sealed with {@link Seal#SHRINK}
     * @param offset page-aligned offset in the memfd
     * @param size page-aligned size
     * @return the dma-buf fd
     * @throws LinuxException if the device is missing or the kernel rejects the range or the memfd
     */
    public static NativeFd create(Path device, Memfd memfd, long offset, long size) throws LinuxException {
        int rc = LinuxNative.udmabufCreate(LinuxNative.cString(device.toString()), memfd.fd().fd(), offset, size);
        LinuxException.check(rc, "UDMABUF_CREATE(" + memfd.name() + ", offset " + offset + ", size " + size + ")",
                err -> hint(err, device, memfd, offset, size));
        return NativeFd.adopt(rc, "udmabuf " + memfd.name() + " " + size);
    }

    /** Where the udmabuf module shows its per-buffer limit. */
    private static final Path SIZE_LIMIT = Path.of("/sys/module/udmabuf/parameters/size_limit_mb");

    /**
     * @return the kernel's per-buffer limit in bytes ({@code size_limit_mb}), or -1 when unknown
     */
    public static long sizeLimit() {
        try {
            return Long.parseLong(java.nio.file.Files.readString(SIZE_LIMIT).strip()) << 20;
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
    }

    private static String hint(int err, Path device, Memfd memfd, long offset, long size) {
        long page = LinuxConstants.PAGE_SIZE;
        return switch (err) {
            case Errno.ENOENT -> "no " + device + ": load the udmabuf module (modprobe udmabuf) or use --via heap";
            case Errno.EINVAL, Errno.E2BIG -> {
                // The kernel says only EINVAL; find which rule was broken, so the message can say.
                long limit = sizeLimit();
                if (limit > 0 && size > limit) {
                    yield "udmabuf limits one buffer to size_limit_mb=" + (limit >> 20) + " MiB: raise it ("
                            + "modprobe udmabuf size_limit_mb=" + ((size >> 20) + 1) + ", or udmabuf.size_limit_mb="
                            + ((size >> 20) + 1) + " on the kernel command line when built in) or use --via heap";
                }
                Set<Seal> seals;
                try {
                    seals = memfd.seals();
                } catch (LinuxException e) {
                    yield "udmabuf needs a memfd sealed with F_SEAL_SHRINK";
                }
                if (!seals.contains(Seal.SHRINK)) {
                    yield "the memfd lacks F_SEAL_SHRINK: seal it first (memfd.addSeals(Seal.SHRINK))";
                }
                if (seals.contains(Seal.WRITE)) {
                    yield "udmabuf refuses a memfd sealed with F_SEAL_WRITE";
                }
                if (offset % page != 0 || size % page != 0 || size == 0) {
                    yield "offset and size must be non-zero multiples of the page size (" + page + ")";
                }
                yield "the range [" + offset + ", " + (offset + size) + ") must lie within the memfd";
            }
            case Errno.EBADF -> "the memfd is not open";
            default -> null;
        };
    }
}

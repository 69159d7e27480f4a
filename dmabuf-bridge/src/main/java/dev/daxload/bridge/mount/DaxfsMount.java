package dev.daxload.bridge.mount;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A DAXFS image mounted at a directory: from a dma-buf (system DMA heap, or a udmabuf over a
 * memfd) or from a physical address range. {@link #close()} unmounts it, exactly once.
 *
 * <p>Static images mount read-only. {@code validate} asks the kernel to check every range and
 * name before mounting; note that the released module's nlink rule for the root rejects every
 * image under {@code validate} (see daxfs-format.md).
 */
public final class DaxfsMount implements AutoCloseable {
    /** The filesystem type name. */
    public static final String FS_TYPE = "daxfs";

    /** What to tell a user whose kernel has no daxfs filesystem. */
    public static final String MISSING = "no daxfs filesystem in this kernel (/proc/filesystems lists none): load the module first "
            + "(modprobe daxfs, or insmod daxfs.ko built from github.com/multikernel/daxfs for this kernel)";

    /**
     * Why upstream's {@code -o validate} refuses daxload's images: its nlink rules differ from
     * {@code stat}'s, which daxload keeps (docs/mounting.md).
     */
    public static final String VALIDATE_NLINK = "the daxfs module's own validate option rejects images whose directory "
            + "link counts follow stat (2 + subdirectories, the root included), which daxload writes; daxload checked this "
            + "image with every rule of the format before mounting: mount it without --validate";

    /**
     * Whether the running kernel has the daxfs filesystem (the module is loaded or built in).
     *
     * @return true when {@code /proc/filesystems} lists daxfs
     */
    public static boolean filesystemAvailable() {
        try {
            return java.nio.file.Files.readAllLines(Path.of("/proc/filesystems")).stream()
                    .anyMatch(l -> l.strip().equals(FS_TYPE) || l.endsWith("\t" + FS_TYPE));
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }

    private final Path dir;
    private final String source;
    private final AtomicBoolean mounted = new AtomicBoolean(true);

    private DaxfsMount(Path dir, String source) {
        this.dir = dir;
        this.source = source;
    }

    /**
     * Mounts the image held in a dma-buf. The dma-buf may be closed after this returns: the
     * mount holds its own reference.
     *
     * @param dmabuf the dma-buf (its exporter must support kernel vmap)
     * @param dir an existing directory
     * @param validate have the kernel check the image first
     * @return the mount
     * @throws LinuxException naming the step that failed and what to do
     */
    public static DaxfsMount mountDmaBuf(NativeFd dmabuf, Path dir, boolean validate) throws LinuxException {
        try (FsContext fc = FsContext.open(FS_TYPE)) {
            fc.setFd("dmabuf", dmabuf);
            return finish(fc, dir, validate, dmabuf.what());
        }
    }

    /**
     * Mounts the image at a physical address ({@code phys=}, {@code size=}).
     *
     * @param physAddr the physical address, not 0 (reserved memory, for example via memmap=)
     * @param size the size of the range; may exceed the image
     * @param dir an existing directory
     * @param validate have the kernel check the image first
     * @return the mount
     * @throws LinuxException naming the step that failed and what to do
     */
    public static DaxfsMount mountPhys(long physAddr, long size, Path dir, boolean validate) throws LinuxException {
        if (physAddr == 0) {
            throw new IllegalArgumentException("daxfs needs a non-zero physical address");
        }
        try (FsContext fc = FsContext.open(FS_TYPE)) {
            fc.setString("phys", "0x" + Long.toHexString(physAddr));
            fc.setString("size", Long.toString(size));
            return finish(fc, dir, validate, "phys 0x" + Long.toHexString(physAddr) + "+" + size);
        }
    }

    private static DaxfsMount finish(FsContext fc, Path dir, boolean validate, String source) throws LinuxException {
        if (validate) {
            fc.setFlag("validate");
        }
        try {
            fc.create();
        } catch (LinuxException e) {
            if (e.errno() == Errno.EINVAL && validate) {
                throw new LinuxException(e.call(), e.errno(), VALIDATE_NLINK);
            }
            if (e.errno() == Errno.EINVAL) {
                throw new LinuxException(e.call(), e.errno(), (e.hint() == null ? "" : e.hint() + "; ")
                        + "daxfs refused " + source + ": not a DAXFS v5 image, an image that fails validation, "
                        + "or a dma-buf whose exporter has no kernel vmap (NVIDIA GPU dma-bufs have none)");
            }
            throw e;
        }
        fc.mountAt(dir, true);
        return new DaxfsMount(dir, source);
    }

    /**
     * Unmounts the daxfs (or any) mount at {@code dir}.
     *
     * @param dir the mount point
     * @throws LinuxException if {@code umount2} fails
     */
    public static void unmount(Path dir) throws LinuxException {
        FsContext.unmount(dir, false);
    }

    /**
     * Unmounts {@code dir} only if it is a daxfs mount: what {@code daxload umount} does.
     *
     * @param dir the mount point
     * @throws java.io.IOException saying what is mounted there instead (or that nothing is), or
     *         a {@link LinuxException} from {@code umount2}
     */
    public static void unmountDaxfs(Path dir) throws java.io.IOException {
        java.util.Optional<String> type = fsTypeAt(dir);
        if (type.isEmpty()) {
            throw new java.io.IOException(dir + ": not a mount point (nothing to unmount)");
        }
        if (!FS_TYPE.equals(type.get())) {
            throw new java.io.IOException(dir + ": not a daxfs mount (it is " + type.get() + "); use umount(8) for that");
        }
        unmount(dir);
    }

    /**
     * The filesystem type mounted at {@code dir}, from {@code /proc/self/mountinfo} (the last
     * mount there, which is the one visible).
     *
     * @param dir a directory
     * @return the type, or empty when {@code dir} is not a mount point
     * @throws java.io.IOException if {@code dir} does not exist or mountinfo cannot be read
     */
    public static java.util.Optional<String> fsTypeAt(Path dir) throws java.io.IOException {
        String want = dir.toRealPath().toString();
        String found = null;
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            // id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE source superopts
            String[] f = line.split(" ");
            int dash = java.util.Arrays.asList(f).indexOf("-");
            if (f.length < 5 || dash < 0 || dash + 1 >= f.length) {
                continue;
            }
            if (dev.daxload.image.internal.MountedImage.unescapeMountInfo(f[4]).equals(want)) {
                found = f[dash + 1];
            }
        }
        return java.util.Optional.ofNullable(found);
    }

    /**
     * Asks a mounted image for a dma-buf of the whole image ({@code DAXFS_IOC_GET_DMABUF}).
     *
     * @param fileOnMount any file on the mount
     * @return a new dma-buf fd
     * @throws LinuxException ENOTTY when the file is not on a daxfs mount
     */
    public static NativeFd getDmaBuf(Path fileOnMount) throws LinuxException {
        int rc = LinuxNative.daxfsGetDmabuf(LinuxNative.cString(fileOnMount.toString()));
        LinuxException.check(rc, "ioctl(" + fileOnMount + ", DAXFS_IOC_GET_DMABUF)", err -> switch (err) {
            case Errno.ENOTTY -> fileOnMount + " is not on a daxfs mount";
            case Errno.ENOENT -> "no such file " + fileOnMount;
            case Errno.EOPNOTSUPP, Errno.EINVAL -> "this daxfs mount has no dma-buf to give (mounted from phys=?)";
            default -> null;
        });
        return NativeFd.adopt(rc, "dma-buf of " + fileOnMount);
    }

    /** @return the mount point */
    public Path dir() {
        return dir;
    }

    /** @return whether it is still mounted (by this object) */
    public boolean isMounted() {
        return mounted.get();
    }

    /**
     * Unmounts, once.
     *
     * @throws LinuxException if {@code umount2} fails (EBUSY: files still open); the mount stays
     *         and a later close may try again
     */
    @Override
    public void close() throws LinuxException {
        if (mounted.compareAndSet(true, false)) {
            try {
                unmount(dir);
            } catch (LinuxException e) {
                mounted.set(true);
                throw e;
            }
        }
    }

    @Override
    public String toString() {
        return "DaxfsMount[" + source + " at " + dir + (mounted.get() ? "]" : ", unmounted]");
    }
}

package dev.daxload.bridge.linux;

/**
 * Flag values read from the C headers through the binding at class-load time, so that no number
 * that a kernel header defines is typed twice.
 */
public final class LinuxConstants {
    private LinuxConstants() {}

    public static final long MFD_ALLOW_SEALING = LinuxNative.constant(0);
    public static final long F_SEAL_SEAL = LinuxNative.constant(1);
    public static final long F_SEAL_SHRINK = LinuxNative.constant(2);
    public static final long F_SEAL_GROW = LinuxNative.constant(3);
    public static final long F_SEAL_WRITE = LinuxNative.constant(4);
    public static final long PROT_READ = LinuxNative.constant(5);
    public static final long PROT_WRITE = LinuxNative.constant(6);
    public static final long MAP_SHARED = LinuxNative.constant(7);
    public static final long MAP_PRIVATE = LinuxNative.constant(8);
    public static final long MAP_POPULATE = LinuxNative.constant(9);
    public static final long DMA_BUF_SYNC_READ = LinuxNative.constant(10);
    public static final long DMA_BUF_SYNC_WRITE = LinuxNative.constant(11);
    public static final long DMA_BUF_SYNC_START = LinuxNative.constant(12);
    public static final long DMA_BUF_SYNC_END = LinuxNative.constant(13);
    public static final long FSCONFIG_SET_FLAG = LinuxNative.constant(14);
    public static final long FSCONFIG_SET_STRING = LinuxNative.constant(15);
    public static final long FSCONFIG_SET_FD = LinuxNative.constant(16);
    public static final long FSCONFIG_CMD_CREATE = LinuxNative.constant(17);
    public static final long MOUNT_ATTR_RDONLY = LinuxNative.constant(18);
    public static final long MNT_DETACH = LinuxNative.constant(19);
    public static final long O_RDONLY = LinuxNative.constant(20);
    public static final long O_RDWR = LinuxNative.constant(21);
    public static final long DAXFS_IOC_GET_DMABUF = LinuxNative.constant(22);
    public static final long MAX_FDS_PER_MESSAGE = LinuxNative.constant(23);

    /** The page size, which mmap offsets and udmabuf ranges must be multiples of. */
    public static final long PAGE_SIZE = LinuxNative.pageSize();
}

package dev.daxload.bridge.linux;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The raw JavaCPP binding of {@code daxload_linux.h}: one Java method per C function.
 *
 * <p>Every method returns a non-negative result or {@code -errno}. Nothing here throws or owns
 * anything; the friendly layer ({@link LinuxException}, {@link NativeFd} and the packages next to
 * this one) turns results into exceptions and fds into objects that are closed exactly once.
 *
 * <p>Strings that name files are passed as NUL-terminated byte arrays ({@link #cString}) rather
 * than {@code String}: JNI's string conversion is "modified UTF-8", which is not what the kernel
 * sees in a path.
 *
 * <p>The JNI library is generated and compiled by the module's Maven build (JavaCPP's
 * {@code Builder}, see the module pom) and loaded from the jar by {@link Loader}.
 */
@Platform(value = "linux-x86_64", include = "daxload_linux.h")
public final class LinuxNative {
    static {
        Loader.load();
    }

    private LinuxNative() {}

    /** Forces the native library to load (and fail early, with JavaCPP's message, if it cannot). */
    public static void load() {
        // the static initialiser did the work
    }

    /**
     * Returns {@code s} as UTF-8 bytes followed by a NUL, for the {@code const char*} parameters.
     *
     * @param s the text; must not contain NUL
     * @return the bytes, NUL-terminated
     */
    public static byte[] cString(String s) {
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a C string cannot contain NUL: " + s.replace("\0", "\\0"));
        }
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    // ---- errno ----

    /** @return the errno's symbolic name ("ENODEV"), or "" when unknown */
    @Name("daxload_errno_name") public static native String errnoName(int err);

    /** @return the errno's description ("No such device"), or "" when unknown */
    @Name("daxload_errno_text") public static native String errnoText(int err);

    /** @return the value of the constant number {@code which} (see {@code daxload_const}) */
    @Name("daxload_const") public static native long constant(int which);

    // ---- fds ----

    @Name("daxload_close") public static native int close(int fd);

    @Name("daxload_dup") public static native int dup(int fd);

    @Name("daxload_open") public static native int open(@Cast("const char*") byte[] path, int flags);

    @Name("daxload_fstat_size") public static native long fstatSize(int fd);

    @Name("daxload_pwrite") public static native long pwrite(int fd, @Cast("const void*") byte[] buf, long len, long off);

    @Name("daxload_pread") public static native long pread(int fd, @Cast("void*") byte[] buf, long len, long off);

    @Name("daxload_page_size") public static native long pageSize();

    // ---- memfd ----

    @Name("daxload_memfd_create") public static native int memfdCreate(@Cast("const char*") byte[] name, @Cast("unsigned int") int flags, long size);

    @Name("daxload_ftruncate") public static native int ftruncate(int fd, long size);

    @Name("daxload_add_seals") public static native int addSeals(int fd, int seals);

    @Name("daxload_get_seals") public static native int getSeals(int fd);

    // mmap is the loader's (dev.daxload.image.internal.Mmap.mapDescriptor): one place maps descriptors.

    // ---- dma-buf ----

    @Name("daxload_dma_heap_alloc") public static native int dmaHeapAlloc(@Cast("const char*") byte[] heapPath, long len);

    @Name("daxload_udmabuf_create") public static native int udmabufCreate(@Cast("const char*") byte[] devPath, int memfd, long offset, long size);

    @Name("daxload_dma_buf_sync") public static native int dmaBufSync(int fd, long flags);

    @Name("daxload_dma_buf_set_name") public static native int dmaBufSetName(int fd, @Cast("const char*") byte[] name);

    // ---- mount API ----

    @Name("daxload_fsopen") public static native int fsopen(@Cast("const char*") byte[] fsName);

    @Name("daxload_fsconfig") public static native int fsconfig(int fsfd, int cmd, @Cast("const char*") byte[] key, @Cast("const char*") byte[] value, int aux);

    @Name("daxload_fs_read_log") public static native int fsReadLog(int fsfd, @Cast("char*") byte[] buf, int len);

    @Name("daxload_fsmount") public static native int fsmount(int fsfd, @Cast("unsigned int") int attrFlags);

    @Name("daxload_move_mount_to") public static native int moveMountTo(int mntfd, @Cast("const char*") byte[] toPath);

    @Name("daxload_umount2") public static native int umount2(@Cast("const char*") byte[] path, int flags);

    @Name("daxload_daxfs_get_dmabuf") public static native int daxfsGetDmabuf(@Cast("const char*") byte[] fileOnMount);

    // ---- AF_UNIX and SCM_RIGHTS ----

    @Name("daxload_unix_listen") public static native int unixListen(@Cast("const char*") byte[] path, int backlog);

    @Name("daxload_unix_accept") public static native int unixAccept(int listenFd);

    @Name("daxload_unix_connect") public static native int unixConnect(@Cast("const char*") byte[] path);

    @Name("daxload_unix_socketpair") public static native int unixSocketpair(int[] out);

    @Name("daxload_send_fds") public static native long sendFds(int sock, @Cast("const void*") byte[] data, int len, @Cast("const int*") int[] fds, int nfds);

    @Name("daxload_recv_fds") public static native long recvFds(int sock, @Cast("void*") byte[] data, int len, int[] fds, int maxfds, int[] outNfds);

    // ---- pidfd ----

    @Name("daxload_pidfd_open") public static native int pidfdOpen(int pid);

    @Name("daxload_pidfd_getfd") public static native int pidfdGetfd(int pidfd, int targetFd);

    @Name("daxload_pidfd_steal") public static native int pidfdSteal(int pid, int targetFd);
}

package dev.daxload.packager.image;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * The libc calls NIO lacks for writing an image safely: {@code open} with {@code O_TMPFILE} (a file
 * with no name until the image is complete, so a killed writer leaves nothing behind), {@code linkat}
 * to give it its name, and a shared writable {@code mmap} of a device that has no {@code write}
 * (a device-DAX character device).
 */
final class FileCalls {
    static final int O_WRONLY = 01;
    static final int O_RDWR = 02;
    static final int O_CLOEXEC = 02000000;
    /** {@code __O_TMPFILE | O_DIRECTORY}, as the kernel wants it. */
    static final int O_TMPFILE = 020000000 | 0200000;
    static final int EOPNOTSUPP = 95;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_FOLLOW = 0x400;
    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final int MS_SYNC = 4;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
    private static final MethodHandle OPEN = handle("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle LINKAT = handle("linkat", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle MMAP = handle("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MSYNC = handle("msync",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle MUNMAP = handle("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle READLINK = handle("readlink",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LINKER.defaultLookup().find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private FileCalls() {}

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, CAPTURE);
    }

    /** A failed call: the errno and the message the C library gives for it. */
    static final class Errno extends FileSystemException {
        private static final long serialVersionUID = 1L;
        final int errno;

        Errno(Path path, String call, int errno) {
            super(path.toString(), null, call + ": " + strerror(errno));
            this.errno = errno;
        }
    }

    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    /** {@code open(path, flags, mode)}; the new descriptor. */
    static int open(Path path, int flags, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), flags | O_CLOEXEC, mode);
            if (fd < 0) {
                throw new Errno(path, "open", (int) ERRNO.get(state, 0L));
            }
            return fd;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /**
     * The target of the symlink at {@code link}, byte for byte: {@code Files.readSymbolicLink} gives a
     * {@code Path}, which drops a trailing or doubled slash and, as a string, bytes that are not UTF-8.
     */
    static byte[] readlink(Path link) throws IOException {
        byte[] path = HostPaths.absoluteBytes(link);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment cpath = arena.allocate(path.length + 1L);
            MemorySegment.copy(path, 0, cpath, ValueLayout.JAVA_BYTE, 0, path.length);
            MemorySegment buf = arena.allocate(HostPaths.PATH_MAX + 2L);
            long n = (long) READLINK.invokeExact(state, cpath, buf, buf.byteSize());
            if (n < 0) {
                throw new Errno(link, "readlink", (int) ERRNO.get(state, 0L));
            }
            if (n == buf.byteSize()) {
                throw new FileSystemException(link.toString(), null, "readlink: target longer than " + HostPaths.PATH_MAX + " bytes");
            }
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(MemorySegment.NULL, fd);
        } catch (Throwable t) {
            // nothing to report: the descriptor is gone either way
        }
    }

    /** Gives the unnamed file open as {@code fd} the name {@code to} (which must not exist). */
    static void linkUnnamed(int fd, Path to) throws IOException {
        Path from = Path.of("/proc/self/fd/" + fd);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int rc = (int) LINKAT.invokeExact(state, AT_FDCWD, arena.allocateFrom(from.toString()),
                    AT_FDCWD, arena.allocateFrom(to.toString()), AT_SYMLINK_FOLLOW);
            if (rc != 0) {
                throw new Errno(to, "linkat", (int) ERRNO.get(state, 0L));
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /**
     * Copies {@code source} into the first bytes of {@code device} through a shared writable mapping
     * of {@code mapLength} bytes, then {@code msync}s it: how a device-DAX device (no {@code write})
     * takes data.
     */
    static void copyThroughMapping(MemorySegment source, Path device, long mapLength) throws IOException {
        int fd = open(device, O_RDWR, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            MemorySegment addr = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, mapLength,
                    PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0L);
            if (addr.address() == -1L) {
                throw new Errno(device, "mmap", (int) ERRNO.get(state, 0L));
            }
            MemorySegment map = addr.reinterpret(mapLength);
            try {
                MemorySegment.copy(source, 0, map, 0, source.byteSize());
                int rc = (int) MSYNC.invokeExact(state, addr, mapLength, MS_SYNC);
                if (rc != 0) {
                    throw new Errno(device, "msync", (int) ERRNO.get(state, 0L));
                }
            } finally {
                int ignored = (int) MUNMAP.invokeExact(state, addr, mapLength);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        } finally {
            close(fd);
        }
    }
}

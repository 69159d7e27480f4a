package dev.daxload.image.internal;

import dev.daxload.image.MapOptions;
import dev.daxload.image.MmapException;
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
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Maps image files and devices into {@link MemorySegment}s owned by an {@link Arena}: closing the
 * arena unmaps, exactly once.
 *
 * <p>Two ways, chosen per call so that an open links nothing it does not use: a read-only mapping of a
 * regular file goes through the JDK's own {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)},
 * which needs no native linker, and so does a copy-on-write mapping of a file this process may write
 * ({@code MapMode.PRIVATE}); everything {@code FileChannel} cannot do goes through {@code mmap}
 * called with FFM: a private writable mapping of a file it may only read ({@code MAP_PRIVATE |
 * MAP_NORESERVE}, copy-on-write), {@code madvise}, character devices such as {@code /dev/daxX.Y}, and
 * descriptors (memfd, dma-buf). Each C function is linked the first time it is called, not when this
 * class loads: linking a downcall costs 10-100 ms in a fresh JVM (see docs/benchmarks.md, "Cold open").
 */
public final class Mmap {
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 02000000;
    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final int MAP_PRIVATE = 2;
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MAP_POPULATE = 0x8000;
    private static final int MADV_HUGEPAGE = 14;
    private static final int MADV_POPULATE_READ = 22;
    private static final int SEEK_END = 2;

    private static final int F_GET_SEALS = 1034;
    private static final int F_SEAL_SHRINK = 0x0002;

    /**
     * {@code -Ddaxload.mmap.cowThroughJdk=false} makes every copy-on-write mapping go through {@code mmap}:
     * the JDK's way opens the file for writing for a moment, which inotify reports to anyone watching it
     * ({@code IN_OPEN}, {@code IN_CLOSE_WRITE}; the file itself is not touched), and a watcher that reloads
     * a model on {@code IN_CLOSE_WRITE} would react to it.
     */
    static final boolean COW_THROUGH_JDK = !"false".equals(System.getProperty("daxload.mmap.cowThroughJdk"));

    private Mmap() {}

    /**
     * Whether a copy-on-write mapping of {@code path} is made by the JDK (no FFM linker): a regular file this process
     * may write, with the JDK route on. What the {@code daxfs:} repository asks before it resolves a load over the
     * mapping the URL asks for (one mapping per load) rather than over a read-only one.
     */
    public static boolean copyOnWriteWithoutLinker(Path path) {
        return COW_THROUGH_JDK && Files.isRegularFile(path) && Files.isWritable(path);
    }

    /** The linker and errno capture, made on first use. */
    private static final class Native {
        static final Linker LINKER = Linker.nativeLinker();
        static final StructLayout STATE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

        static MethodHandle link(String name, FunctionDescriptor fd, Linker.Option... options) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, options);
        }

        static MethodHandle withErrno(String name, FunctionDescriptor fd) {
            return link(name, fd, CAPTURE);
        }

        static int errno(MemorySegment state) {
            return (int) ERRNO.get(state, 0L);
        }
    }

    // One holder per C function: the JVM initializes (links) each the first time it is used.
    private static final class Open {
        static final MethodHandle H = Native.withErrno("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class Close {
        static final MethodHandle H = Native.withErrno("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class Lseek {
        static final MethodHandle H = Native.withErrno("lseek", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    private static final class MmapCall {
        static final MethodHandle H = Native.withErrno("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    }

    private static final class Munmap {
        static final MethodHandle H = Native.link("munmap", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    }

    private static final class Fcntl {
        static final MethodHandle H = Native.withErrno("fcntl", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class Madvise {
        static final MethodHandle H = Native.link("madvise", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    /** Linux errno names for the errors mapping can meet, for messages. */
    static String errnoName(int errno) {
        return switch (errno) {
            case 1 -> "EPERM";
            case 2 -> "ENOENT";
            case 12 -> "ENOMEM";
            case 13 -> "EACCES";
            case 19 -> "ENODEV";
            case 22 -> "EINVAL";
            case 24 -> "EMFILE";
            default -> "errno " + errno;
        };
    }

    /**
     * Maps a whole file or device.
     *
     * @param arena owns the mapping: closing it unmaps
     * @return the mapping, {@code byteSize()} long
     */
    public static MemorySegment map(Path path, MapOptions options, Arena arena) throws IOException {
        return map(path, 0, -1, options, arena);
    }

    /**
     * Maps {@code size} bytes of a file or device from {@code offset} (a multiple of the page size):
     * a physical range through {@code /dev/mem}, a window of a DAX device. A negative size maps to
     * the end of the file or device.
     */
    public static MemorySegment map(Path path, long offset, long size, MapOptions options, Arena arena) throws IOException {
        if (offset < 0 || offset % 4096 != 0) {
            throw new IllegalArgumentException(path + ": offset " + offset + " is not a multiple of the page size");
        }
        if (Files.isRegularFile(path)) {
            if (options.sharing() == MapOptions.Sharing.READ_ONLY) {
                return mapReadOnlyFile(path, offset, size, options, arena);
            }
            if (options.sharing() == MapOptions.Sharing.COPY_ON_WRITE && COW_THROUGH_JDK) {
                MemorySegment m = mapPrivateFile(path, offset, size, options, arena);
                if (m != null) {
                    return m;
                }
            }
        }
        return mapWithMmap(path, offset, size, options, arena);
    }

    /**
     * What {@link #map(Path, long, long, MapOptions, Arena)} does where the JDK cannot map: {@code open}
     * and {@code mmap} through FFM (package-private so that tests reach it on a file the JDK could map).
     */
    static MemorySegment mapWithMmap(Path path, long offset, long size, MapOptions options, Arena arena) throws IOException {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(Native.STATE);
            int fd = (int) Open.H.invokeExact(state, tmp.allocateFrom(path.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                int errno = Native.errno(state);
                if (errno == 2) {
                    throw new java.nio.file.NoSuchFileException(path.toString());
                }
                if (errno == 13) {
                    throw new java.nio.file.AccessDeniedException(path.toString());
                }
                throw new IOException(path + ": open failed: " + errnoName(errno));
            }
            try {
                long length = size >= 0 ? size : sizeOf(path, fd, state) - offset;
                return map(fd, path.toString(), offset, length, options, arena);
            } finally {
                int ignored = (int) Close.H.invokeExact(state, fd); // the mapping keeps its own reference
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(path + ": " + t, t);
        }
    }

    /**
     * A read-only shared mapping of a regular file through the JDK, which needs no native linker:
     * {@code PROT_READ, MAP_SHARED} as the FFM path would make, and a read-only segment.
     */
    private static MemorySegment mapReadOnlyFile(Path path, long offset, long size, MapOptions options, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long length = size >= 0 ? size : ch.size() - offset;
            if (length <= 0) {
                throw new IOException(path + ": is empty; an image has at least 8192 bytes");
            }
            MemorySegment mapping = ch.map(FileChannel.MapMode.READ_ONLY, offset, length, arena);
            advise(mapping, options);
            return mapping.asReadOnly();
        }
    }

    /**
     * A copy-on-write mapping of a regular file through the JDK ({@code FileChannel.map(PRIVATE)}), which
     * needs no native linker, or null when the JDK cannot make one and {@code mmap} must: the JDK maps
     * privately only through a channel open for writing, so a file this process may not write (mode
     * 0444 for a user, a read-only file system) comes back null, and so does a mapping the kernel
     * refuses without {@code MAP_NORESERVE} (a private writable mapping larger than memory and swap
     * under the kernel's heuristic overcommit), which the {@code mmap} path sets. Nothing is written
     * through the channel: a private mapping never reaches the file (but see {@link #COW_THROUGH_JDK}).
     *
     * <p>The JDK's mapping lives in an arena of its own, closed by {@code arena}'s cleanup: at once,
     * or, once {@link #retire} replaced the range with zero pages, after {@link #RETIRE_GRACE_MS}, as
     * for a mapping made with {@code mmap} (the JDK would otherwise unmap the range at once).
     */
    private static MemorySegment mapPrivateFile(Path path, long offset, long size, MapOptions options, Arena arena) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (java.nio.file.FileSystemException | UnsupportedOperationException e) {
            return null; // not writable by this process: mmap needs only read access
        }
        try (ch) {
            long length = size >= 0 ? size : ch.size() - offset;
            if (length <= 0) {
                throw new IOException(path + ": is empty; an image has at least 8192 bytes");
            }
            Arena jdk = Arena.ofShared();
            MemorySegment raw;
            try {
                raw = ch.map(FileChannel.MapMode.PRIVATE, offset, length, jdk);
            } catch (IOException e) {
                jdk.close();
                return null; // ENOMEM without MAP_NORESERVE, most likely: mmap sets it
            }
            long address = raw.address();
            MemorySegment mapping;
            try {
                mapping = MemorySegment.ofAddress(address).reinterpret(length, arena, s -> releaseJdkMapping(address, jdk));
            } catch (RuntimeException | Error e) {
                jdk.close(); // the arena refused (closed, or native access not enabled): leave nothing mapped
                throw e;
            }
            advise(mapping, options);
            return mapping;
        }
    }

    /** Unmaps a mapping the JDK made: now, or after the grace period if it was retired. */
    private static void releaseJdkMapping(long address, Arena jdk) {
        if (RETIRED.remove(address)) {
            reaper().schedule(jdk::close, RETIRE_GRACE_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
            return;
        }
        jdk.close();
    }

    /** Huge pages and populate as {@code options} ask; madvise is linked only when one of them is asked. */
    private static void advise(MemorySegment mapping, MapOptions options) throws IOException {
        try {
            if (options.hugePages()) {
                int ignored = (int) Madvise.H.invokeExact(mapping, mapping.byteSize(), MADV_HUGEPAGE); // best effort: not every source has huge pages
            }
            if (options.populate()) {
                int rc = (int) Madvise.H.invokeExact(mapping, mapping.byteSize(), MADV_POPULATE_READ);
                if (rc != 0) {
                    mapping.load(); // kernels before 5.14: touch the pages from Java instead
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("madvise: " + t, t);
        }
    }

    /**
     * Maps {@code size} bytes of an open descriptor (a memfd, a dma-buf) from offset 0. The caller keeps
     * the descriptor; the mapping holds its own reference to the file.
     */
    public static MemorySegment map(int fd, String what, long size, MapOptions options, Arena arena) throws IOException {
        return map(fd, what, 0, size, options, arena);
    }

    private static MemorySegment map(int fd, String what, long offset, long size, MapOptions options, Arena arena) throws IOException {
        if (size <= 0) {
            throw new IOException(what + ": is empty; an image has at least 8192 bytes");
        }
        MemorySegment mapping;
        try {
            boolean priv = options.sharing() == MapOptions.Sharing.COPY_ON_WRITE;
            try {
                mapping = mapDescriptor(fd, offset, size, priv ? Access.COPY_ON_WRITE : Access.READ, false, arena);
            } catch (MmapException e) {
                if (!priv) {
                    throw e;
                }
                // Device DAX and some dma-buf exporters map only shared: fall back to read-only.
                mapping = mapDescriptor(fd, offset, size, Access.READ, false, arena);
            }
        } catch (MmapException e) {
            throw new IOException(what + ": mmap of " + size + " bytes failed: " + errnoName(e.errno())
                    + (e.errno() == 19 ? " (this file or device cannot be mapped)" : ""), e);
        }
        advise(mapping, options);
        return mapping;
    }

    /** How {@link #mapDescriptor} maps: shared (writes reach the file) or a private copy. */
    public enum Access {
        /** {@code PROT_READ, MAP_SHARED}; the segment is read-only. */
        READ,
        /** {@code PROT_READ|PROT_WRITE, MAP_SHARED}: writes reach the file (a memfd, a dma-buf). */
        READ_WRITE,
        /** {@code PROT_READ|PROT_WRITE, MAP_PRIVATE}: copy on write, the file never sees writes. */
        COPY_ON_WRITE
    }

    /**
     * Maps {@code length} bytes of an open descriptor from {@code offset}: the one place daxload maps
     * a descriptor (the bridge's memfds and dma-bufs come here too). The caller keeps the descriptor;
     * the mapping holds its own reference to the file and lives until {@code arena} closes, which
     * invalidates every segment of it before unmapping.
     *
     * @param fd an open descriptor
     * @param offset a multiple of the page size
     * @param length bytes, more than 0
     * @param access shared read-only, shared writable, or private copy-on-write
     * @param populate fault every page in now ({@code MAP_POPULATE}) instead of on first touch
     * @param arena owns the mapping
     * @return the mapping ({@link MemorySegment#isReadOnly()} for {@link Access#READ})
     * @throws MmapException with the kernel's errno when {@code mmap} fails; nothing is left mapped
     */
    public static MemorySegment mapDescriptor(int fd, long offset, long length, Access access, boolean populate, Arena arena)
            throws MmapException {
        int prot = access == Access.READ ? PROT_READ : PROT_READ | PROT_WRITE;
        // A private copy reserves no swap up front: only the pages written through it are ever copied.
        int flags = (access == Access.COPY_ON_WRITE ? MAP_PRIVATE | MAP_NORESERVE : MAP_SHARED) | (populate ? MAP_POPULATE : 0);
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(Native.STATE);
            MemorySegment addr = (MemorySegment) MmapCall.H.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (addr.address() == -1L) {
                int errno = Native.errno(state);
                throw new MmapException("mmap(fd " + fd + ", offset " + offset + ", length " + length + ", " + access + ") failed: "
                        + errnoName(errno), errno);
            }
            long address = addr.address();
            MemorySegment mapping;
            try {
                mapping = MemorySegment.ofAddress(address).reinterpret(length, arena, s -> unmap(address, length));
            } catch (RuntimeException | Error e) {
                unmapNow(address, length); // the arena refused (closed, or native access not enabled): leave nothing
                throw e;
            }
            return access == Access.READ ? mapping.asReadOnly() : mapping;
        } catch (MmapException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of fd " + fd + ": " + t, t);
        }
    }

    /**
     * True when the file at {@code path} cannot lose pages under a mapping: a device (a DAX device,
     * {@code /dev/mem}) or a file sealed against shrinking ({@code F_SEAL_SHRINK}: a sealed memfd,
     * reached as {@code /proc/self/fd/N}). A plain file can be truncated by anyone who may write it,
     * and a read of a page it lost is SIGBUS.
     */
    public static boolean fixedSize(Path path) {
        if (!Files.isRegularFile(path)) {
            return Files.exists(path); // character and block devices keep their size
        }
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(Native.STATE);
            int fd = (int) Open.H.invokeExact(state, tmp.allocateFrom(path.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                return false;
            }
            try {
                int seals = (int) Fcntl.H.invokeExact(state, fd, F_GET_SEALS);
                return seals >= 0 && (seals & F_SEAL_SHRINK) != 0; // EINVAL: a file system without seals
            } finally {
                int ignored = (int) Close.H.invokeExact(state, fd);
            }
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * Faults in every page of a mapping made here ({@code MADV_POPULATE_READ}), best effort: a pass
     * over all of it (checksums) then runs without a page fault per 4 KiB.
     */
    public static void populate(MemorySegment mapping) {
        try {
            int ignored = (int) Madvise.H.invokeExact(mapping, mapping.byteSize(), MADV_POPULATE_READ);
        } catch (Throwable t) {
            // best effort: reads fault pages in anyway
        }
    }

    /** Mappings replaced by {@link #retire}: their cleanup unmaps them after {@link #RETIRE_GRACE_MS}. */
    private static final java.util.Set<Long> RETIRED = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /**
     * How long a retired range stays reserved (zero pages) after its image is unmapped: an op that
     * native code started on a view before the close reads zeros for that long instead of faulting.
     */
    public static final long RETIRE_GRACE_MS = 10_000;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_FIXED = 0x10;
    private static volatile java.util.concurrent.ScheduledExecutorService reaper;

    /**
     * Replaces a mapping made here, in place, with private anonymous zero pages ({@code MAP_FIXED}):
     * the file is released at once (it can be deleted, its space reclaimed, it no longer shows in
     * {@code /proc/self/maps}), while the address range stays readable and writable until the arena's
     * cleanup unmaps it {@link #RETIRE_GRACE_MS} later. For memory that libtorch may still be reading
     * when its owner closes (a view whose NDManager was closed during an op): late reads see zeros
     * instead of killing the JVM with SIGSEGV. Costs no memory unless written.
     *
     * @return true if the range was replaced (false: it stays the file's, and is unmapped at once)
     */
    public static boolean retire(MemorySegment mapping) {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(Native.STATE);
            MemorySegment addr = (MemorySegment) MmapCall.H.invokeExact(state, mapping, mapping.byteSize(), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0L);
            if (addr.address() != mapping.address()) {
                return false;
            }
            RETIRED.add(mapping.address());
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    private static void unmap(long address, long size) {
        if (RETIRED.remove(address)) {
            reaper().schedule(() -> unmapNow(address, size), RETIRE_GRACE_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
            return;
        }
        unmapNow(address, size);
    }

    private static java.util.concurrent.ScheduledExecutorService reaper() {
        var r = reaper;
        if (r == null) {
            synchronized (Mmap.class) {
                r = reaper;
                if (r == null) {
                    r = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                            Thread.ofPlatform().daemon().name("daxload-unmap").factory());
                    reaper = r;
                }
            }
        }
        return r;
    }

    private static void unmapNow(long address, long size) {
        try {
            int ignored = (int) Munmap.H.invokeExact(MemorySegment.ofAddress(address), size);
        } catch (Throwable t) {
            throw new AssertionError("munmap cannot throw", t);
        }
    }

    /** Size of a regular file, or of a device: DAX devices report it in sysfs, others through lseek. */
    private static long sizeOf(Path path, int fd, MemorySegment state) throws Throwable {
        if (Files.isRegularFile(path)) {
            return Files.size(path);
        }
        String name = path.toRealPath().getFileName().toString();
        Path sysfs = Path.of("/sys/bus/dax/devices", name, "size");
        if (name.startsWith("dax") && Files.isReadable(sysfs)) {
            return Long.parseLong(Files.readString(sysfs).trim());
        }
        long end = (long) Lseek.H.invokeExact(state, fd, 0L, SEEK_END);
        if (end < 0) {
            throw new IOException(path + ": cannot tell its size (lseek: " + errnoName(Native.errno(state)) + ")");
        }
        return end;
    }
}

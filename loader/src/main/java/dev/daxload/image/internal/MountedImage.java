package dev.daxload.image.internal;

import dev.daxload.image.DaxFormatException;
import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
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
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Opens the image behind a mounted DAXFS directory as one mapping of the memory the kernel mounted:
 * the whole image's dma-buf ({@code DAXFS_IOC_GET_DMABUF}) for a mount made from a dma-buf (system
 * heap, udmabuf), or the physical range through {@code /dev/mem} for a {@code phys=} mount (which has
 * no dma-buf to give). Nothing is copied: every tensor view of the image points into the mounted
 * memory, so every process and the mount share one copy.
 *
 * <p>A dma-buf maps only shared (exporters refuse {@code MAP_PRIVATE}) and the module hands it out
 * read-only, so a copy-on-write request gives a read-only mapping there (PyTorch views refuse it; ONNX
 * Runtime's initializers and every read work); the physical range maps copy-on-write as asked.
 *
 * <p>Why not map the files of the mount: on Linux 6.12 {@code mmap} of a file of a static DAXFS
 * mount hands out copies of its pages, not the image's memory.
 */
public final class MountedImage {
    /** {@code _IO('D', 1)} from the module's {@code daxfs_format.h}. */
    static final long DAXFS_IOC_GET_DMABUF = ('D' << 8) | 1;
    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_CLOEXEC = 02000000;
    private static final int ENOENT = 2;
    private static final int ENOTTY = 25;
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private MountedImage() {}

    /** What {@code /proc/self/mountinfo} says of one daxfs mount. */
    record Mount(String mountPoint, String superOptions) {
        /** The physical address of a {@code phys=} mount ({@code phys=0x...}); empty for a dma-buf mount. */
        OptionalLong phys() {
            String v = option("phys");
            return v == null || "source=dmabuf".equals(v) ? OptionalLong.empty() : OptionalLong.of(Long.decode(v));
        }

        /** The size the module mapped ({@code size=N}), or -1 when the line gives none. */
        long size() {
            String v = option("size");
            return v == null ? -1 : Long.parseLong(v);
        }

        private String option(String key) {
            for (String o : superOptions.split(",")) {
                if (o.startsWith(key + "=")) {
                    return o.substring(key.length() + 1);
                }
            }
            return null;
        }
    }

    /**
     * The mount point of the DAXFS that {@code dir} lies on (its root is the image's root), or empty when
     * {@code dir} is not a directory of a daxfs mount.
     */
    public static Optional<Path> mountPoint(Path dir) {
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        try {
            return find(dir.toRealPath().toString(), Files.readAllLines(MOUNTINFO)).map(m -> Path.of(m.mountPoint()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Maps the image mounted at {@code dir} (the mount point or a directory below it), checks it and
     * indexes it; the mapping is released when the image closes (the mount stays).
     *
     * @param dir a directory of a daxfs mount
     * @param options how to map; copy-on-write falls back to read-only shared where the memory maps only shared
     * @throws IOException naming {@code dir} when it is not on a daxfs mount, or the memory cannot be mapped
     */
    public static DaxImage open(Path dir, MapOptions options) throws IOException {
        if (!Files.exists(dir)) {
            throw new NoSuchFileException(dir.toString());
        }
        if (!Files.isDirectory(dir)) {
            throw new NotDirectoryException(dir.toString());
        }
        String real = dir.toRealPath().toString();
        List<String> lines = Files.readAllLines(MOUNTINFO);
        Mount mount = find(real, lines).orElseThrow(() -> new IOException(dir + ": not on a daxfs mount (it lies on "
                + fsTypeOf(real, lines) + "); a daxfs: URL or ModelWeights.open names an image file, a DAX device or a daxfs mount directory"));
        int buf = getDmaBuf(dir, real);
        if (buf >= 0) {
            try {
                long size = mount.size();
                if (size <= 0) {
                    throw new IOException(dir + ": /proc/self/mountinfo gives no size= for the daxfs mount at " + mount.mountPoint());
                }
                Arena arena = Arena.ofShared();
                String what = "dma-buf of the daxfs mount " + mount.mountPoint();
                MemorySegment seg;
                try {
                    seg = Mmap.map(buf, what, size, options, arena);
                } catch (IOException | RuntimeException | Error e) {
                    arena.close();
                    throw e;
                }
                // adopt closes the arena (unmapping) when the memory is not a readable image.
                return DaxImage.adopt(seg, arena, what).declareFixedSize();
            } finally {
                close(buf); // the mapping holds its own reference to the dma-buf
            }
        }
        OptionalLong phys = mount.phys();
        if (phys.isEmpty() || mount.size() <= 0) {
            throw new IOException(dir + ": the daxfs mount at " + mount.mountPoint() + " gives no dma-buf and no phys=/size= ("
                    + mount.superOptions() + ")");
        }
        try {
            return DaxImage.openPhysical(phys.getAsLong(), mount.size(), options);
        } catch (DaxFormatException e) {
            throw e; // mapped, but not a readable image: that message says where and why
        } catch (IOException e) {
            throw new IOException(dir + ": the daxfs mount at " + mount.mountPoint() + " lies at physical address 0x"
                    + Long.toHexString(phys.getAsLong()) + ", which /dev/mem cannot map here (needs root, and memory the kernel"
                    + " does not own, such as a memmap= reservation): " + e.getMessage(), e);
        }
    }

    /**
     * The daxfs mount that {@code realDir} lies on: the mount whose mount point is the longest prefix of
     * it (the last such line when mounts are stacked), if that mount is daxfs.
     */
    static Optional<Mount> find(String realDir, List<String> mountinfo) {
        String[] m = covering(realDir, mountinfo);
        return m != null && "daxfs".equals(m[1]) ? Optional.of(new Mount(m[0], m[2])) : Optional.empty();
    }

    private static String fsTypeOf(String realDir, List<String> mountinfo) {
        String[] m = covering(realDir, mountinfo);
        return m == null ? "an unknown filesystem" : m[1] + " mounted at " + m[0];
    }

    /** {mount point, type, super options} of the mount that {@code realDir} lies on, or null. */
    private static String[] covering(String realDir, List<String> mountinfo) {
        String[] best = null;
        int bestLen = -1;
        for (String line : mountinfo) {
            // id parent major:minor root MOUNTPOINT options [optional...] - FSTYPE source superopts
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length < 5 || dash < 5 || dash + 1 >= f.length) {
                continue;
            }
            String mp = unescapeMountInfo(f[4]);
            boolean covers = realDir.equals(mp) || mp.equals("/") || realDir.startsWith(mp + "/");
            if (covers && mp.length() >= bestLen) {
                bestLen = mp.length();
                best = new String[] {mp, f[dash + 1], dash + 3 < f.length ? f[dash + 3] : ""};
            }
        }
        return best;
    }

    /**
     * A path as {@code /proc/self/mountinfo} writes it, unescaped: space, tab, newline and backslash are octal
     * escapes there ({@code \040}). Public for the bridge's mount code, which reads the same file.
     */
    public static String unescapeMountInfo(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    // ---- the three C calls this needs, linked on first use --------------------------------------

    private static final class Native {
        static final Linker LINKER = Linker.nativeLinker();
        static final StructLayout STATE = Linker.Option.captureStateLayout();
        static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
        static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
        static final MethodHandle OPEN = link("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        static final MethodHandle IOCTL = link("ioctl", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        static final MethodHandle CLOSE = link("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

        private static MethodHandle link(String name, FunctionDescriptor fd) {
            return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), fd, CAPTURE);
        }
    }

    /**
     * The dma-buf of the whole image, or -1 when the mount has none ({@code ENOENT}: a {@code phys=}
     * mount). The ioctl is defined on the mount's directories as on its files.
     */
    private static int getDmaBuf(Path dir, String real) throws IOException {
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment state = tmp.allocate(Native.STATE);
            int fd = (int) Native.OPEN.invokeExact(state, tmp.allocateFrom(real), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) {
                throw new IOException(dir + ": cannot open the directory: " + Mmap.errnoName((int) Native.ERRNO.get(state, 0L)));
            }
            try {
                int buf = (int) Native.IOCTL.invokeExact(state, fd, DAXFS_IOC_GET_DMABUF);
                if (buf >= 0) {
                    return buf;
                }
                int errno = (int) Native.ERRNO.get(state, 0L);
                if (errno == ENOENT) {
                    return -1;
                }
                throw new IOException(dir + ": ioctl DAXFS_IOC_GET_DMABUF failed: " + (errno == ENOTTY
                        ? "ENOTTY (the directory is not on a daxfs mount)" : Mmap.errnoName(errno)));
            } finally {
                int ignored = (int) Native.CLOSE.invokeExact(state, fd);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("ioctl on " + dir + ": " + t, t);
        }
    }

    private static void close(int fd) {
        try (Arena tmp = Arena.ofConfined()) {
            int ignored = (int) Native.CLOSE.invokeExact(tmp.allocate(Native.STATE), fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close(" + fd + "): " + t, t);
        }
    }
}

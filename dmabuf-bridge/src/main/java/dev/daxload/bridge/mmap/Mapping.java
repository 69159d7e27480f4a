package dev.daxload.bridge.mmap;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A memory mapping of an fd ({@code mmap(2)}) seen as a {@link MemorySegment}.
 *
 * <p>The segment belongs to a shared arena of this mapping. {@link #close()} first closes the
 * arena, which makes every access through the segment (from any thread) throw
 * {@link IllegalStateException}, and only then calls {@code munmap}: so Java code can never touch
 * unmapped memory, which would crash the JVM. It does so exactly once.
 *
 * <p>The mapping keeps the pages alive on its own: closing the fd it came from does not unmap it.
 */
public final class Mapping implements AutoCloseable {
    /** How the pages may be accessed. */
    public enum Access {
        /** {@code PROT_READ}; the segment is read-only, so a write throws instead of crashing. */
        READ,
        /** {@code PROT_READ|PROT_WRITE}. */
        READ_WRITE
    }

    /** mmap flags. Without {@link #PRIVATE} the mapping is {@code MAP_SHARED}. */
    public enum Option {
        /** {@code MAP_PRIVATE}: copy on write, the file does not see writes. */
        PRIVATE,
        /** {@code MAP_POPULATE}: fault every page in now (and read ahead), not on first touch. */
        POPULATE
    }

    private final long address;
    private final long length;
    private final Arena arena;
    private final MemorySegment segment;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Mapping(long address, long length, Access access, String what) {
        this.address = address;
        this.length = length;
        this.what = what;
        this.arena = Arena.ofShared();
        MemorySegment s = MemorySegment.ofAddress(address).reinterpret(length, arena, null);
        this.segment = access == Access.READ ? s.asReadOnly() : s;
    }

    /**
     * Maps {@code length} bytes of {@code fd} from {@code offset}.
     *
     * @param fd the file (memfd, dma-buf, file on a daxfs mount, ...)
     * @param offset a multiple of the page size
     * @param length more than 0
     * @param access read, or read and write
     * @param options {@link Option#PRIVATE}, {@link Option#POPULATE}
     * @return the mapping
     * @throws LinuxException if {@code mmap} fails; nothing is left mapped
     */
    public static Mapping map(NativeFd fd, long offset, long length, Access access, Option... options)
            throws LinuxException {
        int prot = (int) (access == Access.READ ? LinuxConstants.PROT_READ
                : LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE);
        Set<Option> opts = options.length == 0 ? Set.of() : Set.of(options);
        long flags = opts.contains(Option.PRIVATE) ? LinuxConstants.MAP_PRIVATE : LinuxConstants.MAP_SHARED;
        if (opts.contains(Option.POPULATE)) {
            flags |= LinuxConstants.MAP_POPULATE;
        }
        String call = "mmap(" + fd.what() + ", offset " + offset + ", length " + length + ", " + access + ", " + opts + ")";
        long addr = LinuxException.check(LinuxNative.mmap(length, prot, (int) flags, fd.fd(), offset), call,
                err -> switch (err) {
                    case Errno.EINVAL -> "the length must be more than 0 and the offset a multiple of the page size ("
                            + LinuxConstants.PAGE_SIZE + ")";
                    case Errno.EACCES -> "the fd's open mode does not allow this access (a read-only fd cannot be mapped shared for writing)";
                    case Errno.ENODEV -> "this kind of fd cannot be mapped";
                    case Errno.ENOMEM -> "no room in the address space for " + length + " bytes, or the length overflows";
                    default -> null;
                });
        try {
            return new Mapping(addr, length, access, fd.what());
        } catch (RuntimeException | Error e) {
            // Arena or segment creation failed (for example native access is not enabled):
            // unmap, so that the error path leaves nothing behind.
            LinuxNative.munmap(addr, length);
            throw e;
        }
    }

    /** @return the mapped memory; throws {@link IllegalStateException} on access after close */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the start address */
    public long address() {
        return address;
    }

    /** @return the length in bytes */
    public long length() {
        return length;
    }

    /** @return whether it is still mapped */
    public boolean isOpen() {
        return !closed.get();
    }

    /**
     * Invalidates the segment, then unmaps; later calls do nothing.
     *
     * @throws UncheckedIOException wrapping a {@link LinuxException} if {@code munmap} fails
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            arena.close();
        } catch (IllegalStateException busy) {
            // The segment is held by an ongoing operation elsewhere: stay mapped and open, so
            // that a later close can still unmap.
            closed.set(false);
            throw busy;
        }
        int rc = LinuxNative.munmap(address, length);
        if (rc < 0) {
            throw new UncheckedIOException(new LinuxException("munmap(" + what + ", " + length + ")", -rc, null));
        }
    }

    @Override
    public String toString() {
        return "Mapping[" + what + ", 0x" + Long.toHexString(address) + ", " + length + (closed.get() ? ", closed]" : "]");
    }
}

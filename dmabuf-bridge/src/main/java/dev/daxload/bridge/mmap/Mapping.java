package dev.daxload.bridge.mmap;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.image.internal.Mmap;
import dev.daxload.image.MmapException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A memory mapping of an fd ({@code mmap(2)}) seen as a {@link MemorySegment}: the bridge's handle on
 * a mapping the loader makes ({@link Mmap#mapDescriptor}: one place maps descriptors in daxload), with
 * the bridge's errors.
 *
 * <p>The segment belongs to a shared arena of this mapping. {@link #close()} closes the arena, which
 * makes every access through the segment (from any thread) throw {@link IllegalStateException} and
 * then unmaps: Java code can never touch unmapped memory, which would crash the JVM. It does so
 * exactly once.
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

    private final Arena arena;
    private final MemorySegment segment;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Mapping(Arena arena, MemorySegment segment, String what) {
        this.arena = arena;
        this.segment = segment;
        this.what = what;
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
        Set<Option> opts = options.length == 0 ? Set.of() : Set.of(options);
        Mmap.Access how = access == Access.READ ? Mmap.Access.READ
                : opts.contains(Option.PRIVATE) ? Mmap.Access.COPY_ON_WRITE : Mmap.Access.READ_WRITE;
        String call = "mmap(" + fd.what() + ", offset " + offset + ", length " + length + ", " + access + ", " + opts + ")";
        Arena arena = Arena.ofShared();
        try {
            return new Mapping(arena, Mmap.mapDescriptor(fd.fd(), offset, length, how, opts.contains(Option.POPULATE), arena), fd.what());
        } catch (MmapException e) {
            arena.close();
            int err = e.errno();
            throw new LinuxException(call, err, switch (err) {
                case Errno.EINVAL -> "the length must be more than 0 and the offset a multiple of the page size ("
                        + LinuxConstants.PAGE_SIZE + ")";
                case Errno.EACCES -> "the fd's open mode does not allow this access (a read-only fd cannot be mapped shared for writing)";
                case Errno.ENODEV -> "this kind of fd cannot be mapped";
                case Errno.ENOMEM -> "no room in the address space for " + length + " bytes, or the length overflows";
                default -> null;
            });
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** @return the mapped memory; throws {@link IllegalStateException} on access after close */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the start address */
    public long address() {
        return segment.address();
    }

    /** @return the length in bytes */
    public long length() {
        return segment.byteSize();
    }

    /** @return whether it is still mapped */
    public boolean isOpen() {
        return !closed.get();
    }

    /** Invalidates the segment, then unmaps; later calls do nothing. */
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
    }

    @Override
    public String toString() {
        return "Mapping[" + what + ", 0x" + Long.toHexString(segment.address()) + ", " + segment.byteSize()
                + (closed.get() ? ", closed]" : "]");
    }
}

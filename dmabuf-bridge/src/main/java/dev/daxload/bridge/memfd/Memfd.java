package dev.daxload.bridge.memfd;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.util.EnumSet;
import java.util.Set;

/**
 * Anonymous shared memory with a file descriptor ({@code memfd_create(2)}): the host-memory home
 * of an image that is exported as a udmabuf, passed to other processes, or mapped many times.
 * Sealing is always allowed, so that the memfd can become a udmabuf later.
 */
public final class Memfd implements AutoCloseable {
    private final NativeFd fd;
    private final String name;

    private Memfd(NativeFd fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * Creates a memfd of {@code size} bytes (zero-filled; pages are allocated on first touch).
     *
     * @param name the name shown in {@code /proc/PID/fd} and {@code /proc/PID/maps} as
     *             {@code /memfd:NAME}; at most 249 bytes
     * @param size the initial size, 0 or more
     * @return the memfd
     * @throws LinuxException if {@code memfd_create} or {@code ftruncate} fails (nothing is left open)
     */
    public static Memfd create(String name, long size) throws LinuxException {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        int rc = LinuxNative.memfdCreate(LinuxNative.cString(name), (int) LinuxConstants.MFD_ALLOW_SEALING, size);
        LinuxException.check(rc, "memfd_create(\"" + name + "\", " + size + ")", err -> switch (err) {
            case Errno.EINVAL -> "the name is too long (at most 249 bytes) or the flags are not supported";
            default -> null;
        });
        return new Memfd(NativeFd.adopt(rc, "memfd " + name), name);
    }

    /**
     * Wraps a memfd that arrived from elsewhere (fd passing, pidfd_getfd); takes ownership.
     *
     * @param fd the fd
     * @param name a name for messages
     * @return the memfd
     */
    public static Memfd adopt(NativeFd fd, String name) {
        return new Memfd(fd, name);
    }

    /** @return the fd (still owned by this memfd) */
    public NativeFd fd() {
        return fd;
    }

    /** @return the name given at creation */
    public String name() {
        return name;
    }

    /**
     * @return the current size
     * @throws LinuxException if {@code fstat} fails
     */
    public long size() throws LinuxException {
        return fd.size();
    }

    /**
     * Changes the size ({@code ftruncate(2)}).
     *
     * @param size the new size
     * @throws LinuxException with EPERM if a seal forbids it
     */
    public void resize(long size) throws LinuxException {
        LinuxException.check(LinuxNative.ftruncate(fd.fd(), size), "ftruncate(" + fd.what() + ", " + size + ")",
                err -> err == Errno.EPERM ? "a seal (SHRINK or GROW) forbids this size change" : null);
    }

    /**
     * Adds seals; seals are never removed.
     *
     * @param seals the seals to add
     * @throws LinuxException with EPERM if {@link Seal#SEAL} is already set, EBUSY when sealing
     *         WRITE while a writable shared mapping exists
     */
    public void addSeals(Seal... seals) throws LinuxException {
        int bits = 0;
        for (Seal s : seals) {
            bits |= s.bit;
        }
        LinuxException.check(LinuxNative.addSeals(fd.fd(), bits), "fcntl(" + fd.what() + ", F_ADD_SEALS, " + Set.of(seals) + ")",
                err -> switch (err) {
                    case Errno.EPERM -> "the memfd is sealed against new seals (F_SEAL_SEAL)";
                    case Errno.EBUSY -> "F_SEAL_WRITE needs every writable shared mapping to be unmapped first";
                    default -> null;
                });
    }

    /**
     * @return the seals in place
     * @throws LinuxException if {@code fcntl(F_GET_SEALS)} fails
     */
    public Set<Seal> seals() throws LinuxException {
        int bits = LinuxException.check(LinuxNative.getSeals(fd.fd()), "fcntl(" + fd.what() + ", F_GET_SEALS)");
        EnumSet<Seal> out = EnumSet.noneOf(Seal.class);
        for (Seal s : Seal.values()) {
            if ((bits & s.bit) != 0) {
                out.add(s);
            }
        }
        return out;
    }

    /** Closes the fd (exactly once); mappings of it stay valid until they are closed. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Memfd[" + name + ", " + fd + "]";
    }
}

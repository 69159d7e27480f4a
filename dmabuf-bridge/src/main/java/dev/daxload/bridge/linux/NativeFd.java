package dev.daxload.bridge.linux;

import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One open file descriptor that this process owns: a memfd, a dma-buf, a socket, a mount.
 *
 * <p>{@link #close()} closes it exactly once, however often and from however many threads it is
 * called: a second {@code close(2)} of the same number could close an unrelated fd that another
 * thread opened in between. All fds the bridge opens are close-on-exec, so child processes never
 * inherit them by accident (fd passing is the explicit way to share one).
 */
public final class NativeFd implements AutoCloseable {
    private final int fd;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    private NativeFd(int fd, String what) {
        this.fd = fd;
        this.what = what;
    }

    /**
     * Takes ownership of an open fd.
     *
     * @param fd the fd, not negative
     * @param what what it is, for messages ("memfd weights", "dma-buf")
     * @return the owner
     */
    public static NativeFd adopt(int fd, String what) {
        if (fd < 0) {
            throw new IllegalArgumentException("not an fd: " + fd);
        }
        return new NativeFd(fd, what);
    }

    /**
     * Opens a file.
     *
     * @param path the file
     * @param readWrite open for writing too
     * @return the fd
     * @throws LinuxException if {@code open(2)} fails
     */
    public static NativeFd open(java.nio.file.Path path, boolean readWrite) throws LinuxException {
        int flags = (int) (readWrite ? LinuxConstants.O_RDWR : LinuxConstants.O_RDONLY);
        int rc = LinuxException.check(LinuxNative.open(LinuxNative.cString(path.toString()), flags),
                "open(\"" + path + "\")", err -> err == Errno.ENOENT ? "no such file: " + path : null);
        return new NativeFd(rc, path.toString());
    }

    /**
     * @return the fd number
     * @throws IllegalStateException if it was closed
     */
    public int fd() {
        if (closed.get()) {
            throw new IllegalStateException(what + ": fd " + fd + " is closed");
        }
        return fd;
    }

    /** @return whether {@link #close()} has not been called */
    public boolean isOpen() {
        return !closed.get();
    }

    /** @return what the fd is, as given when it was adopted */
    public String what() {
        return what;
    }

    /**
     * @return a second fd for the same open file (close-on-exec), owned separately
     * @throws LinuxException if {@code fcntl(F_DUPFD_CLOEXEC)} fails
     */
    public NativeFd dup() throws LinuxException {
        return new NativeFd(LinuxException.check(LinuxNative.dup(fd()), "dup(" + fd + ")"), what);
    }

    /**
     * @return {@code st_size} from {@code fstat(2)} (a dma-buf reports its length)
     * @throws LinuxException if {@code fstat} fails
     */
    public long size() throws LinuxException {
        return LinuxException.check(LinuxNative.fstatSize(fd()), "fstat(" + fd + ")", null);
    }

    /**
     * Writes all of {@code data} at {@code offset} ({@code pwrite(2)}, repeated on short writes).
     *
     * @param data the bytes
     * @param offset the file offset
     * @throws LinuxException if {@code pwrite} fails
     */
    public void write(byte[] data, long offset) throws LinuxException {
        int done = 0;
        while (done < data.length) {
            byte[] rest = done == 0 ? data : java.util.Arrays.copyOfRange(data, done, data.length);
            long n = LinuxException.check(LinuxNative.pwrite(fd(), rest, rest.length, offset + done),
                    "pwrite(" + what + ")", null);
            done += (int) n;
        }
    }

    /**
     * Reads up to {@code length} bytes at {@code offset} ({@code pread(2)}, repeated until the
     * length or the end of the file).
     *
     * @param offset the file offset
     * @param length how many bytes at most
     * @return the bytes read (shorter at the end of the file)
     * @throws LinuxException if {@code pread} fails
     */
    public byte[] read(long offset, int length) throws LinuxException {
        byte[] buf = new byte[length];
        int done = 0;
        while (done < length) {
            byte[] part = new byte[length - done];
            long n = LinuxException.check(LinuxNative.pread(fd(), part, part.length, offset + done),
                    "pread(" + what + ")", null);
            if (n == 0) {
                break;
            }
            System.arraycopy(part, 0, buf, done, (int) n);
            done += (int) n;
        }
        return done == length ? buf : java.util.Arrays.copyOf(buf, done);
    }

    /**
     * Closes the fd; later calls do nothing.
     *
     * @throws UncheckedIOException wrapping a {@link LinuxException} if {@code close(2)} reports
     *         an error (the fd is released even then, as Linux always does)
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            int rc = LinuxNative.close(fd);
            if (rc < 0) {
                throw new UncheckedIOException(new LinuxException("close(" + fd + ", " + what + ")", -rc,
                        LinuxException.commonHint(-rc)));
            }
        }
    }

    /**
     * Closes {@code fd} if it is not null, adding any failure to {@code primary}; for error paths.
     *
     * @param fd the fd or null
     * @param primary the exception being thrown
     */
    public static void closeQuietly(NativeFd fd, Throwable primary) {
        if (fd == null) {
            return;
        }
        try {
            fd.close();
        } catch (RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    @Override
    public String toString() {
        return "NativeFd[" + fd + ", " + what + (closed.get() ? ", closed]" : "]");
    }
}

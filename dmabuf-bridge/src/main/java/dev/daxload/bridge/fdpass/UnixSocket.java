package dev.daxload.bridge.fdpass;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An AF_UNIX stream socket that carries file descriptors ({@code SCM_RIGHTS}): how one process
 * hands a memfd or a dma-buf to another. Java's own {@code UnixDomainSocketAddress} channels
 * cannot send fds, so the socket lives natively.
 *
 * <p>Each {@link #sendFds} is one {@code sendmsg}: its fds arrive with the first byte of its data,
 * so a receiver that reads exactly one message's worth at a time gets them together.
 */
public final class UnixSocket implements AutoCloseable {
    /** What {@link #receiveFds} got: the data bytes and the fds, which the caller now owns. */
    public record Message(byte[] data, List<NativeFd> fds) implements AutoCloseable {
        /** @return whether the peer closed the connection (no data, no fds) */
        public boolean endOfStream() {
            return data.length == 0 && fds.isEmpty();
        }

        /** Closes every received fd that the caller did not close itself. */
        @Override
        public void close() {
            for (NativeFd fd : fds) {
                fd.close();
            }
        }
    }

    private final NativeFd fd;

    private UnixSocket(NativeFd fd) {
        this.fd = fd;
    }

    /**
     * Binds a listening socket at a path (which must not exist; remove it when done).
     *
     * @param path the socket file, at most 107 bytes
     * @return the listening socket
     * @throws LinuxException EADDRINUSE if the path exists
     */
    public static UnixSocket listen(Path path) throws LinuxException {
        int rc = LinuxNative.unixListen(LinuxNative.cString(path.toString()), 16);
        LinuxException.check(rc, "bind+listen(AF_UNIX " + path + ")", err -> switch (err) {
            case Errno.EADDRINUSE -> path + " exists already: remove it, or pick another path";
            default -> pathHint(err, path);
        });
        return new UnixSocket(NativeFd.adopt(rc, "unix listener " + path));
    }

    /**
     * Connects to a listening socket.
     *
     * @param path the socket file
     * @return the connected socket
     * @throws LinuxException ECONNREFUSED / ENOENT when nobody listens there
     */
    public static UnixSocket connect(Path path) throws LinuxException {
        int rc = LinuxNative.unixConnect(LinuxNative.cString(path.toString()));
        LinuxException.check(rc, "connect(AF_UNIX " + path + ")", err -> switch (err) {
            case Errno.ECONNREFUSED, Errno.ENOENT -> "nobody listens at " + path + ": start the receiving side first";
            default -> pathHint(err, path);
        });
        return new UnixSocket(NativeFd.adopt(rc, "unix socket " + path));
    }

    /**
     * @return a connected pair ({@code socketpair(2)}), for passing fds within a process or to a
     *         child
     * @throws LinuxException if {@code socketpair} fails
     */
    public static UnixSocket[] pair() throws LinuxException {
        int[] fds = new int[2];
        LinuxException.check(LinuxNative.unixSocketpair(fds), "socketpair(AF_UNIX)");
        return new UnixSocket[] {new UnixSocket(NativeFd.adopt(fds[0], "unix pair 0")),
                new UnixSocket(NativeFd.adopt(fds[1], "unix pair 1"))};
    }

    /**
     * Waits for one connection on a listening socket.
     *
     * @return the connected socket
     * @throws LinuxException if {@code accept} fails
     */
    public UnixSocket accept() throws LinuxException {
        int rc = LinuxException.check(LinuxNative.unixAccept(fd.fd()), "accept(" + fd.what() + ")");
        return new UnixSocket(NativeFd.adopt(rc, "unix connection"));
    }

    /**
     * Sends {@code data} and the fds in one message. The fds stay open here; the receiver gets
     * its own (a new fd number for the same open file).
     *
     * @param data at least one byte (a stream socket cannot carry fds without data)
     * @param fds up to 253 fds
     * @throws LinuxException if {@code sendmsg} fails
     */
    public void sendFds(byte[] data, NativeFd... fds) throws LinuxException {
        if (data.length == 0) {
            throw new IllegalArgumentException("fd passing needs at least one data byte");
        }
        if (fds.length > LinuxConstants.MAX_FDS_PER_MESSAGE) {
            throw new IllegalArgumentException("at most " + LinuxConstants.MAX_FDS_PER_MESSAGE + " fds per message");
        }
        int[] nums = new int[fds.length];
        for (int i = 0; i < fds.length; i++) {
            nums[i] = fds[i].fd();
        }
        int done = 0;
        while (done < data.length) {
            byte[] rest = done == 0 ? data : Arrays.copyOfRange(data, done, data.length);
            // The fds travel with the first part only; a short write sends the rest without them.
            long n = LinuxException.check(LinuxNative.sendFds(fd.fd(), rest, rest.length, nums, done == 0 ? nums.length : 0),
                    "sendmsg(" + fd.what() + ", " + rest.length + " bytes, " + (done == 0 ? nums.length : 0) + " fds)",
                    err -> switch (err) {
                        case Errno.EPIPE -> "the peer closed the connection";
                        case Errno.ENOTSOCK -> fd.what() + " is not a socket";
                        default -> null;
                    });
            done += (int) n;
        }
    }

    /**
     * Receives one message: up to {@code maxBytes} bytes and up to {@code maxFds} fds. If the
     * peer sent more fds than {@code maxFds}, all that arrived are closed and EMSGSIZE thrown, so
     * nothing leaks.
     *
     * @param maxBytes the most data bytes to read
     * @param maxFds the most fds to accept
     * @return the message; empty data and no fds at end of stream
     * @throws LinuxException if {@code recvmsg} fails
     */
    public Message receiveFds(int maxBytes, int maxFds) throws LinuxException {
        if (maxBytes < 1 || maxFds < 0 || maxFds > LinuxConstants.MAX_FDS_PER_MESSAGE) {
            throw new IllegalArgumentException("maxBytes >= 1 and 0 <= maxFds <= " + LinuxConstants.MAX_FDS_PER_MESSAGE);
        }
        byte[] buf = new byte[maxBytes];
        int[] fds = new int[Math.max(maxFds, 1)];
        int[] count = new int[1];
        long n = LinuxException.check(LinuxNative.recvFds(fd.fd(), buf, maxBytes, fds, maxFds, count),
                "recvmsg(" + fd.what() + ")", err -> err == Errno.EMSGSIZE
                        ? "the peer sent more than " + maxFds + " fds in one message (all were closed): receive with a larger maxFds"
                        : null);
        List<NativeFd> got = new ArrayList<>(count[0]);
        for (int i = 0; i < count[0]; i++) {
            got.add(NativeFd.adopt(fds[i], "received fd"));
        }
        return new Message(Arrays.copyOf(buf, (int) n), List.copyOf(got));
    }

    /** @return the socket's fd */
    public NativeFd fd() {
        return fd;
    }

    /** Closes the socket, once. */
    @Override
    public void close() {
        fd.close();
    }

    private static String pathHint(int err, Path path) {
        return switch (err) {
            case Errno.ENAMETOOLONG -> "a socket path holds at most 107 bytes: " + path;
            case Errno.EACCES -> "no permission to create or connect at " + path;
            default -> null;
        };
    }
}

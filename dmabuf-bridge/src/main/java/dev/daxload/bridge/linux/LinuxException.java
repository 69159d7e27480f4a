package dev.daxload.bridge.linux;

import java.io.IOException;
import java.util.function.IntFunction;

/**
 * A Linux call failed. The message names the call, the errno (symbol and text) and, where the
 * bridge knows one, what to do about it, for example:
 * {@code fsopen("daxfs") failed: ENODEV (No such device): no daxfs filesystem in this kernel:
 * load the module (insmod daxfs.ko)}.
 */
public class LinuxException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;
    private final String errnoName;
    private final String hint;

    /**
     * @param call the call as a person would write it, with the arguments that matter
     * @param errno the positive errno
     * @param hint what to do, or {@code null} when there is nothing better than the errno
     */
    public LinuxException(String call, int errno, String hint) {
        super(format(call, errno, hint));
        this.call = call;
        this.errno = errno;
        this.errnoName = name(errno);
        this.hint = hint;
    }

    /** @return the failed call, for example {@code fsopen("daxfs")} */
    public String call() {
        return call;
    }

    /** @return the positive errno */
    public int errno() {
        return errno;
    }

    /** @return the symbolic errno, for example {@code ENODEV} */
    public String errnoName() {
        return errnoName;
    }

    /** @return what to do, or {@code null} */
    public String hint() {
        return hint;
    }

    /**
     * Turns a native result into a value or an exception.
     *
     * @param rc the result: non-negative, or {@code -errno}
     * @param call the call, for the message
     * @param hints the call's own hints by errno (may return {@code null}); {@link #commonHint}
     *              is used where it has none
     * @return {@code rc} when it is not negative
     * @throws LinuxException when it is
     */
    public static long check(long rc, String call, IntFunction<String> hints) throws LinuxException {
        if (rc >= 0) {
            return rc;
        }
        int err = (int) -rc;
        String hint = hints == null ? null : hints.apply(err);
        throw new LinuxException(call, err, hint != null ? hint : commonHint(err));
    }

    /** {@link #check(long, String, IntFunction)} for calls that return an int. */
    public static int check(int rc, String call, IntFunction<String> hints) throws LinuxException {
        return (int) check((long) rc, call, hints);
    }

    /** {@link #check(long, String, IntFunction)} with only the common hints. */
    public static int check(int rc, String call) throws LinuxException {
        return (int) check((long) rc, call, null);
    }

    /**
     * Hints that hold whatever the call was.
     *
     * @param errno the positive errno
     * @return a hint, or {@code null}
     */
    public static String commonHint(int errno) {
        return switch (errno) {
            case Errno.EPERM -> "EPERM: this needs a privilege the process lacks (mounting needs CAP_SYS_ADMIN: run as root)";
            case Errno.EACCES -> "permission denied: check the file's mode or run as root";
            case Errno.EMFILE -> "too many open files in this process: close fds (a leak?) or raise `ulimit -n`";
            case Errno.ENOMEM -> "the kernel could not find the memory: try a smaller size";
            case Errno.ENOSYS -> "this kernel lacks the system call: a newer kernel is needed (6.1 or later is known to work)";
            case Errno.EBADF -> "the fd is not open (closed already?) or not open for this use";
            default -> null;
        };
    }

    static String name(int errno) {
        try {
            String n = LinuxNative.errnoName(errno);
            return n == null || n.isEmpty() ? "errno " + errno : n;
        } catch (LinkageError e) {
            return "errno " + errno;
        }
    }

    private static String format(String call, int errno, String hint) {
        String text;
        try {
            text = LinuxNative.errnoText(errno);
        } catch (LinkageError e) {
            text = "";
        }
        StringBuilder sb = new StringBuilder(call).append(" failed: ").append(name(errno));
        if (text != null && !text.isEmpty()) {
            sb.append(" (").append(text).append(')');
        }
        if (hint != null) {
            sb.append(": ").append(hint);
        }
        return sb.toString();
    }
}

package dev.daxload.bridge.fdpass;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

/**
 * Takes a copy of another process's fd ({@code pidfd_open} + {@code pidfd_getfd}, Linux 5.6+):
 * the way to reach, say, a server's memfd without the server's cooperation. It needs ptrace
 * rights over that process (same user without Yama restrictions, or CAP_SYS_PTRACE).
 */
public final class Pidfd {
    private Pidfd() {}

    /**
     * Duplicates fd {@code targetFd} of process {@code pid} into this process.
     *
     * @param pid the other process
     * @param targetFd the fd number in that process
     * @return the new fd here (close-on-exec), same open file
     * @throws LinuxException ESRCH no such process, EBADF no such fd there, EPERM no ptrace right
     */
    public static NativeFd getFd(long pid, int targetFd) throws LinuxException {
        if (pid <= 0 || pid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("not a pid: " + pid);
        }
        int rc = LinuxNative.pidfdSteal((int) pid, targetFd);
        LinuxException.check(rc, "pidfd_getfd(pid " + pid + ", fd " + targetFd + ")", err -> switch (err) {
            case Errno.ESRCH -> "no process " + pid + " (it exited?)";
            case Errno.EBADF -> "process " + pid + " has no fd " + targetFd;
            case Errno.EPERM -> "no ptrace rights over process " + pid + ": run as the same user (check /proc/sys/kernel/yama/ptrace_scope) or with CAP_SYS_PTRACE";
            case Errno.ENOSYS -> "this kernel lacks pidfd_getfd (Linux 5.6 or later needed)";
            default -> null;
        });
        return NativeFd.adopt(rc, "fd " + targetFd + " of pid " + pid);
    }
}

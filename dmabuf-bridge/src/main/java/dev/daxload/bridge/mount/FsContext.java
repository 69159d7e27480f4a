package dev.daxload.bridge.mount;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * A filesystem context of the new mount API: {@code fsopen}, {@code fsconfig}, {@code fsmount},
 * {@code move_mount}. Unlike {@code mount(2)} it can take an fd as an option (the dma-buf of a
 * DAXFS image), and the kernel explains its refusals in the context's log, which this class adds
 * to the exception messages.
 */
public final class FsContext implements AutoCloseable {
    private final NativeFd fd;
    private final String fsType;

    private FsContext(NativeFd fd, String fsType) {
        this.fd = fd;
        this.fsType = fsType;
    }

    /**
     * Opens a context for a filesystem type ({@code fsopen(2)}).
     *
     * @param fsType for example {@code "daxfs"} or {@code "tmpfs"}
     * @return the context
     * @throws LinuxException ENODEV when the kernel has no such filesystem, EPERM without
     *         CAP_SYS_ADMIN
     */
    public static FsContext open(String fsType) throws LinuxException {
        int rc = LinuxNative.fsopen(LinuxNative.cString(fsType));
        LinuxException.check(rc, "fsopen(\"" + fsType + "\")", err -> switch (err) {
            case Errno.ENODEV -> "daxfs".equals(fsType)
                    ? "no daxfs filesystem in this kernel: load the module (insmod daxfs.ko)"
                    : "no " + fsType + " filesystem in this kernel (see /proc/filesystems): load its module";
            case Errno.EPERM -> "EPERM: mounting needs CAP_SYS_ADMIN (root)";
            default -> null;
        });
        return new FsContext(NativeFd.adopt(rc, "fs context " + fsType), fsType);
    }

    /** @return the filesystem type */
    public String fsType() {
        return fsType;
    }

    /**
     * Sets a flag option ({@code FSCONFIG_SET_FLAG}), for example {@code validate}.
     *
     * @param key the option
     * @return this
     * @throws LinuxException if the filesystem rejects it
     */
    public FsContext setFlag(String key) throws LinuxException {
        config((int) LinuxConstants.FSCONFIG_SET_FLAG, key, null, 0, key, null);
        return this;
    }

    /**
     * Sets a string option ({@code FSCONFIG_SET_STRING}), for example {@code size=1M}.
     *
     * @param key the option
     * @param value its value
     * @return this
     * @throws LinuxException if the filesystem rejects it
     */
    public FsContext setString(String key, String value) throws LinuxException {
        config((int) LinuxConstants.FSCONFIG_SET_STRING, key, value, 0, key + "=" + value, null);
        return this;
    }

    /**
     * Sets an fd option ({@code FSCONFIG_SET_FD}), for example daxfs's {@code dmabuf}. The kernel
     * takes its own reference; the caller keeps and closes {@code value}.
     *
     * @param key the option
     * @param value the fd
     * @return this
     * @throws LinuxException if the filesystem rejects it
     */
    public FsContext setFd(String key, NativeFd value) throws LinuxException {
        config((int) LinuxConstants.FSCONFIG_SET_FD, key, null, value.fd(), key + "=<fd " + value.what() + ">",
                err -> err == Errno.EINVAL ? "the " + fsType + " filesystem does not take an fd for " + key : null);
        return this;
    }

    /**
     * Creates the superblock ({@code FSCONFIG_CMD_CREATE}): here the filesystem reads its
     * source and says whether it can mount it.
     *
     * @throws LinuxException with the kernel's own explanation when it cannot
     */
    public void create() throws LinuxException {
        config((int) LinuxConstants.FSCONFIG_CMD_CREATE, null, null, 0, "FSCONFIG_CMD_CREATE", null);
    }

    /**
     * Mounts the created superblock at {@code dir} ({@code fsmount} then {@code move_mount}). The
     * intermediate mount fd is closed on every path: once moved, the mount lives in the tree.
     *
     * @param dir an existing directory
     * @param readOnly mount with {@code MOUNT_ATTR_RDONLY}
     * @throws LinuxException if either call fails
     */
    public void mountAt(Path dir, boolean readOnly) throws LinuxException {
        int attrs = readOnly ? (int) LinuxConstants.MOUNT_ATTR_RDONLY : 0;
        int rc = LinuxNative.fsmount(fd.fd(), attrs);
        LinuxException.check(rc, "fsmount(" + fsType + ")", err -> switch (err) {
            case Errno.EINVAL -> "the context was not created (FSCONFIG_CMD_CREATE) or the mount attributes are invalid";
            case Errno.EBUSY -> "this context was already mounted";
            default -> null;
        });
        try (NativeFd mnt = NativeFd.adopt(rc, "mount " + fsType)) {
            LinuxException.check(LinuxNative.moveMountTo(mnt.fd(), LinuxNative.cString(dir.toString())),
                    "move_mount(" + fsType + " -> " + dir + ")", err -> switch (err) {
                        case Errno.ENOENT -> "no directory " + dir;
                        case Errno.ENOTDIR -> dir + " is not a directory";
                        case Errno.EINVAL -> dir + " is not in a mount tree this process may change (a shared or locked mount?)";
                        default -> null;
                    });
        }
    }

    /**
     * Drains the kernel's messages about this context ("e ..." errors, "w ..." warnings).
     *
     * @return the messages, oldest first; empty when there are none
     */
    public List<String> log() {
        List<String> out = new ArrayList<>();
        byte[] buf = new byte[1024];
        for (int i = 0; i < 64; i++) {
            int n = LinuxNative.fsReadLog(fd.fd(), buf, buf.length);
            if (n <= 0) {
                break;
            }
            out.add(new String(buf, 0, n, StandardCharsets.UTF_8).strip());
        }
        return out;
    }

    /** Closes the context (exactly once); a mount made from it stays. */
    @Override
    public void close() {
        fd.close();
    }

    /**
     * Unmounts {@code dir} ({@code umount2(2)}).
     *
     * @param dir the mount point
     * @param detach {@code MNT_DETACH}: detach now, finish when the last user is gone
     * @throws LinuxException EBUSY while files are open without detach; EINVAL if not a mount point
     */
    public static void unmount(Path dir, boolean detach) throws LinuxException {
        int flags = detach ? (int) LinuxConstants.MNT_DETACH : 0;
        LinuxException.check(LinuxNative.umount2(LinuxNative.cString(dir.toString()), flags),
                "umount2(" + dir + (detach ? ", MNT_DETACH)" : ")"), err -> switch (err) {
                    case Errno.EBUSY -> "files or mappings on " + dir + " are still in use: close them, or unmount with detach";
                    case Errno.EINVAL -> dir + " is not a mount point";
                    case Errno.ENOENT -> "no such directory " + dir;
                    case Errno.EPERM -> "EPERM: unmounting needs CAP_SYS_ADMIN (root)";
                    default -> null;
                });
    }

    private void config(int cmd, String key, String value, int aux, String what, IntFunction<String> hints)
            throws LinuxException {
        int rc = LinuxNative.fsconfig(fd.fd(), cmd, key == null ? null : LinuxNative.cString(key),
                value == null ? null : LinuxNative.cString(value), aux);
        if (rc >= 0) {
            return;
        }
        // The kernel's log usually says more than the errno: put it in the message.
        List<String> log = log();
        String call = "fsconfig(" + fsType + ", " + what + ")";
        int err = -rc;
        String hint = hints == null ? null : hints.apply(err);
        if (hint == null) {
            hint = switch (err) {
                case Errno.EINVAL -> log.isEmpty() ? "the " + fsType + " filesystem rejected this (see dmesg)" : null;
                case Errno.EPERM -> "EPERM: mounting needs CAP_SYS_ADMIN (root)";
                default -> LinuxException.commonHint(err);
            };
        }
        if (!log.isEmpty()) {
            hint = (hint == null ? "" : hint + "; ") + "kernel says: " + String.join(" | ", log);
        }
        throw new LinuxException(call, err, hint);
    }
}

package dev.daxload.bridge.mount;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class MountApiTest {

    @Test
    void fsopenDaxfsWithoutTheModuleSaysToLoadIt() throws Exception {
        assumeFalse(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"),
                "this kernel has daxfs loaded; the missing-module message cannot be seen here");
        LinuxException e = assertThrows(LinuxException.class, () -> FsContext.open("daxfs"));
        skipIfNotPermitted(e, "fsopen needs CAP_SYS_ADMIN, which this process lacks");
        assertEquals(Errno.ENODEV, e.errno());
        assertEquals("ENODEV", e.errnoName());
        assertEquals("fsopen(\"daxfs\")", e.call());
        assertEquals("fsopen(\"daxfs\") failed: ENODEV (No such device): "
                + "no daxfs filesystem in this kernel: load the module (insmod daxfs.ko)", e.getMessage());
    }

    @Test
    void mountingADmaBufWithoutDaxfsFailsAtFsopenAndLeavesTheBufferOpen(@TempDir Path dir) throws Exception {
        assumeFalse(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"), "daxfs is loaded here");
        try (Memfd m = Memfd.create("daxload-not-mounted", 4096)) {
            LinuxException e = assertThrows(LinuxException.class, () -> DaxfsMount.mountDmaBuf(m.fd(), dir, false));
            skipIfNotPermitted(e, "not permitted to mount here");
            assertTrue(e.getMessage().contains("load the module"), e.getMessage());
            assertTrue(m.fd().isOpen(), "the caller still owns its fd");
        }
    }

    @Test
    void theMountApiMountsTmpfsAndUnmountsIt(@TempDir Path dir) throws Exception {
        try (FsContext fc = openOrSkip("tmpfs")) {
            fc.setString("size", "1M").setString("mode", "0700");
            fc.create();
            try {
                fc.mountAt(dir, false);
            } catch (LinuxException e) {
                skipIfNotPermitted(e, "move_mount is not permitted here");
                throw e;
            }
        }
        try {
            assertTrue(mountedAt(dir), "listed in /proc/self/mountinfo");
            Files.writeString(dir.resolve("x"), "on tmpfs");
            assertEquals("on tmpfs", Files.readString(dir.resolve("x")));
        } finally {
            DaxfsMount.unmount(dir);
        }
        assertFalse(mountedAt(dir), "gone after unmount");
        assertFalse(Files.exists(dir.resolve("x")), "the file lived on the tmpfs");
    }

    @Test
    void aReadOnlyMountRefusesWrites(@TempDir Path dir) throws Exception {
        try (FsContext fc = openOrSkip("tmpfs")) {
            fc.create();
            fc.mountAt(dir, true);
        }
        try {
            assertThrows(java.io.IOException.class, () -> Files.writeString(dir.resolve("y"), "no"));
        } finally {
            FsContext.unmount(dir, true);
        }
    }

    @Test
    void aRejectedOptionCarriesTheKernelsOwnWords() throws Exception {
        try (FsContext fc = openOrSkip("tmpfs")) {
            LinuxException e = assertThrows(LinuxException.class, () -> fc.setString("size", "lots"));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().startsWith("fsconfig(tmpfs, size=lots) failed: EINVAL"), e.getMessage());
            assertTrue(e.getMessage().contains("kernel says: e tmpfs: Bad value for 'size'"), e.getMessage());
        }
    }

    @Test
    void aFsTypeThatTakesNoFdSaysSo() throws Exception {
        try (FsContext fc = openOrSkip("tmpfs"); Memfd m = Memfd.create("daxload-fdopt", 4096)) {
            LinuxException e = assertThrows(LinuxException.class, () -> fc.setFd("dmabuf", m.fd()));
            assertEquals(Errno.EINVAL, e.errno());
            assertTrue(e.getMessage().contains("dmabuf"), e.getMessage());
        }
    }

    @Test
    void unmountingSomethingThatIsNotAMountSaysSo(@TempDir Path dir) {
        assumeTrue(Probe.isRootish(), "umount2 reports EPERM before EINVAL without CAP_SYS_ADMIN");
        LinuxException e = assertThrows(LinuxException.class, () -> DaxfsMount.unmount(dir));
        assertEquals(Errno.EINVAL, e.errno());
        assertTrue(e.getMessage().contains("is not a mount point"), e.getMessage());
    }

    @Test
    void getDmaBufOnAnOrdinaryFileIsRefused(@TempDir Path dir) throws Exception {
        Path f = Files.writeString(dir.resolve("plain"), "x");
        LinuxException e = assertThrows(LinuxException.class, () -> {
            try (NativeFd unexpected = DaxfsMount.getDmaBuf(f)) {
                unexpected.fd();
            }
        });
        assertEquals(Errno.ENOTTY, e.errno());
        assertTrue(e.getMessage().contains("not on a daxfs mount"), e.getMessage());
    }

    static FsContext openOrSkip(String type) throws LinuxException {
        try {
            return FsContext.open(type);
        } catch (LinuxException e) {
            skipIfNotPermitted(e, "the mount API is not permitted here");
            throw e;
        }
    }

    /**
     * Skips the calling test when {@code e} says only that this process may not do it (EPERM,
     * EACCES); any other errno is a real failure and comes back to the caller to be asserted on.
     */
    static void skipIfNotPermitted(LinuxException e, String what) {
        assumeTrue(e.errno() != Errno.EPERM && e.errno() != Errno.EACCES, () -> what + ": " + e.getMessage());
    }

    static boolean mountedAt(Path dir) throws Exception {
        String real = dir.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .anyMatch(l -> l.split(" ")[4].equals(real));
    }

    /** Local copy of the root check, since Probe sits in the parent package. */
    static final class Probe {
        static boolean isRootish() {
            return "root".equals(System.getProperty("user.name"));
        }
    }
}

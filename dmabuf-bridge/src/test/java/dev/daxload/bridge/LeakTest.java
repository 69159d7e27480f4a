package dev.daxload.bridge;

import dev.daxload.bridge.dmabuf.DmaBufSync;
import dev.daxload.bridge.dmabuf.DmaHeap;
import dev.daxload.bridge.dmabuf.Udmabuf;
import dev.daxload.bridge.fdpass.Pidfd;
import dev.daxload.bridge.fdpass.UnixSocket;
import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.memfd.Seal;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.bridge.mount.FsContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Many create/close cycles and error paths, with the kernel's own accounts before and after:
 * {@code /proc/self/fd} and {@code /proc/self/maps}. Each cycle makes at least one fd and one
 * mapping, so a leak on any path shows as hundreds of extra entries, not as noise.
 */
class LeakTest {
    private static final int CYCLES = 300;
    private static final String NAME = "daxload-leak";

    @Test
    void createMapCloseCyclesLeaveNothing(@TempDir Path dir) throws Exception {
        cycle(dir, 5); // warm up: class loading, lazily opened JDK fds
        ProcSnapshot before = ProcSnapshot.take();
        cycle(dir, CYCLES);
        assertNothingLeft(before);
    }

    /** The dma-buf half of the cycles has its own test, so a machine without the devices reports a skip, not a pass. */
    @Test
    void dmaBufCyclesLeaveNothing() throws Exception {
        boolean udmabuf = Files.exists(Udmabuf.DEVICE);
        boolean heap = Files.exists(DmaHeap.SYSTEM);
        assumeTrue(udmabuf || heap, "no " + Udmabuf.DEVICE + " and no " + DmaHeap.SYSTEM + " here: the dma-buf cycles cannot run");
        dmaBufCycle(udmabuf, heap, 5);
        ProcSnapshot before = ProcSnapshot.take();
        dmaBufCycle(udmabuf, heap, CYCLES);
        assertNothingLeft(before);
    }

    @Test
    void errorPathsLeaveNothing(@TempDir Path dir) throws Exception {
        errorPaths(dir);
        ProcSnapshot before = ProcSnapshot.take();
        for (int i = 0; i < CYCLES; i++) {
            errorPaths(dir);
        }
        assertNothingLeft(before);
    }

    @Test
    void theCountersSeeALeakWhenThereIsOne() throws Exception {
        // The check itself must be able to fail: leak on purpose, see it, then clean up.
        dev.daxload.bridge.linux.LinuxNative.load();
        ProcSnapshot before = ProcSnapshot.take();
        try (Memfd m = Memfd.create(NAME + "-deliberate", 4096);
             Mapping map = Mapping.map(m.fd(), 0, 4096, Mapping.Access.READ)) {
            ProcSnapshot during = ProcSnapshot.take();
            assertEquals(before.bridgeFds().size() + 1, during.bridgeFds().size());
            assertEquals(1, during.mapsMatching(NAME + "-deliberate").size());
            assertTrue(map.isOpen());
        }
        assertNothingLeft(before);
    }

    private static void cycle(Path dir, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            try (Memfd m = Memfd.create(NAME, 8192);
                 Mapping a = Mapping.map(m.fd(), 0, 8192, Mapping.Access.READ_WRITE, Mapping.Option.POPULATE);
                 Mapping b = Mapping.map(m.fd(), 4096, 4096, Mapping.Access.READ)) {
                a.segment().set(ValueLayout.JAVA_INT, 4096, i);
                assertEquals(i, b.segment().get(ValueLayout.JAVA_INT, 0));
                UnixSocket[] pair = UnixSocket.pair();
                try (UnixSocket x = pair[0]; UnixSocket y = pair[1]) {
                    x.sendFds(new byte[] {1}, m.fd());
                    try (UnixSocket.Message msg = y.receiveFds(1, 1)) {
                        assertEquals(1, msg.fds().size());
                    }
                }
                try (NativeFd own = Pidfd.getFd(ProcessHandle.current().pid(), m.fd().fd())) {
                    assertEquals(8192, own.size());
                }
            }
        }
    }

    private static void dmaBufCycle(boolean udmabuf, boolean heap, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            if (udmabuf) {
                try (Memfd m = Memfd.create(NAME, 8192);
                     Mapping a = Mapping.map(m.fd(), 0, 8192, Mapping.Access.READ_WRITE)) {
                    a.segment().set(ValueLayout.JAVA_INT, 4096, i);
                    m.addSeals(Seal.SHRINK);
                    try (NativeFd buf = Udmabuf.create(m, 0, 8192);
                         Mapping c = Mapping.map(buf, 0, 8192, Mapping.Access.READ);
                         DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.READ)) {
                        assertEquals(i, c.segment().get(ValueLayout.JAVA_INT, 4096));
                    }
                }
            }
            if (heap) {
                try (NativeFd buf = DmaHeap.allocate(DmaHeap.SYSTEM, 4096);
                     Mapping c = Mapping.map(buf, 0, 4096, Mapping.Access.READ_WRITE)) {
                    c.segment().set(ValueLayout.JAVA_INT, 0, i);
                }
            }
        }
    }

    private static void errorPaths(Path dir) throws Exception {
        try (Memfd m = Memfd.create(NAME + "-err", 8192)) {
            // mmap with bad sizes and offsets
            assertThrows(LinuxException.class, () -> Mapping.map(m.fd(), 0, 0, Mapping.Access.READ));
            assertThrows(LinuxException.class, () -> Mapping.map(m.fd(), 1, 4096, Mapping.Access.READ));
            // udmabuf: on a memfd without seals where the device exists, on a missing device elsewhere
            assertThrows(LinuxException.class, () -> Udmabuf.create(m, 0, 8192));
            assertThrows(LinuxException.class, () -> Udmabuf.create(dir.resolve("no-udmabuf"), m, 0, 8192));
            assertThrows(LinuxException.class, () -> DmaHeap.allocate(dir.resolve("no-heap"), 4096));
            // sockets that fail after socket(): connect to nobody, bind to a taken path
            assertThrows(LinuxException.class, () -> UnixSocket.connect(dir.resolve("nobody")));
            Path taken = Files.writeString(dir.resolve("taken"), "");
            assertThrows(LinuxException.class, () -> UnixSocket.listen(taken));
            // fds that arrive but do not fit are closed
            UnixSocket[] pair = UnixSocket.pair();
            try (UnixSocket x = pair[0]; UnixSocket y = pair[1]) {
                x.sendFds(new byte[] {1}, m.fd(), m.fd());
                assertThrows(LinuxException.class, () -> y.receiveFds(1, 1));
            }
            // pidfd opened, getfd fails: the pidfd must be closed
            assertThrows(LinuxException.class, () -> Pidfd.getFd(ProcessHandle.current().pid(), 1_000_000));
            // the mount API: a missing filesystem, and a context whose configuration fails
            assertThrows(LinuxException.class, () -> FsContext.open("daxload-no-such-fs"));
            assertThrows(LinuxException.class, () -> DaxfsMount.mountDmaBuf(m.fd(), dir, false));
            try (FsContext fc = FsContext.open("tmpfs")) {
                assertThrows(LinuxException.class, () -> fc.setString("size", "lots"));
            } catch (LinuxException e) {
                // without CAP_SYS_ADMIN fsopen itself fails, which is also an error path; any other
                // errno from fsopen("tmpfs") is a real failure
                if (e.errno() != Errno.EPERM && e.errno() != Errno.EACCES) {
                    throw e;
                }
            }
            // the daxfs ioctl on a file that is not on a daxfs mount (open, ioctl fails, close)
            assertThrows(LinuxException.class, () -> DaxfsMount.getDmaBuf(taken));
            Files.delete(taken);
        }
    }

    private static void assertNothingLeft(ProcSnapshot before) throws Exception {
        ProcSnapshot after = ProcSnapshot.take();
        assertEquals(before.bridgeFds(), after.bridgeFds(),
                () -> "fds left open:\n" + ProcSnapshot.diff(before.bridgeFds(), after.bridgeFds()));
        assertEquals(before.mapsMatching(NAME), after.mapsMatching(NAME), "memfd mappings left");
        assertEquals(before.mapsMatching(" /dmabuf:"), after.mapsMatching(" /dmabuf:"), "dma-buf mappings left");
        // Every fd and mapping of the JVM, for leaks of kinds the filters above do not name; the
        // JVM itself may open or map a few things meanwhile, far fewer than one per cycle.
        assertTrue(after.fds().size() - before.fds().size() < CYCLES / 10,
                () -> "fds grew:\n" + ProcSnapshot.diff(before.fds(), after.fds()));
        assertTrue(after.maps().size() - before.maps().size() < CYCLES / 10,
                () -> "mappings grew by " + (after.maps().size() - before.maps().size()));
    }
}

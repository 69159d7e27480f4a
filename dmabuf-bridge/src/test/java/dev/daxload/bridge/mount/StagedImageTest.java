package dev.daxload.bridge.mount;

import dev.daxload.bridge.ProcSnapshot;
import dev.daxload.bridge.dmabuf.DmaHeap;
import dev.daxload.bridge.dmabuf.TinyImage;
import dev.daxload.bridge.dmabuf.Udmabuf;
import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.memfd.Seal;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.image.DaxImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The first half of {@code daxload mount}: validate, place in a dma-buf, check the copy; then the mount. */
class StagedImageTest {
    private static final String NO_HEAP = "no /dev/dma_heap/system on this machine (runs under the QEMU harness)";
    private static final String NO_UDMABUF = "no /dev/udmabuf on this machine (runs under the QEMU harness)";
    private static final String NO_DAXFS = "no daxfs filesystem in this kernel (needs the out-of-tree daxfs module)";

    static Path tiny(Path dir) throws IOException {
        return Files.write(dir.resolve("tiny.daxfs"), TinyImage.bytes());
    }

    static boolean daxfs() throws IOException {
        return Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n");
    }

    @Test
    void anUnsoundImageIsRefusedBeforeAnythingIsAllocated(@TempDir Path dir) throws Exception {
        byte[] bad = TinyImage.bytes();
        bad[4096] ^= 0x55; // base superblock magic
        Path file = Files.write(dir.resolve("bad.daxfs"), bad);
        // A heap path that does not exist: if validation did not come first, ENOENT would.
        IOException e = assertThrows(IOException.class, () -> StagedImage.inHeap(file, dir.resolve("no-heap"), null));
        assertTrue(e.getMessage().contains("refusing to mount an unsound image") && e.getMessage().contains("daxload verify"), e.getMessage());
        assertThrows(IOException.class, () -> StagedImage.inUdmabuf(file, dir.resolve("no-udmabuf"), null));
        assertFalse(StagedImage.validateFile(file).sound());
        assertTrue(StagedImage.validateFile(tiny(dir)).sound());
    }

    @Test
    void aSoundImageReachesTheDeviceAndItsAbsenceIsExplained(@TempDir Path dir) throws Exception {
        Path file = tiny(dir);
        LinuxException heap = assertThrows(LinuxException.class, () -> StagedImage.inHeap(file, dir.resolve("no-heap"), null));
        assertEquals(Errno.ENOENT, heap.errno());
        assertTrue(heap.getMessage().contains("--via udmabuf"), heap.getMessage());
        LinuxException udma = assertThrows(LinuxException.class, () -> StagedImage.inUdmabuf(file, dir.resolve("no-udmabuf"), null));
        assertTrue(udma.getMessage().contains("modprobe udmabuf"), udma.getMessage());
    }

    @Test
    void theMemfdCopyIsTheImageSealedAndPageAligned(@TempDir Path dir) throws Exception {
        Path file = Files.write(dir.resolve("odd.daxfs"), java.util.Arrays.copyOf(TinyImage.bytes(), TinyImage.SIZE + 100));
        try (Memfd m = StagedImage.copyToMemfd(file, "daxload-test-copy");
             Mapping map = Mapping.map(m.fd(), 0, m.size(), Mapping.Access.READ)) {
            assertEquals(StagedImage.pageAlign(TinyImage.SIZE + 100), m.size());
            assertTrue(m.seals().contains(Seal.SHRINK) && m.seals().contains(Seal.GROW));
            assertArrayEquals(Files.readAllBytes(file), map.segment().asSlice(0, TinyImage.SIZE + 100).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void memfdCopiesAndFailedStagingsLeakNothing(@TempDir Path dir) throws Exception {
        Path file = tiny(dir);
        Path bad = Files.write(dir.resolve("bad.daxfs"), new byte[8192]);
        Runnable cycle = () -> {
            try {
                try (Memfd m = StagedImage.copyToMemfd(file, "daxload-leak")) {
                    assertEquals(TinyImage.SIZE, m.size());
                }
                assertThrows(IOException.class, () -> StagedImage.inUdmabuf(file, dir.resolve("none"), "daxload-leak"));
                assertThrows(IOException.class, () -> StagedImage.inHeap(bad, DmaHeap.SYSTEM, null));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        cycle.run();
        ProcSnapshot before = ProcSnapshot.take();
        for (int i = 0; i < 200; i++) {
            cycle.run();
        }
        ProcSnapshot after = ProcSnapshot.take();
        assertEquals(before.bridgeFds(), after.bridgeFds(), ProcSnapshot.diff(before.bridgeFds(), after.bridgeFds()));
        assertEquals(before.mapsMatching("memfd:"), after.mapsMatching("memfd:"));
    }

    @Test
    void theSystemHeapHoldsAVerifiedCopy(@TempDir Path dir) throws Exception {
        assumeTrue(Files.exists(DmaHeap.SYSTEM), NO_HEAP);
        Path file = tiny(dir);
        try (StagedImage s = StagedImage.inHeap(file, DmaHeap.SYSTEM, "daxload-test")) {
            assertEquals(StagedImage.Via.HEAP, s.via());
            assertEquals(TinyImage.SIZE, s.imageSize());
            assertTrue(s.verifyCopy().sound(), "the copy validates");
            try (Mapping map = Mapping.map(s.dmaBuf(), 0, s.bufferSize(), Mapping.Access.READ);
                 DaxImage img = DaxImage.of(map.segment(), "heap")) {
                assertEquals(TinyImage.FILE_TEXT, new String(img.content(TinyImage.FILE_NAME).toArray(ValueLayout.JAVA_BYTE)));
            }
        }
        leakCycles(() -> {
            try (StagedImage s = StagedImage.inHeap(file, DmaHeap.SYSTEM, null)) {
                assertTrue(s.verifyCopy().sound());
            }
        });
    }

    @Test
    void aUdmabufHoldsAVerifiedCopy(@TempDir Path dir) throws Exception {
        assumeTrue(Files.exists(Udmabuf.DEVICE), NO_UDMABUF);
        Path file = tiny(dir);
        try (StagedImage s = StagedImage.inUdmabuf(file, Udmabuf.DEVICE, "daxload-test")) {
            assertEquals(StagedImage.Via.UDMABUF, s.via());
            assertTrue(s.verifyCopy().sound());
        }
        leakCycles(() -> {
            try (StagedImage s = StagedImage.inUdmabuf(file, Udmabuf.DEVICE, null)) {
                assertTrue(s.verifyCopy().sound());
            }
        });
    }

    interface IoRunnable {
        void run() throws Exception;
    }

    private static void leakCycles(IoRunnable r) throws Exception {
        r.run();
        ProcSnapshot before = ProcSnapshot.take();
        for (int i = 0; i < 100; i++) {
            r.run();
        }
        ProcSnapshot after = ProcSnapshot.take();
        assertEquals(before.bridgeFds(), after.bridgeFds(), ProcSnapshot.diff(before.bridgeFds(), after.bridgeFds()));
        assertEquals(before.mapsMatching("dmabuf"), after.mapsMatching("dmabuf"));
        assertEquals(before.mapsMatching("memfd:"), after.mapsMatching("memfd:"));
    }

    // One test per way of staging, so a machine with one device and not the other reports a skip
    // for the missing one instead of a pass for both.
    @Test
    void aHeapStagedImageMountsAndUnmounts(@TempDir Path dir) throws Exception {
        mountAndUnmount(dir, true);
    }

    @Test
    void aUdmabufStagedImageMountsAndUnmounts(@TempDir Path dir) throws Exception {
        mountAndUnmount(dir, false);
    }

    private static void mountAndUnmount(Path dir, boolean heap) throws Exception {
        assumeTrue(daxfs(), NO_DAXFS);
        assumeTrue(Files.exists(heap ? DmaHeap.SYSTEM : Udmabuf.DEVICE), heap ? NO_HEAP : NO_UDMABUF);
        Path file = tiny(dir);
        Path mnt = Files.createDirectories(dir.resolve(heap ? "heap" : "udmabuf"));
        try (StagedImage s = heap ? StagedImage.inHeap(file, DmaHeap.SYSTEM, null) : StagedImage.inUdmabuf(file, Udmabuf.DEVICE, null)) {
            s.mount(mnt, false);
        }
        // Our fds are closed; the mount holds the buffer.
        assertEquals(TinyImage.FILE_TEXT, Files.readString(mnt.resolve(TinyImage.FILE_NAME)));
        assertEquals(java.util.Optional.of("daxfs"), DaxfsMount.fsTypeAt(mnt));
        DaxfsMount.unmountDaxfs(mnt);
        assertFalse(Files.exists(mnt.resolve(TinyImage.FILE_NAME)));
    }

    @Test
    void theModulesOwnValidationIsExplainedWhenItRefuses(@TempDir Path dir) throws Exception {
        assertEquals(daxfs(), DaxfsMount.filesystemAvailable());
        assumeTrue(daxfs(), NO_DAXFS);
        assumeTrue(Files.exists(DmaHeap.SYSTEM), NO_HEAP);
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        try (StagedImage s = StagedImage.inHeap(tiny(dir), DmaHeap.SYSTEM, null)) {
            // Upstream's -o validate wants nlink = entries naming an inode (0 for the root, which it then
            // refuses); daxload writes stat's counts (docs/mounting.md).
            dev.daxload.bridge.linux.LinuxException e = assertThrows(dev.daxload.bridge.linux.LinuxException.class,
                    () -> s.mount(mnt, true));
            assertTrue(e.getMessage().contains(DaxfsMount.VALIDATE_NLINK), e.getMessage());
            s.mount(mnt, false).close(); // the same image mounts without the module's check
        }
        assertTrue(DaxfsMount.fsTypeAt(mnt).isEmpty(), "closing the mount unmounted it");
    }

    @Test
    void umountRefusesWhatIsNotADaxfsMount(@TempDir Path dir) throws Exception {
        IOException none = assertThrows(IOException.class, () -> DaxfsMount.unmountDaxfs(dir));
        assertTrue(none.getMessage().contains("not a mount point"), none.getMessage());
        IOException proc = assertThrows(IOException.class, () -> DaxfsMount.unmountDaxfs(Path.of("/proc")));
        assertTrue(proc.getMessage().contains("not a daxfs mount (it is proc)"), proc.getMessage());
        assertEquals(java.util.Optional.of("proc"), DaxfsMount.fsTypeAt(Path.of("/proc")));
        assertTrue(DaxfsMount.fsTypeAt(dir).isEmpty());
    }
}

package dev.daxload.bridge.dmabuf;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.memfd.Seal;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.image.DaxImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class DmaBufTest {
    private static final String NO_HEAP = "no /dev/dma_heap/system on this machine (runs under the QEMU harness)";
    private static final String NO_UDMABUF = "no /dev/udmabuf on this machine (runs under the QEMU harness)";
    private static final String NO_DAXFS = "no daxfs filesystem in this kernel (needs the out-of-tree daxfs module)";

    @Test
    void theTinyImageReadsBackThroughTheLoaderFromAMemfdMapping() throws Exception {
        try (Memfd m = imageInMemfd("daxload-tiny");
             Mapping map = Mapping.map(m.fd(), 0, TinyImage.SIZE, Mapping.Access.READ);
             DaxImage img = DaxImage.of(map.segment(), "memfd")) {
            assertEquals(TinyImage.FILE_TEXT, text(img.content(TinyImage.FILE_NAME)));
        }
    }

    @Test
    void aMissingHeapSaysWhatIsMissing(@TempDir Path dir) {
        LinuxException e = assertThrows(LinuxException.class, () -> DmaHeap.allocate(dir.resolve("system"), 4096));
        assertEquals(Errno.ENOENT, e.errno());
        assertTrue(e.getMessage().contains("CONFIG_DMABUF_HEAPS_SYSTEM"), e.getMessage());
    }

    @Test
    void aMissingUdmabufDeviceSaysToLoadTheModule(@TempDir Path dir) throws Exception {
        try (Memfd m = Memfd.create("daxload-nodev", 4096)) {
            LinuxException e = assertThrows(LinuxException.class,
                    () -> Udmabuf.create(dir.resolve("udmabuf"), m, 0, 4096));
            assertEquals(Errno.ENOENT, e.errno());
            assertTrue(e.getMessage().contains("load the udmabuf module (modprobe udmabuf) or use --via heap"), e.getMessage());
        }
    }

    @Test
    void syncOnSomethingThatIsNotADmaBufIsRefused() throws Exception {
        try (Memfd m = Memfd.create("daxload-notdmabuf", 4096)) {
            LinuxException e = assertThrows(LinuxException.class, () -> DmaBufSync.begin(m.fd(), DmaBufSync.Access.READ));
            assertEquals(Errno.ENOTTY, e.errno());
            assertTrue(e.getMessage().contains("is not a dma-buf"), e.getMessage());
        }
    }

    @Test
    void systemHeapBufferMapsAndSyncs() throws Exception {
        assumeTrue(Files.exists(DmaHeap.SYSTEM), NO_HEAP);
        try (NativeFd buf = DmaHeap.allocate(DmaHeap.SYSTEM, TinyImage.SIZE)) {
            assertEquals(TinyImage.SIZE, buf.size());
            try (Mapping map = Mapping.map(buf, 0, TinyImage.SIZE, Mapping.Access.READ_WRITE)) {
                try (DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.WRITE)) {
                    map.segment().copyFrom(MemorySegment.ofArray(TinyImage.bytes()));
                }
                try (DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.READ);
                     DaxImage img = DaxImage.of(map.segment(), "system heap")) {
                    assertEquals(TinyImage.FILE_TEXT, text(img.content(TinyImage.FILE_NAME)));
                }
            }
            // A second mapping of the same dma-buf sees the same pages.
            try (Mapping again = Mapping.map(buf, 0, TinyImage.SIZE, Mapping.Access.READ)) {
                assertArrayEquals(TinyImage.bytes(), again.segment().toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    @Test
    void udmabufSharesThePagesOfItsMemfd() throws Exception {
        assumeTrue(Files.exists(Udmabuf.DEVICE), NO_UDMABUF);
        try (Memfd m = imageInMemfd("daxload-udmabuf")) {
            m.addSeals(Seal.SHRINK);
            try (NativeFd buf = Udmabuf.create(m, 0, TinyImage.SIZE);
                 Mapping viaBuf = Mapping.map(buf, 0, TinyImage.SIZE, Mapping.Access.READ_WRITE);
                 Mapping viaMemfd = Mapping.map(m.fd(), 0, TinyImage.SIZE, Mapping.Access.READ_WRITE)) {
                assertEquals(TinyImage.SIZE, buf.size());
                try (DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.READ);
                     DaxImage img = DaxImage.of(viaBuf.segment(), "udmabuf")) {
                    assertEquals(TinyImage.FILE_TEXT, text(img.content(TinyImage.FILE_NAME)));
                }
                try (DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.WRITE)) {
                    viaBuf.segment().set(ValueLayout.JAVA_LONG, TinyImage.SIZE - 8, 0x0123456789abcdefL);
                }
                assertEquals(0x0123456789abcdefL, viaMemfd.segment().get(ValueLayout.JAVA_LONG, TinyImage.SIZE - 8));
            }
        }
    }

    @Test
    void udmabufExplainsWhichRuleTheMemfdBreaks() throws Exception {
        assumeTrue(Files.exists(Udmabuf.DEVICE), NO_UDMABUF);
        try (Memfd m = Memfd.create("daxload-unsealed", 8192)) {
            LinuxException unsealed = assertThrows(LinuxException.class, () -> Udmabuf.create(m, 0, 8192));
            assertEquals(Errno.EINVAL, unsealed.errno());
            assertTrue(unsealed.getMessage().contains("lacks F_SEAL_SHRINK"), unsealed.getMessage());
            m.addSeals(Seal.SHRINK);
            LinuxException odd = assertThrows(LinuxException.class, () -> Udmabuf.create(m, 0, 100));
            assertEquals(Errno.EINVAL, odd.errno());
            assertTrue(odd.getMessage().contains("multiples of the page size"), odd.getMessage());
            LinuxException past = assertThrows(LinuxException.class, () -> Udmabuf.create(m, 4096, 8192));
            assertEquals(Errno.EINVAL, past.errno());
            assertTrue(past.getMessage().contains("within the memfd"), past.getMessage());
        }
    }

    @Test
    void udmabufOverItsSizeLimitSaysHowToRaiseIt() throws Exception {
        assumeTrue(Files.exists(Udmabuf.DEVICE), NO_UDMABUF);
        long limit = Udmabuf.sizeLimit();
        assumeTrue(limit > 0, "udmabuf shows no size_limit_mb in /sys/module/udmabuf/parameters");
        long size = limit + 2 * 4096;
        // A memfd this size costs nothing until its pages are touched, and none are.
        try (Memfd m = Memfd.create("daxload-toolarge", size)) {
            m.addSeals(Seal.SHRINK);
            LinuxException e = assertThrows(LinuxException.class, () -> Udmabuf.create(m, 0, size));
            assertTrue(e.errno() == Errno.EINVAL || e.errno() == Errno.E2BIG, e.getMessage());
            assertTrue(e.getMessage().contains("size_limit_mb=" + (limit >> 20)), e.getMessage());
            try (NativeFd ok = Udmabuf.create(m, 0, limit)) {
                assertEquals(limit, ok.size(), "exactly the limit is allowed");
            }
        }
    }

    @Test
    void anImageInAUdmabufMountsAsDaxfs(@TempDir Path dir) throws Exception {
        assumeTrue(Files.exists(Udmabuf.DEVICE), NO_UDMABUF);
        assumeTrue(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"), NO_DAXFS);
        try (Memfd m = imageInMemfd("daxload-mount")) {
            m.addSeals(Seal.SHRINK);
            try (NativeFd buf = Udmabuf.create(m, 0, TinyImage.SIZE);
                 DaxfsMount mount = DaxfsMount.mountDmaBuf(buf, dir, false)) {
                Path file = dir.resolve(TinyImage.FILE_NAME);
                assertEquals(TinyImage.FILE_TEXT, Files.readString(file));
                try (NativeFd again = DaxfsMount.getDmaBuf(file)) {
                    assertEquals(TinyImage.SIZE, again.size());
                }
            }
            assertTrue(!Files.exists(dir.resolve(TinyImage.FILE_NAME)), "unmounted");
        }
    }

    @Test
    void anImageInTheSystemHeapMountsAsDaxfs(@TempDir Path dir) throws Exception {
        assumeTrue(Files.exists(DmaHeap.SYSTEM), NO_HEAP);
        assumeTrue(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"), NO_DAXFS);
        try (NativeFd buf = DmaHeap.allocate(DmaHeap.SYSTEM, TinyImage.SIZE)) {
            try (Mapping map = Mapping.map(buf, 0, TinyImage.SIZE, Mapping.Access.READ_WRITE);
                 DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.WRITE)) {
                map.segment().copyFrom(MemorySegment.ofArray(TinyImage.bytes()));
            }
            try (DaxfsMount mount = DaxfsMount.mountDmaBuf(buf, dir, false)) {
                assertEquals(TinyImage.FILE_TEXT, Files.readString(dir.resolve(TinyImage.FILE_NAME)));
            }
        }
    }

    static Memfd imageInMemfd(String name) throws Exception {
        Memfd m = Memfd.create(name, TinyImage.SIZE);
        try {
            m.fd().write(TinyImage.bytes(), 0);
            return m;
        } catch (Exception e) {
            m.close();
            throw e;
        }
    }

    static String text(MemorySegment s) {
        return new String(s.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }
}

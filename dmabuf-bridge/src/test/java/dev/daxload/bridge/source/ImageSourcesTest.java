package dev.daxload.bridge.source;

import dev.daxload.bridge.ProcSnapshot;
import dev.daxload.bridge.dmabuf.DmaBufSync;
import dev.daxload.bridge.dmabuf.DmaHeap;
import dev.daxload.bridge.dmabuf.TinyImage;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.bridge.mount.StagedImage;
import dev.daxload.image.DaxFormatException;
import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ImageSourcesTest {
    private static String text(DaxImage img) throws IOException {
        return new String(img.content(TinyImage.FILE_NAME).toArray(ValueLayout.JAVA_BYTE));
    }

    private static Memfd memfdWith(byte[] bytes) throws Exception {
        Memfd m = Memfd.create("daxload-source", bytes.length);
        m.fd().write(bytes, 0);
        return m;
    }

    @Test
    void anFdOpensAsAnImageThatOwnsItsMapping() throws Exception {
        try (Memfd m = memfdWith(TinyImage.bytes())) {
            DaxImage img = ImageSources.fromDmaBuf(m.fd(), MapOptions.copyOnWrite());
            try (img) {
                assertEquals(TinyImage.FILE_TEXT, text(img));
                assertEquals(1, ProcSnapshot.take().mapsMatching("memfd:daxload-source").size(), "one mapping");
            }
            assertThrows(IllegalStateException.class, img::segment);
            assertEquals(0, ProcSnapshot.take().mapsMatching("memfd:daxload-source").size(), "unmapped on close");
        }
    }

    @Test
    void garbageIsRefusedAndUnmapped() throws Exception {
        try (Memfd m = memfdWith(new byte[8192])) {
            assertThrows(DaxFormatException.class, () -> ImageSources.fromDmaBuf(m.fd(), MapOptions.readOnly()));
            assertEquals(0, ProcSnapshot.take().mapsMatching("memfd:daxload-source").size());
        }
    }

    @Test
    void openCloseCyclesLeakNothing() throws Exception {
        try (Memfd good = memfdWith(TinyImage.bytes()); Memfd bad = Memfd.create("daxload-source-bad", 8192)) {
            for (int warm = 0; warm < 3; warm++) {
                cycle(good, bad);
            }
            ProcSnapshot before = ProcSnapshot.take();
            for (int i = 0; i < 300; i++) {
                cycle(good, bad);
            }
            ProcSnapshot after = ProcSnapshot.take();
            assertEquals(before.bridgeFds(), after.bridgeFds(), ProcSnapshot.diff(before.bridgeFds(), after.bridgeFds()));
            assertEquals(before.mapsMatching("memfd:"), after.mapsMatching("memfd:"), ProcSnapshot.diff(before.maps(), after.maps()));
        }
    }

    private static void cycle(Memfd good, Memfd bad) throws Exception {
        try (DaxImage img = ImageSources.fromDmaBuf(good.fd(), MapOptions.readOnly())) {
            assertEquals(TinyImage.FILE_TEXT, text(img));
        }
        assertThrows(DaxFormatException.class, () -> ImageSources.fromDmaBuf(bad.fd(), MapOptions.readOnly()));
    }

    @Test
    void aDirectoryThatIsNoDaxfsMountIsNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("f"), "x");
        IOException e = assertThrows(IOException.class, () -> ImageSources.fromMount(dir, MapOptions.readOnly()));
        assertTrue(e.getMessage().contains("DAXFS_IOC_GET_DMABUF") || e.getMessage().contains("not daxfs"), e.getMessage());
        assertThrows(java.nio.file.NotDirectoryException.class, () -> ImageSources.fromMount(dir.resolve("f"), MapOptions.readOnly()));
    }

    @Test
    void aSystemHeapDmaBufOpensAsAnImage() throws Exception {
        assumeTrue(Files.exists(DmaHeap.SYSTEM), "no /dev/dma_heap/system on this machine (runs under the QEMU harness)");
        try (NativeFd buf = DmaHeap.allocate(DmaHeap.SYSTEM, TinyImage.SIZE)) {
            try (Mapping map = Mapping.map(buf, 0, TinyImage.SIZE, Mapping.Access.READ_WRITE);
                 DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.WRITE)) {
                map.segment().copyFrom(MemorySegment.ofArray(TinyImage.bytes()));
            }
            try (DaxImage img = ImageSources.fromDmaBuf(buf, MapOptions.copyOnWrite())) {
                assertEquals(TinyImage.FILE_TEXT, text(img));
            }
        }
    }

    @Test
    void aMountedImageOpensThroughItsDmaBuf(@TempDir Path dir) throws Exception {
        assumeTrue(Files.readString(Path.of("/proc/filesystems")).contains("\tdaxfs\n"),
                "no daxfs filesystem in this kernel (needs the out-of-tree daxfs module)");
        assumeTrue(Files.exists(DmaHeap.SYSTEM), "no /dev/dma_heap/system on this machine");
        Path file = Files.write(dir.resolve("tiny.daxfs"), TinyImage.bytes());
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        try (StagedImage s = StagedImage.inHeap(file, DmaHeap.SYSTEM, null); DaxfsMount m = s.mount(mnt, false)) {
            try (DaxImage img = ImageSources.fromMount(mnt, MapOptions.readOnly())) {
                assertEquals(TinyImage.FILE_TEXT, text(img));
            }
        }
    }
}

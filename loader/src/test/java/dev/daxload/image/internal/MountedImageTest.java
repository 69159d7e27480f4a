package dev.daxload.image.internal;

import dev.daxload.image.MapOptions;
import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.model.ModelWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a mount directory is recognised and refused. Opening a real mount needs the daxfs module: that
 * runs in the QEMU guest (dmabuf-bridge/qemu/run-tests.sh, samples' MountedModelTest).
 */
class MountedImageTest {
    // Lines as Linux 6.12 writes them, daxfs's from its show_options.
    static final List<String> MOUNTINFO = List.of(
            "22 1 0:20 / / rw,relatime - 9p host ro,trans=virtio",
            "30 22 0:26 / /mnt rw,relatime - tmpfs tmp rw",
            "31 30 0:27 / /mnt/heap ro,relatime - daxfs none ro,source=dmabuf,size=94371840,static",
            "32 30 0:28 / /mnt/phys ro,relatime - daxfs none ro,phys=0x90000000,size=94371840,static",
            "33 30 0:29 / /mnt/with\\040space ro,relatime - daxfs none ro,source=dmabuf,size=8192,static",
            "34 31 0:30 / /mnt/heap/over rw,relatime - tmpfs tmp rw");

    @Test
    void aDirectoryBelongsToTheLongestMountPointAboveIt() {
        var heap = MountedImage.find("/mnt/heap", MOUNTINFO).orElseThrow();
        assertEquals("/mnt/heap", heap.mountPoint());
        assertTrue(heap.phys().isEmpty(), "a dma-buf mount has no physical address");
        assertEquals(94371840, heap.size());
        assertEquals("/mnt/heap", MountedImage.find("/mnt/heap/minilm/files", MOUNTINFO).orElseThrow().mountPoint());
        var phys = MountedImage.find("/mnt/phys/minilm", MOUNTINFO).orElseThrow();
        assertEquals(0x90000000L, phys.phys().getAsLong());
        assertEquals("/mnt/with space", MountedImage.find("/mnt/with space", MOUNTINFO).orElseThrow().mountPoint());
        // Not daxfs: the tmpfs under it, one mounted over a daxfs directory, a sibling with a common prefix.
        assertTrue(MountedImage.find("/mnt", MOUNTINFO).isEmpty());
        assertTrue(MountedImage.find("/mnt/heap/over/x", MOUNTINFO).isEmpty());
        assertTrue(MountedImage.find("/mnt/heapx", MOUNTINFO).isEmpty());
        assertTrue(MountedImage.find("/srv", MOUNTINFO).isEmpty());
    }

    @Test
    void aDirectoryThatIsNoDaxfsMountIsRefusedNamingItsFilesystem(@TempDir Path dir) throws IOException {
        assertTrue(MountedImage.mountPoint(dir).isEmpty());
        IOException e = assertThrows(IOException.class, () -> ModelWeights.open(dir, "minilm"));
        assertTrue(e.getMessage().startsWith(dir + ": not on a daxfs mount (it lies on "), e.getMessage());
        assertTrue(e.getMessage().contains(" mounted at /"), e.getMessage());
        Path file = Files.writeString(dir.resolve("f"), "x");
        assertThrows(java.nio.file.NotDirectoryException.class, () -> MountedImage.open(file, MapOptions.readOnly()));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> MountedImage.open(dir.resolve("gone"), MapOptions.readOnly()));
    }
}

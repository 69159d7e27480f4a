package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxFormatException;
import dev.daxload.image.DaxImage;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code daxload place}: an existing image copied where servers read it, on real files, a real pipe-like
 * stream and, where the machine has one, a real hugetlbfs mount; a bad image or a target that is the image
 * itself leaves everything as it was.
 */
class ImagePlacerTest {
    @TempDir Path tmp;

    private Path image(String name, int bytes) throws Exception {
        Path p = tmp.resolve(name);
        new ImageWriter().write(ImageTargetTest.tree(bytes), p);
        return p;
    }

    private List<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    interface Placing {
        long run() throws Exception;
    }

    /**
     * Runs {@code placing} with {@code java.io.tmpdir} naming a directory that does not exist, so that a staging
     * copy there fails the call: what shows that onto huge pages and devices the image goes straight from its
     * mapping (no second copy of a multi-GB image in a temporary directory that may not hold it).
     */
    private long withoutTemporaryDirectory(Placing placing) throws Exception {
        String saved = System.getProperty("java.io.tmpdir");
        System.setProperty("java.io.tmpdir", tmp.resolve("no-such-directory").toString());
        try {
            return placing.run();
        } finally {
            System.setProperty("java.io.tmpdir", saved);
        }
    }

    @Test
    void anImageReplacesAFileWholeAndIsCopiedByteForByte() throws Exception {
        Path source = image("source.daxfs", 70_000);
        Path dir = Files.createDirectories(tmp.resolve("srv"));
        Path target = dir.resolve("model.daxfs");
        Files.writeString(target, "the old image");
        long size = ImagePlacer.place(source, ImageTarget.resolve(target));
        assertEquals(Files.size(source), size);
        assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(target));
        assertEquals(List.of("model.daxfs"), listing(dir), "nothing left beside the target");
    }

    @Test
    void aPaddedSourceIsPlacedAtTheImagesOwnSize() throws Exception {
        // As an image on hugetlbfs is: the file holds whole huge pages, the image its superblock's size.
        Path source = image("source.daxfs", 5000);
        byte[] bytes = Files.readAllBytes(source);
        Path padded = Files.write(tmp.resolve("padded.daxfs"), Arrays.copyOf(bytes, 2 << 20));
        Path target = tmp.resolve("placed.daxfs");
        assertEquals(bytes.length, ImagePlacer.place(padded, ImageTarget.resolve(target)));
        assertArrayEquals(bytes, Files.readAllBytes(target));
    }

    @Test
    void aBrokenImageIsRefusedNamingTheFieldAndTheTargetKeepsItsBytes() throws Exception {
        Path source = image("source.daxfs", 5000);
        byte[] broken = Files.readAllBytes(source);
        broken[4] ^= 0x7f; // the superblock's version
        Path bad = Files.write(tmp.resolve("bad.daxfs"), broken);
        Path target = tmp.resolve("model.daxfs");
        Files.writeString(target, "the old image");
        DaxFormatException e = assertThrows(DaxFormatException.class, () -> ImagePlacer.place(bad, ImageTarget.resolve(target)));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
        assertEquals("the old image", Files.readString(target));

        Path truncated = Files.write(tmp.resolve("truncated.daxfs"), Arrays.copyOf(Files.readAllBytes(source), 9000));
        assertThrows(DaxFormatException.class, () -> ImagePlacer.place(truncated, ImageTarget.resolve(target)));
        assertEquals("the old image", Files.readString(target));
        assertEquals(List.of("bad.daxfs", "model.daxfs", "source.daxfs", "truncated.daxfs"), listing(tmp));
    }

    @Test
    void theImageItselfIsRefusedAsItsOwnTarget() throws Exception {
        Path source = image("source.daxfs", 5000);
        byte[] before = Files.readAllBytes(source);
        Path link = Files.createSymbolicLink(tmp.resolve("current.daxfs"), source.getFileName());
        FileSystemException e = assertThrows(FileSystemException.class, () -> ImagePlacer.place(source, ImageTarget.resolve(link)));
        assertTrue(e.getMessage().contains("is the image being placed"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(source));
    }

    /**
     * Onto devices, straight from the image's mapping (no staging copy): a block device (a real loop device) in
     * place after its size is checked, and read back; one too small is refused with nothing written to it; a
     * character device without a size takes the bytes in order.
     */
    @Test
    void anImageGoesOntoDevicesInPlaceAfterItsSizeIsChecked() throws Exception {
        Path source = image("source.daxfs", 100_000);
        byte[] want = Files.readAllBytes(source);
        Path backing = tmp.resolve("disk.img");
        Path dev = ImageTargetTest.loop(backing, 1 << 20);
        org.junit.jupiter.api.Assumptions.assumeTrue(dev != null, "no loop device here (losetup missing or not permitted)");
        try {
            assertEquals(want.length, withoutTemporaryDirectory(() -> ImagePlacer.place(source, ImageTarget.resolve(dev))));
            assertArrayEquals(want, Arrays.copyOf(Files.readAllBytes(backing), want.length), "the device holds the image");
            assertEquals(1, Files.readAllBytes(backing)[(1 << 20) - 1], "bytes past the image are left alone");
        } finally {
            ImageTargetTest.detach(dev);
        }
        Path smallBacking = tmp.resolve("small.img");
        Path small = ImageTargetTest.loop(smallBacking, 64 << 10);
        try {
            byte[] before = Files.readAllBytes(smallBacking);
            FileSystemException e = assertThrows(FileSystemException.class, () -> ImagePlacer.place(source, ImageTarget.resolve(small)));
            assertTrue(e.getMessage().startsWith(small.toString()) && e.getMessage().contains("does not fit"), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(smallBacking), "nothing was written to the device");
        } finally {
            ImageTargetTest.detach(small);
        }
        Path nul = tmp.resolve("null");
        if (ImageTargetTest.mknod(nul, 'c', 1, 3)) {
            assertEquals(want.length, ImagePlacer.place(source, ImageTarget.resolve(nul)));
        }
    }

    @Test
    void anImageStreamsInOrder() throws Exception {
        Path source = image("source.daxfs", 70_000);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(Files.size(source), ImagePlacer.place(source, Channels.newChannel(out), Path.of("-")));
        assertArrayEquals(Files.readAllBytes(source), out.toByteArray());
    }

    @Test
    void anImageGoesOntoHugetlbfsInWholeHugePages() throws Exception {
        Path dir = Hugetlbfs.directory(2);
        try {
            Path source = image("source.daxfs", 70_000);
            Path target = dir.resolve("model.daxfs");
            ImageTarget t = ImageTarget.resolve(target);
            assertInstanceOf(ImageTarget.HugePages.class, t);
            withoutTemporaryDirectory(() -> ImagePlacer.place(source, t));
            assertEquals(0, Files.size(target) % ((ImageTarget.HugePages) t).pageSize());
            byte[] expected = Files.readAllBytes(source);
            assertArrayEquals(expected, Hugetlbfs.head(target, expected.length));
            try (DaxImage placed = DaxImage.open(target)) {
                assertEquals(70_000, placed.resolve("data.bin").size());
            }
            // From huge pages to huge pages: a source there maps only whole, as its file is.
            Path again = dir.resolve("again.daxfs");
            assertEquals(expected.length, ImagePlacer.place(target, ImageTarget.resolve(again)));
            assertEquals(Files.size(target), Files.size(again));
            assertEquals(List.of("again.daxfs", "model.daxfs"), listing(dir));
            // And back to an ordinary file, at the image's own size (the JDK's transferTo from hugetlbfs ends in an
            // Error when it unmaps its pieces: the copy reads through the image's one mapping instead).
            Path back = tmp.resolve("back.daxfs");
            assertEquals(expected.length, ImagePlacer.place(again, ImageTarget.resolve(back)));
            assertArrayEquals(expected, Files.readAllBytes(back));
        } finally {
            Hugetlbfs.delete(dir);
        }
    }
}

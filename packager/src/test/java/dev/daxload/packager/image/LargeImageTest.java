package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.internal.ImageValidator;
import dev.daxload.packager.image.ImageTree.Attributes;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Offsets past 2^31 and 2^32: an image of more than 4 GiB holding a file of more than 2 GiB, read
 * back through 64-bit slices. Source files are sparse (only a few marker bytes are real), and the
 * image is written sparse too, so the test costs no disk and no time for the zeros.
 */
class LargeImageTest {
    static final long GIB = 1L << 30;

    @TempDir Path tmp;

    /** Markers: offset within the file, and the text there. */
    record Marker(long at, String text) {}

    static Path sparse(Path p, long size, List<Marker> markers) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            for (Marker m : markers) {
                f.seek(m.at());
                f.write(m.text().getBytes(StandardCharsets.US_ASCII));
            }
        }
        return p;
    }

    /**
     * A source whose only real bytes are its markers: it copies those with the real
     * {@link FileContent#range} path (transferTo at 64-bit positions) and leaves the rest a hole in
     * the image, which reads as zeros, like the source. Copying the zeros through transferTo would
     * cost gigabytes of disk writes on a filesystem without reflinks.
     */
    record SparseContent(Path file, long size, List<Marker> markers) implements FileContent {
        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            for (Marker m : markers) {
                FileContent.range(file, m.at(), m.text().length()).writeTo(image, position + m.at());
            }
        }

        @Override
        public String describe() {
            return file + " (sparse)";
        }
    }

    @Test
    void imageOverFourGibWithAFileOverTwoGib() throws Exception {
        long bigSize = 2 * GIB + 12345;           // > 2^31
        long secondSize = 2 * GIB + 4096 * 3 + 1; // pushes the end of the image past 2^32
        List<Marker> bigMarkers = List.of(new Marker(0, "BIG-START"), new Marker((1L << 31) - 3, "ACROSS-2^31"),
                new Marker(bigSize - 7, "BIG-END"));
        List<Marker> secondMarkers = List.of(new Marker(0, "SECOND"), new Marker(secondSize - 10, "SECOND-END"));
        Path big = sparse(tmp.resolve("big.bin"), bigSize, bigMarkers);
        Path second = sparse(tmp.resolve("second.bin"), secondSize, secondMarkers);

        ImageTree tree = new ImageTree();
        Attributes a = new Attributes(0644, 0, 0);
        var small = tree.root().file("a-small", FileContent.of("small".getBytes(StandardCharsets.UTF_8)), a);
        // breadth first, data in inode order: a-small, b-big, c-second, then d/z-last past 2^32
        var bigNode = tree.root().file("b-big", new SparseContent(big, bigSize, bigMarkers), a);
        var secondNode = tree.root().file("c-second", new SparseContent(second, secondSize, secondMarkers), a);
        var last = tree.root().directory("d", new Attributes(0755, 0, 0)).file("z-last", FileContent.of("tail".getBytes(StandardCharsets.UTF_8)), a);

        Path out = tmp.resolve("large.daxfs");
        ImageLayout layout = new ImageWriter().write(tree, out);
        assertTrue(Files.size(out) > 4 * GIB + 4096, "image is " + Files.size(out));

        try (DaxImage img = DaxImage.open(out)) {
            var result = ImageValidator.validate(img.segment());
            assertTrue(result.sound(), result.problems()::toString);
            assertEquals(Files.size(out), img.superblock().totalSize());

            DaxInode bigInode = img.lookup("b-big").orElseThrow();
            assertEquals(bigSize, bigInode.size());
            MemorySegment bigContent = img.content("b-big");
            assertEquals(bigSize, bigContent.byteSize());
            for (Marker m : bigMarkers) assertMarker(bigContent, m);
            assertEquals(layout.offsetOf(bigNode), img.absoluteOffset(bigInode.dataOffset()));

            DaxInode secondInode = img.lookup("c-second").orElseThrow();
            long secondAbs = img.absoluteOffset(secondInode.dataOffset());
            assertTrue(secondAbs > 1L << 31, "second starts at " + secondAbs);
            assertEquals(layout.offsetOf(secondNode), secondAbs);
            MemorySegment secondContent = img.content(secondInode);
            for (Marker m : secondMarkers) assertMarker(secondContent, m);
            assertTrue(secondAbs + secondSize > 1L << 32, "the second file ends past 2^32");

            DaxInode lastInode = img.lookup("d/z-last").orElseThrow();
            long lastAbs = img.absoluteOffset(lastInode.dataOffset());
            assertTrue(lastAbs > 1L << 32, "the last file starts past 2^32: " + lastAbs);
            assertEquals(layout.offsetOf(last), lastAbs);
            assertEquals("tail", new String(img.content("d/z-last").toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertEquals("small", new String(img.content(img.lookup("a-small").orElseThrow()).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertEquals(layout.offsetOf(small), img.absoluteOffset(img.lookup("a-small").orElseThrow().dataOffset()));
            // the zeros between markers read as zeros, far out in the image
            assertEquals(0, img.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, secondAbs + (1L << 30)));
        }
    }

    /**
     * The same through the ordinary path (TreeScanner, FileContent.of, transferTo of every byte):
     * writes over 4 GiB to disk, so it runs only when asked: -Ddaxload.test.bigcopy=true.
     */
    @Test
    @EnabledIfSystemProperty(named = "daxload.test.bigcopy", matches = "true")
    void fullCopyOfAFileOverFourGib() throws Exception {
        long size = 4 * GIB + 100;
        List<Marker> markers = List.of(new Marker(0, "S"), new Marker((1L << 32) - 2, "ACROSS-2^32"), new Marker(size - 3, "END"));
        Path src = Files.createDirectories(tmp.resolve("src"));
        sparse(src.resolve("huge"), size, markers);
        Path out = tmp.resolve("huge.daxfs");
        new ImageWriter().write(new TreeScanner(w -> {}).scan(src), out);
        try (DaxImage img = DaxImage.open(out)) {
            MemorySegment c = img.content("huge");
            assertEquals(size, c.byteSize());
            for (Marker m : markers) assertMarker(c, m);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static void assertMarker(MemorySegment content, Marker m) {
        byte[] got = content.asSlice(m.at(), m.text().length()).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(m.text(), new String(got, StandardCharsets.US_ASCII), "marker at " + m.at());
        if (m.at() > 0) assertEquals(0, content.get(ValueLayout.JAVA_BYTE, m.at() - 1), "zero before marker at " + m.at());
    }
}

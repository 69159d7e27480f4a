package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.ImageTree.Attributes;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write that fails leaves nothing behind: no file at the target, no temporary file beside it, and
 * an image already at the target exactly as it was. The error names the file that failed.
 */
class AtomicWriteTest {
    @TempDir Path tmp;
    Path out;

    @BeforeEach
    void setUp() throws IOException {
        out = Files.createDirectories(tmp.resolve("out"));
    }

    /** Writes some bytes, then fails: a disk error or a source that went away midway. */
    record FailingContent(long size, RuntimeException unchecked) implements FileContent {
        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            image.write(ByteBuffer.wrap(new byte[(int) (size / 2)]), position);
            if (unchecked != null) throw unchecked;
            throw new IOException("read error halfway");
        }

        @Override
        public String describe() {
            return "/models/broken.bin";
        }
    }

    static ImageTree treeWith(FileContent bad) {
        ImageTree t = new ImageTree();
        Attributes a = new Attributes(0644, 0, 0);
        t.root().file("a-good", FileContent.of(new byte[10_000]), a);
        t.root().directory("d", new Attributes(0755, 0, 0)).file("bad", bad, a);
        t.root().file("z-good", FileContent.of(new byte[3]), a);
        return t;
    }

    List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(out)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aSourceThatFailsMidwayLeavesNothing() throws Exception {
        Path target = out.resolve("model.daxfs");
        IOException e = assertThrows(IOException.class, () -> new ImageWriter().write(treeWith(new FailingContent(100_000, null)), target));
        assertTrue(e.getMessage().contains("/models/broken.bin"), e.getMessage());
        assertTrue(e.getMessage().contains("read error halfway"), e.getMessage());
        assertEquals(List.of(), listing());
    }

    @Test
    void anUncheckedFailureLeavesNothingEither() {
        Path target = out.resolve("model.daxfs");
        IllegalStateException boom = new IllegalStateException("boom");
        var e = assertThrows(IllegalStateException.class, () -> new ImageWriter().write(treeWith(new FailingContent(8192, boom)), target));
        assertSame(boom, e);
        assertDoesNotThrow(() -> assertEquals(List.of(), listing()));
    }

    @Test
    void aLateFileThatFailsLeavesNothing() throws Exception {
        ImageTree t = treeWith(FileContent.of(new byte[5]));
        t.root().file("manifest.json", FileContent.late(layout -> {
            throw new IOException("manifest cannot be made");
        }), new Attributes(0644, 0, 0));
        IOException e = assertThrows(IOException.class, () -> new ImageWriter().write(t, out.resolve("m.daxfs")));
        assertTrue(e.getMessage().contains("manifest cannot be made"), e.getMessage());
        assertEquals(List.of(), listing());
    }

    @Test
    void anExistingImageIsUntouchedByAFailedWrite() throws Exception {
        Path target = out.resolve("model.daxfs");
        new ImageWriter().write(treeWith(FileContent.of("first".getBytes(StandardCharsets.UTF_8))), target);
        byte[] before = Files.readAllBytes(target);
        FileTime mtime = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(target, mtime);
        Object inode = Files.getAttribute(target, "unix:ino");

        assertThrows(IOException.class, () -> new ImageWriter().write(treeWith(new FailingContent(50_000, null)), target));

        assertArrayEquals(before, Files.readAllBytes(target));
        assertEquals(mtime, Files.getLastModifiedTime(target));
        assertEquals(inode, Files.getAttribute(target, "unix:ino"));
        assertEquals(List.of("model.daxfs"), listing());
        try (DaxImage img = DaxImage.open(target)) {
            assertEquals("first", new String(img.content("d/bad").toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
    }

    @Test
    void aSuccessfulWriteReplacesTheImageAndLeavesNoTemporaryFile() throws Exception {
        Path target = out.resolve("model.daxfs");
        new ImageWriter().write(treeWith(FileContent.of("first".getBytes(StandardCharsets.UTF_8))), target);
        new ImageWriter().write(treeWith(FileContent.of("second!".getBytes(StandardCharsets.UTF_8))), target);
        assertEquals(List.of("model.daxfs"), listing());
        try (DaxImage img = DaxImage.open(target)) {
            assertEquals(7, img.content("d/bad").byteSize());
        }
    }

    @Test
    void aFileDeletedAfterScanningIsNamed() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.write(src.resolve("keep"), new byte[100]);
        Path victim = Files.write(src.resolve("victim.bin"), new byte[20_000]);
        ImageTree tree = new TreeScanner(w -> {}).scan(src);
        Files.delete(victim);
        Path target = out.resolve("x.daxfs");
        IOException e = assertThrows(IOException.class, () -> new ImageWriter().write(tree, target));
        assertTrue(e.getMessage().contains(victim.toString()), e.getMessage());
        assertInstanceOf(NoSuchFileException.class, e.getCause());
        assertEquals(List.of(), listing());
    }

    @Test
    void aFileTruncatedAfterScanningIsNamed() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path victim = Files.write(src.resolve("shrinks.bin"), new byte[20_000]);
        ImageTree tree = new TreeScanner(w -> {}).scan(src);
        try (RandomAccessFile f = new RandomAccessFile(victim.toFile(), "rw")) {
            f.setLength(5000);
        }
        Path target = out.resolve("x.daxfs");
        Files.writeString(target, "an older image");
        IOException e = assertThrows(IOException.class, () -> new ImageWriter().write(tree, target));
        assertTrue(e.getMessage().contains(victim.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("5000"), e.getMessage());
        assertEquals("an older image", Files.readString(target));
        assertEquals(List.of("x.daxfs"), listing());
    }
}

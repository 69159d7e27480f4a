package dev.daxload.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.TestImageBuilder.Dir;
import dev.daxload.image.TestImageBuilder.Style;
import dev.daxload.image.internal.DaxFileReader;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DaxFileReader} reads what {@link DaxImage} reads, file for file, and refuses what it must not
 * read with a {@link DaxFormatException} naming the rule, never an exception of another kind, an
 * out-of-memory or a read past the file.
 */
class DaxFileReaderTest {
    @TempDir
    Path tmp;

    private Path write(byte[] image) throws IOException {
        return Files.write(Files.createTempFile(tmp, "img", ".daxfs"), image);
    }

    /** Every regular file and directory of the reference trees, in both layouts: the same bytes and names as the mapped image's. */
    @Test
    void readsWhatTheMappedImageReads() throws IOException {
        for (Style style : Style.values()) {
            for (Dir root : List.of(ReferenceLayoutReadTest.referenceTree(), ImageFuzzTest.small())) {
                Path file = write(TestImageBuilder.build(root, style).image());
                int files = 0;
                try (DaxImage image = DaxImage.open(file); DaxFileReader reader = DaxFileReader.open(file)) {
                    List<String> dirs = new ArrayList<>(List.of(""));
                    while (!dirs.isEmpty()) {
                        String dir = dirs.removeLast();
                        List<DaxEntry> entries = image.list(dir.isEmpty() ? "/" : dir);
                        if (entries.stream().allMatch(e -> e.utf8Name().isPresent())) {
                            assertEquals(entries.stream().map(DaxEntry::name).sorted().toList(), reader.list(dir).stream().sorted().toList(),
                                    style + " " + dir); // DaxImage sorts; the reader gives the image's order
                        }
                        for (DaxEntry entry : entries) {
                            if (entry.utf8Name().isEmpty()) {
                                continue; // the reader takes UTF-8 paths; DaxNames escapes the rest
                            }
                            String path = dir.isEmpty() ? entry.name() : dir + "/" + entry.name();
                            DaxInode inode = entry.inode();
                            DaxFileReader.Node node = reader.lookup(path).orElseThrow(() -> new AssertionError(path));
                            assertEquals(inode.isDirectory(), node.isDirectory(), path);
                            assertEquals(inode.isRegularFile(), node.isRegularFile(), path);
                            if (inode.isDirectory()) {
                                dirs.add(path);
                            } else if (inode.isRegularFile()) {
                                assertArrayEquals(image.content(inode).toArray(ValueLayout.JAVA_BYTE), reader.read(path, Long.MAX_VALUE), path);
                                Path copy = tmp.resolve("copy-" + files);
                                reader.copy(path, copy);
                                assertArrayEquals(image.content(inode).toArray(ValueLayout.JAVA_BYTE), Files.readAllBytes(copy), path + " copied");
                                Files.delete(copy);
                                assertEquals(image.absoluteOffset(inode.dataOffset()), reader.absoluteOffset(node), path);
                                files++;
                            }
                        }
                    }
                    assertTrue(reader.lookup("no/such/file").isEmpty());
                }
                assertTrue(files > 3, "the trees hold files");
            }
        }
    }

    @Test
    void refusesAFileOverTheCallersLimitUnread() throws IOException {
        Path file = write(TestImageBuilder.build(ImageFuzzTest.small(), Style.SORTED_BFS).image());
        try (DaxFileReader reader = DaxFileReader.open(file)) {
            IOException e = assertThrows(IOException.class, () -> reader.read("zzz", 4096));
            assertTrue(e.getMessage().contains("4097 bytes, more than the 4096"), e.getMessage());
            assertThrows(java.nio.file.NoSuchFileException.class, () -> reader.read("nothing", 10));
            assertThrows(IOException.class, () -> reader.read("a", 10), "a directory is not read as a file");
            assertThrows(IllegalArgumentException.class, () -> reader.lookup("a/../a"));
        }
    }

    /**
     * A file is copied out of the image, by the reader and from a mapped image, without passing through the heap: a
     * 64 MiB side file allocates well under 1 MiB on the copying thread (reading it would allocate all of it), so a
     * side file larger than the heap is copied, not an OutOfMemoryError.
     */
    @Test
    void copiesLeaveTheHeapAlone() throws IOException {
        byte[] big = new byte[64 << 20];
        new SplittableRandom(7).nextBytes(big);
        Dir root = new Dir(0755);
        root.dir("files", 0755).file("big.bin", big, 0644);
        Path file = write(TestImageBuilder.build(root, Style.SORTED_BFS).image());
        // The thread's allocation counter (com.sun.management), reached reflectively: the loader's module, which its
        // tests compile in, does not read the JDK's management modules; the tests run on the class path.
        Object threads;
        java.lang.reflect.Method allocatedBytes;
        try {
            threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
            allocatedBytes = Class.forName("com.sun.management.ThreadMXBean").getMethod("getCurrentThreadAllocatedBytes");
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("this JDK has no per-thread allocation counter", e);
        }
        try (DaxFileReader reader = DaxFileReader.open(file); DaxImage image = DaxImage.open(file)) {
            for (dev.daxload.image.internal.ImageFiles files : List.of(dev.daxload.image.internal.ImageFiles.of(reader),
                    dev.daxload.image.internal.ImageFiles.of(image))) {
                Path out = tmp.resolve("big-" + files.getClass().getName().hashCode());
                files.copy("files/big.bin", out); // once to load what the copy needs, then measured
                Files.delete(out);
                long before = allocated(allocatedBytes, threads);
                files.copy("files/big.bin", out);
                long allocated = allocated(allocatedBytes, threads) - before;
                assertTrue(allocated < (1 << 20), "copying 64 MiB allocated " + allocated + " bytes of heap");
                assertEquals(-1, java.util.Arrays.mismatch(big, Files.readAllBytes(out)));
                Files.delete(out);
            }
        }
    }

    private static long allocated(java.lang.reflect.Method allocatedBytes, Object threads) {
        try {
            return (Long) allocatedBytes.invoke(threads);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** Each broken field is named by its rule, with the file. */
    @Test
    void brokenFieldsAreNamed() throws IOException {
        var built = TestImageBuilder.build(ImageFuzzTest.small(), Style.SORTED_BFS);
        assertRule("super.magic", built.image(), b -> b.putInt(0, 0x12345678));
        assertRule("super.version", built.image(), b -> b.putInt(4, 4));
        assertRule("read.range", built.image(), b -> b.putLong(24, 1L << 40)); // base superblock past the end
        assertRule("base.inode_table", built.image(), b -> b.putInt((int) built.base() + 32, Integer.MAX_VALUE));
        assertRule("base.root_inode", built.image(), b -> b.putInt((int) built.base() + 36, 0));
        int rootInode = (int) built.inodeTable(); // inode 1: the root directory
        assertRule("dir.size", built.image(), b -> b.putLong(rootInode + 16, 270));
        assertRule("inode.data", built.image(), b -> b.putLong(rootInode + 24, 1L << 40));
        long firstDirent = built.direntOffsets().get(0);
        assertRule("dirent.name_len", built.image(), b -> b.putShort((int) firstDirent + 8, (short) 0));
        assertRule("dirent.ino", built.image(), b -> b.putInt((int) firstDirent, 1 << 30));
        byte[] truncated = java.util.Arrays.copyOf(built.image(), 100);
        assertThrows(DaxFormatException.class, () -> DaxFileReader.open(write(truncated)).close());
    }

    private void assertRule(String rule, byte[] original, java.util.function.Consumer<ByteBuffer> breakIt) throws IOException {
        byte[] img = original.clone();
        breakIt.accept(ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN));
        Path file = write(img);
        DaxFormatException e = assertThrows(DaxFormatException.class, () -> {
            try (DaxFileReader reader = DaxFileReader.open(file)) {
                reader.read("a/b/f", 1 << 20);
            }
        }, rule);
        assertEquals(rule, e.problem().rule(), e.getMessage());
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
    }

    /**
     * Random byte flips in the superblocks, the inode table and the directories: whatever the bytes, reading every
     * path of the tree either works or ends in an IOException (a format error, not found, not a directory), or the
     * path refusal of lookup; never another exception, and never more read than the caller's limit allows.
     */
    @Test
    void mutatedImagesFailOnlyWithIoExceptions() throws IOException {
        var built = TestImageBuilder.build(ImageFuzzTest.small(), Style.MKDAXFS);
        byte[] original = built.image();
        int metadataEnd = (int) Math.min(original.length, built.inodeTable() + 64L * built.inodeCount() + 4096 * 4);
        long seed = Long.getLong("tests.seed", System.nanoTime());
        SplittableRandom random = new SplittableRandom(seed);
        Path file = tmp.resolve("mutant.daxfs");
        List<String> paths = List.of("a/b/f", "hard2", "e", "zzz", "a/hard", "s", "empty");
        for (int m = 0; m < 300; m++) {
            byte[] img = original.clone();
            for (int k = 0, n = 1 + random.nextInt(4); k < n; k++) {
                img[random.nextInt(metadataEnd)] ^= (byte) (1 << random.nextInt(8));
            }
            Files.write(file, img);
            for (String path : paths) {
                try (DaxFileReader reader = DaxFileReader.open(file)) {
                    byte[] bytes = reader.read(path, 1 << 16);
                    assertTrue(bytes.length <= 1 << 16);
                } catch (IOException e) {
                    // refused: what the reader is for
                } catch (RuntimeException e) {
                    throw new AssertionError("seed " + seed + ", mutant " + m + ", path " + path + ": " + e, e);
                }
            }
        }
    }
}

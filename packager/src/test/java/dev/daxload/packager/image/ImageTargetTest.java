package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.ImageTree.Attributes;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where an image goes, on real files: a real symlink is followed, a real character device made with
 * mknod and a real block device (a loop device) are written in place with their size checked first, a
 * directory is refused before any work, and a writer killed with SIGKILL leaves no temporary file.
 */
class ImageTargetTest {
    @TempDir Path tmp;

    static ImageTree tree(int bytes) {
        ImageTree t = new ImageTree();
        byte[] data = new byte[bytes];
        Arrays.fill(data, (byte) 7);
        t.root().file("data.bin", FileContent.of(data), new Attributes(0644, 0, 0));
        return t;
    }

    static byte[] imageBytes(ImageTree tree, Path scratch) throws IOException {
        Path p = scratch.resolve("reference.daxfs");
        new ImageWriter().write(tree, p);
        byte[] b = Files.readAllBytes(p);
        Files.delete(p);
        return b;
    }

    List<String> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * Hugetlbfs takes no write(2) (cp fails there with EINVAL): an image named there is written through a
     * mapping into a file of whole huge pages, replaced whole, with nothing left beside it. Needs a hugetlbfs
     * mount with two free huge pages (root: {@code mount -t hugetlbfs none DIR}, {@code sysctl vm.nr_hugepages=2}).
     */
    @Test
    void anImageOnHugetlbfsIsWrittenThroughAMappingAndReplacedWhole() throws Exception {
        Path dir = Hugetlbfs.directory(2);
        Path mount = dir.getParent();
        try {
            Path target = dir.resolve("model.daxfs");
            ImageTarget t = ImageTarget.resolve(target);
            ImageTarget.HugePages huge = assertInstanceOf(ImageTarget.HugePages.class, t);
            long page = huge.pageSize();
            assertEquals(Files.getFileStore(mount).getBlockSize(), page);
            for (int bytes : new int[] {5000, 9000}) { // the second replaces the first
                ImageTree tree = tree(bytes);
                byte[] expected = imageBytes(tree, tmp);
                ImageLayout layout = new ImageWriter().write(tree, target);
                assertEquals(expected.length, layout.size());
                assertEquals(0, Files.size(target) % page, "a hugetlbfs file holds whole huge pages");
                assertTrue(Files.size(target) >= expected.length);
                assertArrayEquals(expected, Hugetlbfs.head(target, expected.length), "the image's bytes, as the writer makes them on any file");
                try (DaxImage img = DaxImage.open(target)) {
                    assertTrue(img.warnings().isEmpty(), img.warnings().toString());
                    assertEquals(bytes, img.resolve("data.bin").size());
                }
                assertEquals(List.of("model.daxfs"), listing(dir), "nothing left beside the target");
            }
        } finally {
            Hugetlbfs.delete(dir);
        }
    }

    @Test
    void aSymlinkIsFollowedAndTheFileItNamesReplaced() throws Exception {
        Path srv = Files.createDirectories(tmp.resolve("srv"));
        Path v1 = srv.resolve("v1.daxfs");
        Files.writeString(v1, "old image");
        Path current = Files.createSymbolicLink(srv.resolve("current.daxfs"), Path.of("v1.daxfs"));
        // and a link to the link, from another directory, relative
        Path other = Files.createDirectories(tmp.resolve("other"));
        Path viaOther = Files.createSymbolicLink(other.resolve("img"), Path.of("../srv/current.daxfs"));
        ImageTarget t = ImageTarget.resolve(viaOther);
        assertInstanceOf(ImageTarget.File.class, t);
        assertEquals(v1.toRealPath(), ((ImageTarget.File) t).path());

        ImageLayout layout = new ImageWriter().write(tree(5000), viaOther);
        assertTrue(Files.isSymbolicLink(viaOther) && Files.isSymbolicLink(current), "links stay links");
        assertEquals(layout.size(), Files.size(v1));
        try (DaxImage img = DaxImage.open(v1)) {
            assertTrue(img.warnings().isEmpty());
        }
        assertEquals(List.of("current.daxfs", "v1.daxfs"), listing(srv), "no temporary file left beside the target");
        assertEquals(List.of("img"), listing(other));
    }

    @Test
    void aDanglingSymlinkCreatesTheFileItNames() throws Exception {
        Path link = Files.createSymbolicLink(tmp.resolve("next.daxfs"), Path.of("releases/v2.daxfs"));
        Files.createDirectories(tmp.resolve("releases"));
        new ImageWriter().write(tree(100), link);
        assertTrue(Files.isSymbolicLink(link));
        assertTrue(Files.isRegularFile(tmp.resolve("releases/v2.daxfs"), java.nio.file.LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aSymlinkLoopIsNamed() throws Exception {
        Path a = tmp.resolve("a");
        Files.createSymbolicLink(a, Path.of("b"));
        Files.createSymbolicLink(tmp.resolve("b"), Path.of("a"));
        FileSystemException e = assertThrows(FileSystemException.class, () -> ImageTarget.resolve(a));
        assertTrue(e.getMessage().contains(a.toString()) && e.getMessage().matches("(?s).*(symlinks|symbolic links).*"), e.getMessage());
    }

    @Test
    void aDirectoryIsRefusedBeforeAnyWork() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("images"));
        FileSystemException e = assertThrows(FileSystemException.class, () -> ImageTarget.resolve(dir));
        assertTrue(e.getMessage().startsWith(dir.toString()) && e.getMessage().contains("is a directory"), e.getMessage());
        // through a symlink too
        Path link = Files.createSymbolicLink(tmp.resolve("link"), dir);
        assertThrows(FileSystemException.class, () -> ImageTarget.resolve(link));
        // the writer refuses it before reading a byte of any content
        ImageTree t = new ImageTree();
        t.root().file("x", new AtomicWriteTest.FailingContent(10, new IllegalStateException("content was read")),
                new Attributes(0644, 0, 0));
        assertThrows(FileSystemException.class, () -> new ImageWriter().write(t, dir));
        assertEquals(List.of(), listing(dir));
    }

    /** Runs mknod; false where this process may not make device nodes. */
    static boolean mknod(Path at, char type, int major, int minor) throws Exception {
        Process p = new ProcessBuilder("mknod", at.toString(), String.valueOf(type), String.valueOf(major), String.valueOf(minor))
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0 && Files.exists(at);
    }

    static boolean isCharDevice(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode") & 0170000) == 0020000;
    }

    @Test
    void aCharacterDeviceIsWrittenInPlace() throws Exception {
        Path nul = tmp.resolve("null");
        assumeTrue(mknod(nul, 'c', 1, 3), "mknod is not permitted here (needs CAP_MKNOD)");
        ImageTarget t = ImageTarget.resolve(nul);
        assertInstanceOf(ImageTarget.Device.class, t);
        ImageLayout layout = new ImageWriter().write(tree(5000), nul);
        assertTrue(layout.size() > 5000);
        assertTrue(isCharDevice(nul), "the device node is still a device node, not a file");
        assertEquals(List.of("null"), listing(tmp));

        // /dev/full's twin: a device that takes nothing gives an error naming it, and stays a device
        Path full = tmp.resolve("full");
        assumeTrue(mknod(full, 'c', 1, 7), "mknod is not permitted here");
        IOException e = assertThrows(IOException.class, () -> new ImageWriter().write(tree(5000), full));
        assertTrue(e.getMessage().startsWith(full.toString()) && e.getMessage().contains("No space left on device"), e.getMessage());
        assertTrue(isCharDevice(full));
    }

    /** A loop device over a file of {@code bytes}; null where loop devices cannot be set up here. */
    static Path loop(Path backing, long bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(backing, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(bytes);
            ch.write(ByteBuffer.wrap(new byte[] {1}), bytes - 1);
        }
        try {
            Process p = new ProcessBuilder("losetup", "-f", "--show", backing.toString()).start();
            String dev = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            return p.waitFor() == 0 && dev.startsWith("/dev/") ? Path.of(dev) : null;
        } catch (IOException noLosetup) {
            return null;
        }
    }

    static void detach(Path dev) throws Exception {
        new ProcessBuilder("losetup", "-d", dev.toString()).start().waitFor();
    }

    @Test
    void aBlockDeviceIsWrittenInPlaceAfterItsSizeIsChecked() throws Exception {
        ImageTree tree = tree(100_000);
        byte[] want = imageBytes(tree, tmp);
        Path backing = tmp.resolve("disk.img");
        Path dev = loop(backing, 1 << 20);
        assumeTrue(dev != null, "no loop device here (losetup missing or not permitted)");
        try {
            ImageTarget t = ImageTarget.resolve(dev);
            assertEquals(new ImageTarget.Device(dev, dev, true, 1 << 20), t);
            ImageLayout layout = new ImageWriter().write(tree(100_000), dev);
            assertEquals(want.length, layout.size());
            byte[] onDisk = Arrays.copyOf(Files.readAllBytes(backing), want.length);
            assertArrayEquals(want, onDisk, "the device holds the image, byte for byte (written through to the backing file)");
            assertEquals(1, Files.readAllBytes(backing)[(1 << 20) - 1], "bytes past the image are left alone");
        } finally {
            detach(dev);
        }

        Path smallBacking = tmp.resolve("small.img");
        Path small = loop(smallBacking, 64 << 10);
        assumeTrue(small != null);
        try {
            byte[] before = Files.readAllBytes(smallBacking);
            FileSystemException e = assertThrows(FileSystemException.class, () -> new ImageWriter().write(tree(100_000), small));
            assertTrue(e.getMessage().startsWith(small.toString()) && e.getMessage().contains("does not fit")
                    && e.getMessage().contains("65536"), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(smallBacking), "nothing was written to the device");
            // an image that fits by its files but not with its metadata: checked once the image is complete
            FileSystemException late = assertThrows(FileSystemException.class, () -> new ImageWriter().write(tree(60_000), small));
            assertTrue(late.getMessage().contains("does not fit") && late.getMessage().contains("the image takes"), late.getMessage());
            assertArrayEquals(before, Files.readAllBytes(smallBacking), "nothing was written to the device");
        } finally {
            detach(small);
        }
    }

    /**
     * The device-DAX path (a shared writable mapping, then msync) on what this machine has: a file of the
     * device's size. No /dev/daxX.Y exists here, so the device itself is not exercised.
     */
    @Test
    void theMappingCopyWritesThroughAndLeavesTheRestAlone() throws Exception {
        Path dev = tmp.resolve("dax-like");
        long devSize = 4L << 20;
        try (FileChannel ch = FileChannel.open(dev, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {9}), devSize - 1);
        }
        byte[] image = new byte[3 << 20];
        new java.util.Random(1).nextBytes(image);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment src = arena.allocate(image.length);
            src.copyFrom(java.lang.foreign.MemorySegment.ofArray(image));
            FileCalls.copyThroughMapping(src, dev, 4L << 20);
        }
        byte[] after = Files.readAllBytes(dev);
        assertArrayEquals(image, Arrays.copyOf(after, image.length));
        assertEquals(9, after[(int) devSize - 1]);
        IOException e = assertThrows(IOException.class, () -> {
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                FileCalls.copyThroughMapping(arena.allocate(16), tmp.resolve("absent"), 4096);
            }
        });
        assertTrue(e.getMessage().contains("absent") && e.getMessage().contains("No such file"), e.getMessage());
    }

    @Test
    void aFifoIsStreamedTo() throws Exception {
        Path fifo = tmp.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assumeTrue(mk.waitFor() == 0, "mkfifo failed");
        assertInstanceOf(ImageTarget.Stream.class, ImageTarget.resolve(fifo));
        ImageTree tree = tree(20_000);
        byte[] want = imageBytes(tree, tmp);
        Process reader = new ProcessBuilder("cat", fifo.toString()).start();
        new ImageWriter().write(tree(20_000), fifo);
        byte[] got = reader.getInputStream().readAllBytes();
        assertEquals(0, reader.waitFor());
        assertArrayEquals(want, got);
    }

    @Test
    void streamsGetTheSameBytesAsFiles() throws Exception {
        byte[] want = imageBytes(tree(12_345), tmp);
        var sink = new java.io.ByteArrayOutputStream();
        ImageLayout layout = new ImageWriter().write(tree(12_345), java.nio.channels.Channels.newChannel(sink));
        assertEquals(want.length, layout.size());
        assertArrayEquals(want, sink.toByteArray());
    }

    @Test
    void aFailedCheckPublishesNothing() throws Exception {
        Path target = tmp.resolve("img.daxfs");
        Files.writeString(target, "previous");
        IOException e = assertThrows(IOException.class, () -> new ImageWriter()
                .check(p -> {
                    try (DaxImage img = DaxImage.open(p)) {
                        assertTrue(img.warnings().isEmpty(), "the check sees the complete image");
                    }
                    throw new IOException("refused by the check");
                })
                .write(tree(100), target));
        assertEquals("refused by the check", e.getMessage());
        assertEquals("previous", Files.readString(target));
        assertEquals(List.of("img.daxfs"), listing(tmp));
    }

    /** Starts a JVM that writes an image to {@code target} and hangs inside a file's content. */
    Process hangingWriter(Path target, String... jvmOptions) throws IOException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(List.of(jvmOptions));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HangingWriter.class.getName(), target.toString()));
        return new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    static void killMidWrite(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("writing", r.readLine(), "the child reached the middle of the write");
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no finally
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(137, p.exitValue(), "killed by SIGKILL");
    }

    @Test
    void aWriterKilledWithSigkillLeavesNothingBehind() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("out"));
        Path target = dir.resolve("img.daxfs");
        Files.writeString(target, "previous");
        killMidWrite(hangingWriter(target));
        assertEquals(List.of("img.daxfs"), listing(dir), "no temporary file beside the target (O_TMPFILE)");
        assertEquals("previous", Files.readString(target));
    }

    @Test
    void withoutOTmpfileTheNextWriterReclaimsADeadWritersTemporaryFile() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("out"));
        Path target = dir.resolve("img.daxfs");
        killMidWrite(hangingWriter(target, "-D" + TempImage.TMPFILE_PROPERTY + "=false"));
        List<String> left = listing(dir);
        assertEquals(1, left.size(), "a named temporary file is what the kill leaves: " + left);
        Path stale = dir.resolve(left.get(0));
        assertTrue(left.get(0).startsWith(".img.daxfs.") && left.get(0).endsWith(".tmp"), left.get(0));
        // a fresh one (a writer that might still be working elsewhere) is left alone...
        TempImage.reclaimStale(dir, "img.daxfs");
        assertTrue(Files.exists(stale));
        // ...one that nobody has written to for a while is removed by the next writer
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minusSeconds(3600)));
        System.setProperty(TempImage.TMPFILE_PROPERTY, "false");
        try {
            new ImageWriter().write(tree(10), target);
        } finally {
            System.clearProperty(TempImage.TMPFILE_PROPERTY);
        }
        assertEquals(List.of("img.daxfs"), listing(dir));
    }

    /** The child of the SIGKILL tests. */
    public static final class HangingWriter {
        public static void main(String[] args) throws Exception {
            ImageTree t = new ImageTree();
            t.root().file("hangs", new FileContent() {
                @Override
                public long size() {
                    return 1 << 20;
                }

                @Override
                public void writeTo(FileChannel image, long position) throws IOException {
                    image.write(ByteBuffer.wrap(new byte[1 << 19]), position);
                    System.out.println("writing");
                    System.out.flush();
                    try {
                        Thread.sleep(600_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    throw new IOException("interrupted");
                }

                @Override
                public String describe() {
                    return "a content that hangs";
                }
            }, new Attributes(0644, 0, 0));
            new ImageWriter().write(t, Path.of(args[0]));
        }
    }
}

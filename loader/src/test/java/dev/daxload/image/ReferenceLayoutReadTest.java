package dev.daxload.image;

import dev.daxload.image.internal.ImageValidator;
import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.TestImageBuilder.Dir;
import dev.daxload.image.TestImageBuilder.File;
import dev.daxload.image.TestImageBuilder.Link;
import dev.daxload.image.TestImageBuilder.Style;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Images laid out the way the reference tool mkdaxfs does it (see {@link TestImageBuilder}): the
 * reader must not depend on our writer's choices (sorted entries, breadth-first numbering, 272-byte
 * reservations, 0 offsets for empty files).
 */
class ReferenceLayoutReadTest {

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A small tree in deliberately unsorted readdir order. */
    static Dir referenceTree() {
        Dir root = new Dir(0755);
        File weights = root.dir("zeta", 0700).file("weights.bin", new byte[5000], 0644);
        for (int i = 0; i < weights.data.length; i++) weights.data[i] = (byte) (i * 31);
        Dir b = root.dir("b", 0755);
        b.file("empty", new byte[0], 0600);
        Dir deep = b.dir("c", 0711).dir("deep", 02755);
        deep.file("x", bytes("deep file"), 04755).uid = 1234;
        b.dir("emptydir", 01777);
        root.symlink("abs", "/b/c/deep/x");
        root.symlink("rel", "../b/./c/deep");         // .. at the root stays at the root
        root.symlink("dangling", "nowhere/at/all");
        root.symlink("loop1", "loop2");
        root.symlink("loop2", "loop1");
        root.file("a", bytes("aaa"), 0644);
        root.add("hard-a", (File) root.entries.get(root.entries.size() - 1).getValue());
        b.add("hard-weights", weights);               // a hard link across directories
        root.symlink("ümlaut-Ω", "zeta/weights.bin");
        return root;
    }

    @Test
    void readsAReferenceShapedImage() throws Exception {
        var built = TestImageBuilder.build(referenceTree(), Style.MKDAXFS);
        MemorySegment seg = MemorySegment.ofArray(built.image());
        var result = ImageValidator.validate(seg);
        assertTrue(result.sound(), result.problems()::toString);
        try (DaxImage img = DaxImage.of(seg, "mkdaxfs-like")) {
            // readdir order on disk, sorted by list()
            assertEquals(List.of("a", "abs", "b", "dangling", "hard-a", "loop1", "loop2", "rel", "zeta", "ümlaut-Ω"),
                    img.list("").stream().map(DaxEntry::name).toList());
            // depth-first numbering: zeta=2, zeta/weights.bin=3, b=4, ...
            assertEquals(2, img.lookup("zeta").orElseThrow().ino());
            assertEquals(3, img.lookup("zeta/weights.bin").orElseThrow().ino());
            assertEquals(4, img.lookup("b").orElseThrow().ino());

            DaxInode w = img.lookup("zeta/weights.bin").orElseThrow();
            assertEquals(w, img.lookup("b/hard-weights").orElseThrow());
            assertEquals(2, w.nlink());
            byte[] data = img.content("b/hard-weights").toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            assertEquals(5000, data.length);
            for (int i = 0; i < data.length; i++) assertEquals((byte) (i * 31), data[i], "byte " + i);

            assertEquals(img.lookup("a").orElseThrow(), img.lookup("hard-a").orElseThrow());
            assertEquals("aaa", GoldenImageReaderTest.text(img.content("hard-a")));

            DaxInode empty = img.lookup("b/empty").orElseThrow();
            assertNotEquals(0, empty.dataOffset(), "the builder gives empty files a stray offset on purpose");
            assertEquals(0, img.content(empty).byteSize());

            DaxInode emptyDir = img.lookup("b/emptydir").orElseThrow();
            assertEquals(0, emptyDir.dataOffset());
            assertEquals(01777, emptyDir.permissions());
            assertEquals(List.of(), img.list("b/emptydir"));

            DaxInode x = img.lookup("b/c/deep/x").orElseThrow();
            assertEquals(04755, x.permissions());
            assertEquals(1234, x.uid());
            assertEquals(x, img.resolve("abs"));
            assertEquals(img.lookup("b/c/deep").orElseThrow(), img.resolve("rel"));
            assertEquals(List.of("x"), img.list("rel").stream().map(DaxEntry::name).toList());
            assertEquals("b/c/deep/x", img.list("rel").get(0).path());
            assertEquals("deep file", GoldenImageReaderTest.text(img.content("rel/x")));
            assertEquals(w, img.resolve("ümlaut-Ω"));
            assertEquals("../b/./c/deep", img.readSymlink(img.lookup("rel").orElseThrow()));
            assertThrows(java.nio.file.NoSuchFileException.class, () -> img.resolve("dangling"));
            FileSystemException loop = assertThrows(FileSystemException.class, () -> img.resolve("loop1"));
            assertTrue(loop.getMessage().contains("symbolic links"), loop.getMessage());

            assertEquals(4, img.root().nlink()); // 2 + zeta + b
            assertEquals(4, img.lookup("b").orElseThrow().nlink()); // 2 + c + emptydir

            List<String> walked = new ArrayList<>();
            img.walk(e -> walked.add(e.path()));
            assertEquals(17, walked.size(), walked::toString);
        }
    }

    /** Sorted-BFS and mkdaxfs layouts of the same tree read the same. */
    @Test
    void bothLayoutsReadTheSame() throws Exception {
        var a = TestImageBuilder.build(referenceTree(), Style.MKDAXFS);
        var b = TestImageBuilder.build(referenceTree(), Style.SORTED_BFS);
        try (DaxImage ia = DaxImage.of(MemorySegment.ofArray(a.image()), "a");
             DaxImage ib = DaxImage.of(MemorySegment.ofArray(b.image()), "b")) {
            assertTrue(ib.warnings().isEmpty(), ib.warnings()::toString);
            List<String> la = new ArrayList<>();
            List<String> lb = new ArrayList<>();
            ia.walk(e -> la.add(describe(ia, e)));
            ib.walk(e -> lb.add(describe(ib, e)));
            assertEquals(la, lb);
        }
    }

    private static String describe(DaxImage img, DaxEntry e) {
        DaxInode n = e.inode();
        String what = n.isRegularFile() ? Integer.toHexString(img.content(n).asByteBuffer().hashCode())
                : n.isSymlink() ? img.readSymlink(n) : "dir" + n.entryCount();
        return e.path() + " " + n.modeString() + " " + n.uid() + ":" + n.gid() + " " + n.size() + " " + n.nlink() + " " + what;
    }

    /** Up to 271 entries fit the reference tool's reservation: none of these sizes spill. */
    @Test
    void directoriesBelow272EntriesDoNotSpill() throws Exception {
        for (int n : new int[] {1, 15, 16, 17, 100, 255, 256, 257, 270, 271}) {
            Dir root = new Dir(0755);
            for (int i = 0; i < n - 1; i++) root.file(String.format("f%04d", n - i), new byte[] {(byte) i}, 0644);
            root.file("zz-last", new byte[] {42}, 0644); // n entries in all; its slot follows the directory's
            MemorySegment seg = MemorySegment.ofArray(TestImageBuilder.build(root, Style.MKDAXFS).image());
            var result = ImageValidator.validate(seg);
            assertTrue(result.sound(), () -> n + " entries: " + result.problems());
            try (DaxImage img = DaxImage.of(seg, "n" + n)) {
                assertEquals(n, img.list("").size());
                assertEquals(42, img.content("zz-last").get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            }
        }
    }

    /**
     * 272 entries: 272*271 = 73712 rounds up to 73728, but the kernel's stride needs 73984 bytes, so
     * the last entry runs 256 bytes into the first file's slot. The validator reports exactly that
     * overlap, with both inodes, and the reader refuses the image.
     */
    @Test
    void theReferenceToolsSpillAt272EntriesIsReportedExactly() {
        Dir root = new Dir(0755);
        List<File> files = new ArrayList<>();
        for (int i = 0; i < 272; i++) files.add(root.file(String.format("f%04d", i), new byte[] {(byte) i, 1, 2, 3}, 0644));
        var built = TestImageBuilder.build(root, Style.MKDAXFS);
        MemorySegment seg = MemorySegment.ofArray(built.image());
        var result = ImageValidator.validate(seg);
        assertEquals(1, result.problems().size(), result.problems()::toString);
        ImageProblem p = result.problems().get(0);
        assertEquals("range.overlap", p.rule());
        assertEquals(ImageProblem.Severity.ERROR, p.severity());
        int firstFile = built.inoOf().get(files.get(0));
        assertEquals(2, firstFile);
        assertEquals(firstFile, p.inode());
        assertTrue(p.detail().contains("inode 1"), p.detail());
        // 273 inodes end at base-relative 4096 + 273*64 = 21568, so data starts at 24576; the file's
        // slot follows the 73728-byte reservation; the problem's offset is absolute (base 4096).
        assertEquals(4096 + 24576 + 73728, p.offset());
        assertThrows(DaxFormatException.class, () -> DaxImage.of(seg, "spill"));

        // The same tree in our writer's layout (272-byte reservation) is sound.
        var sorted = TestImageBuilder.build(root, Style.SORTED_BFS);
        assertTrue(ImageValidator.validate(MemorySegment.ofArray(sorted.image())).sound());
    }

    @Test
    void theSpillOfALastDirectoryRunsPastTheImage() {
        Dir root = new Dir(0755);
        Dir big = root.dir("big", 0755);
        for (int i = 0; i < 272; i++) big.file("e" + i, new byte[0], 0644);
        var result = ImageValidator.validate(MemorySegment.ofArray(TestImageBuilder.build(root, Style.MKDAXFS).image()));
        // One error, and no follow-on noise about the entries the walk could not reach through it.
        assertEquals(List.of("dir.range"), result.problems().stream().map(ImageProblem::rule).toList(), result.problems()::toString);
        assertEquals(2, result.problems().get(0).inode()); // big: numbered right after the root
    }

    /** nlink copied from the host: a file linked from outside the tree shows a larger count; a warning, not an error. */
    @Test
    void hostNlinkThatDisagreesIsOnlyAWarning() throws Exception {
        Dir root = new Dir(0755);
        File f = root.file("f", bytes("x"), 0644);
        f.nlinkOverride = 3L;
        MemorySegment seg = MemorySegment.ofArray(TestImageBuilder.build(root, Style.MKDAXFS).image());
        var result = ImageValidator.validate(seg);
        assertTrue(result.readable());
        assertEquals(List.of("inode.nlink"), result.problems().stream().map(ImageProblem::rule).toList());
        try (DaxImage img = DaxImage.of(seg, "nlink")) {
            assertEquals(3, img.lookup("f").orElseThrow().nlink());
        }
    }
}

package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.ImageValidator;
import dev.daxload.packager.image.ImageTree.Attributes;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The writer's output, byte for byte, against images laid out here by hand from the tables of
 * daxfs-format.md. Every offset and value below is a literal worked out from the spec (not a
 * {@code DaxfsLayout} constant), so a wrong constant shared by writer and reader fails here.
 */
class GoldenImageWriterTest {
    @TempDir Path tmp;

    /** Little-endian puts at literal offsets. */
    static final class Bytes {
        final ByteBuffer b;

        Bytes(int size) {
            b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        }

        Bytes u16(int off, int v) { b.putShort(off, (short) v); return this; }
        Bytes u32(int off, long v) { b.putInt(off, (int) v); return this; }
        Bytes u64(int off, long v) { b.putLong(off, v); return this; }
        Bytes str(int off, String s) { b.put(off, s.getBytes(StandardCharsets.UTF_8)); return this; }
    }

    static void superblocks(Bytes img, long total, int inodeCount, long dataOffset) {
        long baseSize = total - 4096;
        // superblock: magic "dax5", version 5, flags 0, block 4096, total, base_offset 4096, base_size,
        // no branches (48..63 zero), next_inode_id = count + 1, everything else zero
        img.u32(0, 0x64617835).u32(4, 5).u32(8, 0).u32(12, 4096).u64(16, total).u64(24, 4096).u64(32, baseSize).u64(64, inodeCount + 1);
        // base superblock: magic "dda5", version 5, flags 0, block 4096, total = base size,
        // inode_offset 4096, inode_count, root 1, data_offset
        img.u32(4096, 0x64646135).u32(4100, 5).u32(4104, 0).u32(4108, 4096)
                .u64(4112, baseSize).u64(4120, 4096).u32(4128, inodeCount).u32(4132, 1).u64(4136, dataOffset);
    }

    static void inode(Bytes img, int ino, int mode, int uid, int gid, long size, long data, int nlink) {
        int at = 8192 + 64 * (ino - 1);
        img.u32(at, ino).u32(at + 4, mode).u32(at + 8, uid).u32(at + 12, gid).u64(at + 16, size).u64(at + 24, data).u32(at + 32, nlink);
    }

    static void dirent(Bytes img, int at, int ino, int mode, String name) {
        img.u32(at, ino).u32(at + 4, mode).u16(at + 8, name.getBytes(StandardCharsets.UTF_8).length).str(at + 16, name);
    }

    /** Root with one 2-byte file "a": 2 inodes, data area at base+8192, the dirent array first, then the file. */
    static byte[] expectedOneFile() {
        Bytes img = new Bytes(20480);
        superblocks(img, 20480, 2, 8192);
        inode(img, 1, 040755, 0, 0, 271, 8192, 2);
        inode(img, 2, 0100644, 0, 0, 2, 12288, 1);
        dirent(img, 4096 + 8192, 2, 0100644, "a");
        img.str(4096 + 12288, "hi");
        return img.b.array();
    }

    /**
     * Root with "d" (0750, 1000:1000) holding "f" = "xyz" (0600, 1000:100), "h" a hard link to d/f, "l"
     * a symlink to "d/f". Breadth first in name order: 1 root, 2 d, 3 h (= d/f), 4 l. Data: the
     * dirent arrays in inode order (root at 8192: 3 x 272 bytes; d at 12288), then the symlink
     * (16384), then the file (20480); base size 24576.
     */
    static byte[] expectedSubdirSymlinkHardlink(boolean rootOwned) {
        int u = rootOwned ? 0 : 1000;
        int g = rootOwned ? 0 : 100;
        Bytes img = new Bytes(28672);
        superblocks(img, 28672, 4, 8192);
        inode(img, 1, 040755, 0, 0, 813, 8192, 3);
        inode(img, 2, 040750, u, rootOwned ? 0 : 1000, 271, 12288, 2);
        inode(img, 3, 0100600, u, g, 3, 20480, 2);
        inode(img, 4, 0120777, 0, 0, 3, 16384, 1);
        dirent(img, 12288, 2, 040750, "d");
        dirent(img, 12288 + 272, 3, 0100600, "h");
        dirent(img, 12288 + 544, 4, 0120777, "l");
        dirent(img, 16384, 3, 0100600, "f");
        img.str(20480, "d/f");
        img.str(24576, "xyz");
        return img.b.array();
    }

    static ImageTree oneFileTree() {
        ImageTree t = new ImageTree(new Attributes(0755, 0, 0));
        t.root().file("a", FileContent.of("hi".getBytes(StandardCharsets.UTF_8)), new Attributes(0644, 0, 0));
        return t;
    }

    static ImageTree subdirTree() {
        ImageTree t = new ImageTree(new Attributes(0755, 0, 0));
        // added in an order that is not the image's, to show that the writer sorts
        t.root().symlink("l", "d/f", new Attributes(0777, 0, 0));
        var d = t.root().directory("d", new Attributes(0750, 1000, 1000));
        var f = d.file("f", FileContent.of("xyz".getBytes(StandardCharsets.UTF_8)), new Attributes(0600, 1000, 100));
        t.root().link("h", f);
        return t;
    }

    @Test
    void oneFileImageIsExactlyTheHandBuiltOne() throws Exception {
        Path out = tmp.resolve("one.daxfs");
        ImageTree tree = oneFileTree();
        ImageLayout layout = new ImageWriter().write(tree, out);
        assertBytes(expectedOneFile(), Files.readAllBytes(out));
        assertEquals(4096, layout.baseOffset());
        assertEquals(16384, layout.offsetOf((ImageTree.RegularFile) tree.root().get("a")));
    }

    @Test
    void subdirSymlinkHardLinkImageIsExactlyTheHandBuiltOne() throws Exception {
        ImageTree tree = subdirTree();
        Path out = tmp.resolve("two.daxfs");
        ImageLayout layout = new ImageWriter().write(tree, out);
        assertBytes(expectedSubdirSymlinkHardlink(false), Files.readAllBytes(out));
        var f = (ImageTree.RegularFile) ((ImageTree.Directory) tree.root().get("d")).get("f");
        assertEquals(3, layout.inodeOf(f));
        assertEquals(4096 + 20480, layout.offsetOf(f));
        assertEquals(2, layout.inodeOf(tree.root().get("d")));
        assertEquals(1, layout.inodeOf(tree.root()));
    }

    @Test
    void rootOwnedZeroesEveryOwner() throws Exception {
        Path out = tmp.resolve("root.daxfs");
        new ImageWriter().rootOwned(true).write(subdirTree(), out);
        assertBytes(expectedSubdirSymlinkHardlink(true), Files.readAllBytes(out));
    }

    /** The hand-built images are sound by the validator and read back through the reader. */
    @Test
    void handBuiltImagesAreSoundAndReadable() throws Exception {
        for (byte[] expected : new byte[][] {expectedOneFile(), expectedSubdirSymlinkHardlink(false)}) {
            var result = ImageValidator.validate(MemorySegment.ofArray(expected));
            assertTrue(result.sound(), result.problems()::toString);
        }
        try (DaxImage img = DaxImage.of(MemorySegment.ofArray(expectedOneFile()), "golden-1")) {
            assertEquals("hi", text(img.content("a")));
        }
        try (DaxImage img = DaxImage.of(MemorySegment.ofArray(expectedSubdirSymlinkHardlink(false)), "golden-2")) {
            assertEquals("xyz", text(img.content("l")));
            assertEquals(img.lookup("h").orElseThrow(), img.resolve("l"));
            assertEquals(1000, img.lookup("d").orElseThrow().uid());
        }
    }

    static String text(MemorySegment s) {
        return new String(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** Compares images and, on a mismatch, names the first differing offset and its neighbourhood. */
    static void assertBytes(byte[] expected, byte[] actual) {
        int at = java.util.Arrays.mismatch(expected, actual);
        if (at < 0) return;
        int from = Math.max(0, at - 8) & ~7;
        HexFormat hex = HexFormat.ofDelimiter(" ");
        String e = hex.formatHex(expected, Math.min(from, expected.length), Math.min(expected.length, from + 32));
        String a = hex.formatHex(actual, Math.min(from, actual.length), Math.min(actual.length, from + 32));
        fail("images differ at offset " + at + " (0x" + Integer.toHexString(at) + "); lengths " + expected.length + " / " + actual.length
                + "\n  expected @" + from + ": " + e + "\n  actual   @" + from + ": " + a);
    }
}

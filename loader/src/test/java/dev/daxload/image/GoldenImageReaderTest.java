package dev.daxload.image;

import dev.daxload.image.internal.DaxfsLayout;
import dev.daxload.image.internal.ImageValidator;
import static org.junit.jupiter.api.Assertions.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reader against images whose every byte is placed here by hand, straight from the tables of
 * daxfs-format.md (literal offsets and values, not {@link DaxfsLayout}), so a wrong constant on the
 * reading side shows up here even if the writer shares it.
 */
class GoldenImageReaderTest {

    /** A little-endian byte array with the put methods a hand layout needs. */
    static final class Bytes {
        final ByteBuffer b;

        Bytes(int size) {
            b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        }

        Bytes u16(int off, int v) { b.putShort(off, (short) v); return this; }
        Bytes u32(int off, long v) { b.putInt(off, (int) v); return this; }
        Bytes u64(int off, long v) { b.putLong(off, v); return this; }
        Bytes str(int off, String s) { b.put(off, s.getBytes(StandardCharsets.UTF_8)); return this; }

        MemorySegment segment() {
            return MemorySegment.ofArray(b.array());
        }
    }

    /** Superblock + base superblock of a static image; offsets from the two superblock tables. */
    static void superblocks(Bytes img, long total, int inodeCount, long dataOffset) {
        long baseSize = total - 4096;
        img.u32(0, 0x64617835).u32(4, 5).u32(8, 0).u32(12, 4096)
                .u64(16, total).u64(24, 4096).u64(32, baseSize)
                .u32(48, 0).u64(64, inodeCount + 1);
        img.u32(4096, 0x64646135).u32(4100, 5).u32(4104, 0).u32(4108, 4096)
                .u64(4112, baseSize).u64(4120, 4096).u32(4128, inodeCount).u32(4132, 1).u64(4136, dataOffset);
    }

    /** Inode {@code ino} of a table at absolute 8192 (base 4096 + inode_offset 4096). */
    static void inode(Bytes img, int ino, int mode, int uid, int gid, long size, long data, int nlink) {
        int at = 8192 + 64 * (ino - 1);
        img.u32(at, ino).u32(at + 4, mode).u32(at + 8, uid).u32(at + 12, gid)
                .u64(at + 16, size).u64(at + 24, data).u32(at + 32, nlink);
    }

    static void dirent(Bytes img, int at, int ino, int mode, String name) {
        img.u32(at, ino).u32(at + 4, mode).u16(at + 8, name.getBytes(StandardCharsets.UTF_8).length).str(at + 16, name);
    }

    /** Root with one 2-byte file "a" = "hi". */
    static MemorySegment oneFile() {
        Bytes img = new Bytes(20480);
        superblocks(img, 20480, 2, 8192);
        inode(img, 1, 040755, 0, 0, 271, 8192, 2);
        inode(img, 2, 0100644, 0, 0, 2, 12288, 1);
        dirent(img, 4096 + 8192, 2, 0100644, "a");
        img.str(4096 + 12288, "hi");
        return img.segment();
    }

    /**
     * Root with subdirectory "d" (holding file "f" = "xyz"), hard link "h" to d/f and symlink "l" to
     * "d/f". Inodes breadth first in name order: 1 root, 2 d, 3 h (= d/f), 4 l.
     */
    static MemorySegment subdirSymlinkHardlink() {
        Bytes img = new Bytes(28672);
        superblocks(img, 28672, 4, 8192);
        inode(img, 1, 040755, 0, 0, 3 * 271, 8192, 3);   // 2 + one subdirectory
        inode(img, 2, 040750, 1000, 1000, 271, 12288, 2);
        inode(img, 3, 0100600, 1000, 100, 3, 20480, 2);  // two names
        inode(img, 4, 0120777, 0, 0, 3, 16384, 1);
        int root = 4096 + 8192;
        dirent(img, root, 2, 040750, "d");
        dirent(img, root + 272, 3, 0100600, "h");       // 272-byte stride
        dirent(img, root + 544, 4, 0120777, "l");
        dirent(img, 4096 + 12288, 3, 0100600, "f");
        img.str(4096 + 16384, "d/f");                    // NUL is already there
        img.str(4096 + 20480, "xyz");
        return img.segment();
    }

    @Test
    void readsTheOneFileImage() throws Exception {
        MemorySegment seg = oneFile();
        var result = ImageValidator.validate(seg);
        assertTrue(result.sound(), result.problems()::toString);
        try (DaxImage img = DaxImage.of(seg, "golden-1")) {
            Superblock sb = img.superblock();
            assertEquals(20480, sb.totalSize());
            assertEquals(4096, sb.baseOffset());
            assertEquals(16384, sb.baseSize());
            assertEquals(16384, sb.baseTotalSize());
            assertEquals(2, sb.inodeCount());
            assertEquals(8192, sb.dataOffset());
            assertTrue(sb.isStatic());
            DaxInode root = img.root();
            assertTrue(root.isDirectory());
            assertEquals(1, root.entryCount());
            assertEquals(2, root.nlink());
            List<DaxEntry> entries = img.list("/");
            assertEquals(1, entries.size());
            assertEquals("a", entries.get(0).name());
            DaxInode a = entries.get(0).inode();
            assertEquals(2, a.ino());
            assertEquals(0644, a.permissions());
            assertEquals("-rw-r--r--", a.modeString());
            assertEquals("hi", text(img.content("a")));
            assertEquals(16384, img.absoluteOffset(a.dataOffset()));
            assertThrows(NoSuchFileException.class, () -> img.resolve("b"));
        }
    }

    @Test
    void readsSubdirSymlinkAndHardLink() throws Exception {
        MemorySegment seg = subdirSymlinkHardlink();
        var result = ImageValidator.validate(seg);
        assertTrue(result.sound(), result.problems()::toString);
        try (DaxImage img = DaxImage.of(seg, "golden-2")) {
            assertEquals(List.of("d", "h", "l"), img.list("").stream().map(DaxEntry::name).toList());
            assertEquals(3, img.root().nlink());
            DaxInode d = img.lookup("d").orElseThrow();
            assertEquals(040750, d.mode());
            assertEquals(1000, d.uid());
            assertEquals(1000, d.gid());
            DaxInode f = img.lookup("/d/f").orElseThrow();
            DaxInode h = img.lookup("h").orElseThrow();
            assertEquals(f, h);
            assertEquals(3, f.ino());
            assertEquals(2, f.nlink());
            assertEquals(100, f.gid());
            assertEquals("xyz", text(img.content("h")));
            DaxInode l = img.lookup("l").orElseThrow();
            assertTrue(l.isSymlink());
            assertEquals("d/f", img.readSymlink(l));
            assertEquals(f, img.resolve("l"));
            assertEquals("xyz", text(img.content("l")));
            assertEquals(d, img.resolve("d/../d/./"));
            assertEquals(img.root(), img.resolve("../../.."));
            assertThrows(FileSystemException.class, () -> img.resolve("h/x"));

            List<String> walked = new ArrayList<>();
            img.walk(e -> walked.add(e.path()));
            assertEquals(List.of("d", "d/f", "h", "l"), walked);
        }
    }

    /** The trap: a 271-byte stride must not pass as sound (the kernel would show one entry only). */
    @Test
    void a271ByteStrideIsNotRead() {
        Bytes img = new Bytes(20480);
        superblocks(img, 20480, 3, 8192);
        inode(img, 1, 040755, 0, 0, 2 * 271, 8192, 2);
        inode(img, 2, 0100644, 0, 0, 0, 0, 1);
        inode(img, 3, 0100644, 0, 0, 0, 0, 1);
        dirent(img, 4096 + 8192, 2, 0100644, "a");
        dirent(img, 4096 + 8192 + 271, 3, 0100644, "b");
        var result = ImageValidator.validate(img.segment());
        assertFalse(result.readable(), "a 271-stride directory must be refused: " + result.problems());
    }

    /** A root with the nlink the released kernel module would demand (entries naming it: 0) is sound but warned. */
    @Test
    void wrongNlinkIsAWarningNamingTheInode() throws Exception {
        MemorySegment seg = oneFile();
        seg.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8192 + 64 + 32, 5);
        var result = ImageValidator.validate(seg);
        assertTrue(result.readable());
        assertEquals(1, result.problems().size(), result.problems()::toString);
        ImageProblem p = result.problems().get(0);
        assertEquals("inode.nlink", p.rule());
        assertEquals(2, p.inode());
        assertEquals(8192 + 64 + 32, p.offset());
    }

    static String text(MemorySegment s) {
        return new String(s.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }
}

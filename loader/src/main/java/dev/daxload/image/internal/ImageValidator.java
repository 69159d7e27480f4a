package dev.daxload.image.internal;

import dev.daxload.image.DaxNames;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.Superblock;
import static dev.daxload.image.internal.DaxfsLayout.*;

import dev.daxload.image.ImageProblem.Severity;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks an image against every rule of the format and builds the path index a reader needs.
 *
 * <p>The image is untrusted: every offset and length is checked before it is used, every sum is
 * checked for overflow, no allocation is sized by a field that has not been bounded by the real size
 * of the image, and the tree walk visits each directory once, so a hostile image costs time and
 * memory proportional to its own size at most. The checks are those of the kernel's {@code validate}
 * option plus overlapping ranges, cycles, directories with two parents and names a path cannot hold.
 */
public final class ImageValidator {
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Enough to diagnose any image; past this, a hostile image would only fill memory with reports. */
    public static final int MAX_PROBLEMS = 1000;
    /**
     * Longest path, in UTF-8 bytes, that the index holds: Linux's PATH_MAX less the NUL. The index
     * keeps every full path, so without a bound a chain of directories would cost memory quadratic in
     * the image size (a few MB of image, tens of GB of strings).
     */
    static final int PATH_MAX = 4095;

    private final MemorySegment image;
    private final List<ImageProblem> problems = new ArrayList<>();
    private int droppedProblems;
    private boolean errorKept;
    private boolean walkIncomplete; // some entry was not followed: link counts would be wrong

    private Superblock superblock;
    private long base;        // absolute offset of the base image
    private long bound;       // base-relative end of the base image: every range ends within it
    private long inodeTable;  // absolute offset of inode 1
    private int inodeCount;
    private BitSet bad;       // inodes whose own fields are broken: never followed
    // Each inode's fields as read once by checkInode (20 bytes per inode, less than the table's 64): the
    // later passes use these instead of reading the image again, which in a fresh JVM (interpreted code,
    // a VarHandle per read) was most of an open's validation time.
    private int[] modes;
    private long[] sizes;
    private long[] dataOffsets;
    private int[] nlinks;
    private boolean lastNameAscii; // what checkName found of the name it last passed, so the walk need not scan it again
    /** Inodes read per bulk copy of the table (16 KiB of it). */
    private static final int INODE_CHUNK = 256;
    /** Directory entries read per bulk copy (about 17 KiB). */
    private static final int DIRENT_CHUNK = 64;
    // The index: (directory, name) -> inode, and each directory's parent and name. Full paths are
    // never stored: under deep directories they cost memory quadratic in the depth (20k names under
    // fifteen 255-byte directories were 80 MB of strings).
    private final Map<Child, Long> children = new HashMap<>();
    private final Map<Long, Child> parents = new HashMap<>(); // a directory has exactly one parent

    private ImageValidator(MemorySegment image) {
        this.image = image;
    }

    /**
     * Checks {@code image} and, where it is readable, indexes it.
     *
     * @param image the whole image; nothing outside it is read
     */
    public static Result validate(MemorySegment image) {
        ImageValidator v = new ImageValidator(image);
        boolean readable = v.run();
        return new Result(List.copyOf(v.problems), v.droppedProblems, v.superblock,
                readable ? new Index(v.base, v.inodeTable, v.inodeCount, v.superblock.rootInode(), v.children, v.parents) : null);
    }

    /**
     * What validation found.
     *
     * @param problems every problem, errors and warnings, in the order found (at most {@value #MAX_PROBLEMS})
     * @param droppedProblems problems found beyond the cap and not kept
     * @param superblock the superblock fields, or null if the superblocks themselves are unreadable
     * @param index the path index, or null if the image cannot be read safely
     */
    public record Result(List<ImageProblem> problems, int droppedProblems, Superblock superblock, Index index) {
        /** True when no error was found: every path can be read without leaving the image. */
        public boolean readable() {
            return problems.stream().noneMatch(p -> p.severity() == Severity.ERROR);
        }

        /** True when nothing at all was found. */
        public boolean sound() {
            return problems.isEmpty() && droppedProblems == 0;
        }

        public long errorCount() {
            return problems.stream().filter(p -> p.severity() == Severity.ERROR).count();
        }
    }

    /**
     * Where things are in a checked image: the maps are never written after validation.
     *
     * @param children inode of each name in each directory
     * @param parents each directory's parent and its name there (the root has none)
     */
    public record Index(long base, long inodeTable, int inodeCount, long rootInode, Map<Child, Long> children, Map<Long, Child> parents) {
        /** The inode named {@code name} in directory {@code dir}, or null. */
        public Long child(long dir, String name) {
            return children.get(new Child(dir, name));
        }

        /** Path of directory {@code dir} from the root, without a leading slash; time linear in its length. */
        public String pathOf(long dir) {
            java.util.ArrayDeque<String> parts = new java.util.ArrayDeque<>();
            for (Child c = parents.get(dir); c != null; c = parents.get(c.dir())) {
                parts.push(c.name());
            }
            return String.join("/", parts);
        }
    }

    /**
     * A name in a directory. Its equals and hashCode are written out: a record's generated ones go
     * through method handles, slow in the interpreter that runs a fresh JVM's open.
     */
    public record Child(long dir, String name) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Child c && c.dir == dir && c.name.equals(name);
        }

        @Override
        public int hashCode() {
            return 31 * Long.hashCode(dir) + name.hashCode();
        }
    }

    /**
     * Bytes of heap the index takes per entry, beyond its name: key, map node, boxed inode number.
     * With {@link #indexBudget()} it bounds how many entries an image may hold in this JVM.
     */
    static final long INDEX_BYTES_PER_ENTRY = 200;

    /**
     * The heap the path index may take: a quarter of the maximum heap. An image with more entries
     * than fit is refused before the index is built ("dir.entries"), with the number it would need.
     */
    static long indexBudget() {
        return Runtime.getRuntime().maxMemory() / 4;
    }

    private void problem(Severity severity, long inode, long offset, String rule, String detail) {
        // Past the cap, one error is still kept if none is: readable() looks at the kept problems,
        // and an image whose first 1000 problems are warnings must not pass as readable.
        if (problems.size() < MAX_PROBLEMS || (severity == Severity.ERROR && !errorKept)) {
            problems.add(new ImageProblem(severity, inode, offset, rule, detail));
            errorKept |= severity == Severity.ERROR;
        } else {
            droppedProblems++;
        }
    }

    private void error(long inode, long offset, String rule, String detail) {
        problem(Severity.ERROR, inode, offset, rule, detail);
    }

    private void warn(long inode, long offset, String rule, String detail) {
        problem(Severity.WARNING, inode, offset, rule, detail);
    }

    private int u32(long off) {
        return image.get(U32, off);
    }

    private long u32l(long off) {
        return Integer.toUnsignedLong(image.get(U32, off));
    }

    private long u64(long off) {
        return image.get(U64, off);
    }

    /** True if {@code [off, off+len)} lies within {@code [0, limit)}; unsigned-safe, overflow-safe. */
    static boolean within(long off, long len, long limit) {
        return off >= 0 && len >= 0 && off <= limit && len <= limit - off;
    }

    private boolean run() {
        if (!readSuperblocks()) {
            return false;
        }
        bad = new BitSet(inodeCount + 1);
        modes = new int[inodeCount + 1];
        sizes = new long[inodeCount + 1];
        dataOffsets = new long[inodeCount + 1];
        nlinks = new int[inodeCount + 1];
        List<long[]> ranges = new ArrayList<>(); // {start, end, ino}, base-relative
        // The table is read a chunk at a time into a long[] (one bulk copy), not field by field: in a fresh
        // JVM each read through a VarHandle is an interpreted call chain, and there are five per inode.
        long[] table = new long[INODE_CHUNK * (INODE_SIZE / 8)];
        for (int first = 1; first <= inodeCount; first += INODE_CHUNK) {
            int n = Math.min(INODE_CHUNK, inodeCount - first + 1);
            MemorySegment.copy(image, U64, inodeTable + (long) (first - 1) * INODE_SIZE, table, 0, n * (INODE_SIZE / 8));
            for (int i = 0; i < n; i++) {
                checkInode(first + i, table, i * (INODE_SIZE / 8), ranges);
            }
        }
        checkOverlaps(ranges);
        long root = superblock.rootInode();
        if (bad.get((int) root)) {
            return false;
        }
        walk();
        return problems.stream().noneMatch(p -> p.severity() == Severity.ERROR);
    }

    private boolean readSuperblocks() {
        long size = image.byteSize();
        if (size < 2L * BLOCK_SIZE) {
            error(0, 0, "image.size", "image is " + size + " bytes; a DAXFS image holds at least a superblock and a base superblock (8192 bytes)");
            return false;
        }
        int magic = u32(SB_MAGIC);
        if (magic != SUPER_MAGIC) {
            error(0, SB_MAGIC, "super.magic", String.format("superblock magic is 0x%08x, expected 0x%08x (\"dax5\"): not a DAXFS v5 image", magic, SUPER_MAGIC));
            return false;
        }
        int version = u32(SB_VERSION);
        if (version != VERSION) {
            error(0, SB_VERSION, "super.version", "superblock version is " + Integer.toUnsignedString(version) + ", expected " + VERSION);
            return false;
        }
        int blockSize = u32(SB_BLOCK_SIZE);
        if (blockSize != BLOCK_SIZE) {
            error(0, SB_BLOCK_SIZE, "super.block_size", "block_size is " + Integer.toUnsignedString(blockSize) + ", expected " + BLOCK_SIZE);
            return false;
        }
        long totalSize = u64(SB_TOTAL_SIZE);
        long baseOffset = u64(SB_BASE_OFFSET);
        long baseSize = u64(SB_BASE_SIZE);
        if (baseOffset < BLOCK_SIZE || baseOffset % BLOCK_SIZE != 0) {
            error(0, SB_BASE_OFFSET, "super.base_offset", "base_offset is " + Long.toUnsignedString(baseOffset) + ", expected a non-zero multiple of " + BLOCK_SIZE);
            return false;
        }
        if (Long.compareUnsigned(baseSize, BLOCK_SIZE) < 0) {
            // the base superblock alone is 4096 bytes; reading it from a smaller base would leave the image
            error(0, SB_BASE_SIZE, "super.base_size", "base_size is " + baseSize + ", smaller than the " + BLOCK_SIZE + "-byte base superblock");
            return false;
        }
        if (!within(baseOffset, baseSize, size)) {
            error(0, SB_BASE_SIZE, "super.base_size", "base image [" + Long.toUnsignedString(baseOffset) + ", +" + Long.toUnsignedString(baseSize)
                    + ") runs past the end of the image (" + size + " bytes): truncated image?");
            return false;
        }
        if (Long.compareUnsigned(totalSize, size) > 0) {
            error(0, SB_TOTAL_SIZE, "super.total_size", "total_size is " + Long.toUnsignedString(totalSize) + " but the image has only " + size + " bytes: truncated image?");
        }
        long branches = u32l(SB_BRANCH_TABLE_ENTRIES);
        base = baseOffset;
        int baseMagic = u32(base + BASE_MAGIC_OFF);
        if (baseMagic != BASE_MAGIC) {
            error(0, base + BASE_MAGIC_OFF, "base.magic", String.format("base superblock magic is 0x%08x, expected 0x%08x (\"dda5\")", baseMagic, BASE_MAGIC));
            return false;
        }
        int baseVersion = u32(base + BASE_VERSION);
        if (baseVersion != VERSION) {
            error(0, base + BASE_VERSION, "base.version", "base superblock version is " + Integer.toUnsignedString(baseVersion) + ", expected " + VERSION);
            return false;
        }
        int baseBlock = u32(base + BASE_BLOCK_SIZE);
        if (baseBlock != BLOCK_SIZE) {
            error(0, base + BASE_BLOCK_SIZE, "base.block_size", "base block_size is " + Integer.toUnsignedString(baseBlock) + ", expected " + BLOCK_SIZE);
            return false;
        }
        int baseFlags = u32(base + BASE_FLAGS);
        long baseTotal = u64(base + BASE_TOTAL_SIZE);
        long inodeOffset = u64(base + BASE_INODE_OFFSET);
        long count = u32l(base + BASE_INODE_COUNT);
        long rootIno = u32l(base + BASE_ROOT_INODE);
        long dataOffset = u64(base + BASE_DATA_OFFSET);
        superblock = new Superblock(version, u32(SB_FLAGS), blockSize, totalSize, baseOffset, baseSize, branches,
                baseTotal, baseFlags, inodeOffset, count, rootIno, dataOffset);
        if ((baseFlags & BASE_FLAG_EXTERNAL_DATA) != 0) {
            error(0, base + BASE_FLAGS, "base.flags", "file data lives in an external backing file (split image); only self-contained images can be read");
            return false;
        }
        if (baseFlags != 0) {
            warn(0, base + BASE_FLAGS, "base.flags", String.format("unknown base flags 0x%x", baseFlags));
        }
        if (Long.compareUnsigned(baseTotal, baseSize) > 0 || baseTotal < BLOCK_SIZE) {
            error(0, base + BASE_TOTAL_SIZE, "base.total_size", "base total_size is " + Long.toUnsignedString(baseTotal)
                    + ", expected at least " + BLOCK_SIZE + " and at most base_size " + baseSize);
            return false;
        }
        bound = baseTotal;
        if (count == 0) {
            error(0, base + BASE_INODE_COUNT, "base.inode_count", "inode_count is 0; an image has at least the root directory");
            return false;
        }
        if (inodeOffset < BLOCK_SIZE || count > (bound - Math.min(inodeOffset, bound)) / INODE_SIZE) {
            error(0, base + BASE_INODE_OFFSET, "base.inode_table", "inode table at " + Long.toUnsignedString(inodeOffset) + " with " + count
                    + " inodes of 64 bytes does not fit between the base superblock and the end of the base image (" + bound + ")");
            return false;
        }
        if (rootIno < 1 || rootIno > count) {
            error(0, base + BASE_ROOT_INODE, "base.root_inode", "root_inode is " + rootIno + ", expected 1.." + count);
            return false;
        }
        if (Long.compareUnsigned(dataOffset, bound) > 0) {
            warn(0, base + BASE_DATA_OFFSET, "base.data_offset", "data_offset " + Long.toUnsignedString(dataOffset) + " lies past the base image");
        } else if (dataOffset < inodeOffset + count * INODE_SIZE || dataOffset % BLOCK_SIZE != 0) {
            warn(0, base + BASE_DATA_OFFSET, "base.data_offset", "data_offset is " + dataOffset + ", expected a multiple of " + BLOCK_SIZE
                    + " at or after the end of the inode table (" + (inodeOffset + count * INODE_SIZE) + ")");
        }
        checkStaticSuperblock(size, totalSize, baseOffset, baseSize);
        inodeCount = (int) count; // bounded by bound / 64 above, and bound by the segment size
        inodeTable = base + inodeOffset;
        return true;
    }

    /**
     * The fields a static image keeps at fixed values. A reader that ignored them would read the base
     * image of a branching image (not what a mount shows) or pass an image the kernel reads otherwise.
     */
    private void checkStaticSuperblock(long size, long totalSize, long baseOffset, long baseSize) {
        int flags = u32(SB_FLAGS);
        if (flags != 0) {
            warn(0, SB_FLAGS, "super.flags", String.format("superblock flags are 0x%08x, expected 0", flags));
        }
        if (Long.compareUnsigned(totalSize, size) <= 0 && totalSize != baseOffset + baseSize) {
            warn(0, SB_TOTAL_SIZE, "super.total_size", "total_size is " + Long.toUnsignedString(totalSize) + ", expected base_offset + base_size = "
                    + (baseOffset + baseSize));
        }
        long[][] zeroFields = {
            {SB_BRANCH_TABLE_OFFSET, 8}, {SB_BRANCH_TABLE_ENTRIES, 4}, {SB_ACTIVE_BRANCHES, 4}, {SB_NEXT_BRANCH_ID, 8},
            {SB_DELTA_REGION_OFFSET, 8}, {SB_DELTA_REGION_SIZE, 8}, {SB_DELTA_ALLOC_OFFSET, 8},
            {SB_PCACHE_OFFSET, 8}, {SB_PCACHE_SIZE, 8}, {SB_PCACHE_SLOT_COUNT, 4}};
        String[] names = {"branch_table_offset", "branch_table_entries", "active_branches", "next_branch_id",
            "delta_region_offset", "delta_region_size", "delta_alloc_offset", "pcache_offset", "pcache_size", "pcache_slot_count"};
        for (int i = 0; i < zeroFields.length; i++) {
            long off = zeroFields[i][0];
            long v = zeroFields[i][1] == 8 ? u64(off) : u32l(off);
            if (v != 0) {
                warn(0, off, "super.static", names[i] + " is " + Long.toUnsignedString(v)
                        + ", expected 0: a branching or cached image, whose base image (all daxload reads) may not be what a mount shows");
            }
        }
    }

    /**
     * Checks inode {@code ino}, whose 64-byte entry is {@code t[k..k+7]}: the table read as little-endian
     * longs, so each 32-bit field is half of one.
     */
    private void checkInode(int ino, long[] t, int k, List<long[]> ranges) {
        long at = inodeTable + (long) (ino - 1) * INODE_SIZE;
        long stored = low32(t[k + INODE_INO / 8]);
        if (stored != ino) {
            error(ino, at + INODE_INO, "inode.ino", "inode table entry " + ino + " holds ino " + stored + "; inode numbers must equal their position");
            bad.set(ino);
        }
        int mode = (int) (t[k + INODE_MODE / 8] >>> 32);
        long size = t[k + INODE_SIZE_FIELD / 8];
        long data = t[k + INODE_DATA_OFFSET / 8];
        modes[ino] = mode;
        sizes[ino] = size;
        dataOffsets[ino] = data;
        nlinks[ino] = (int) t[k + INODE_NLINK / 8];
        long metaEnd = inodeTable - base + (long) inodeCount * INODE_SIZE;
        switch (mode & S_IFMT) {
            case S_IFREG -> {
                if (size == 0) {
                    return;
                }
                if (!within(data, size, bound)) {
                    error(ino, at + INODE_DATA_OFFSET, "file.range", "file data [" + Long.toUnsignedString(data) + ", +" + Long.toUnsignedString(size)
                            + ") runs past the base image (" + bound + " bytes)");
                    bad.set(ino);
                    return;
                }
                if (data % BLOCK_SIZE != 0) {
                    warn(ino, at + INODE_DATA_OFFSET, "file.align", "file data at " + data + " is not " + BLOCK_SIZE + "-byte aligned");
                }
                checkAfterMetadata(ino, at, data, metaEnd);
                ranges.add(new long[] {data, data + size, ino});
            }
            case S_IFDIR -> {
                if (Long.remainderUnsigned(size, DIRENT_SIZE_UNIT) != 0) {
                    error(ino, at + INODE_SIZE_FIELD, "dir.size", "directory size " + Long.toUnsignedString(size) + " is not a multiple of " + DIRENT_SIZE_UNIT);
                    bad.set(ino);
                    return;
                }
                long count = Long.divideUnsigned(size, DIRENT_SIZE_UNIT);
                if (count == 0) {
                    return;
                }
                if (count > bound / DIRENT_STRIDE || !within(data, count * DIRENT_STRIDE, bound)) {
                    error(ino, at + INODE_DATA_OFFSET, "dir.range", "directory of " + Long.toUnsignedString(count) + " entries at "
                            + Long.toUnsignedString(data) + " runs past the base image (" + bound + " bytes) with the kernel's 272-byte stride");
                    bad.set(ino);
                    return;
                }
                checkAfterMetadata(ino, at, data, metaEnd);
                ranges.add(new long[] {data, data + count * DIRENT_STRIDE, ino});
            }
            case S_IFLNK -> {
                if (size == 0 || Long.compareUnsigned(size, SYMLINK_MAX) > 0) {
                    error(ino, at + INODE_SIZE_FIELD, "symlink.size", "symlink target length " + Long.toUnsignedString(size) + ", expected 1.." + SYMLINK_MAX);
                    bad.set(ino);
                    return;
                }
                if (!within(data, size + 1, bound)) {
                    error(ino, at + INODE_DATA_OFFSET, "symlink.range", "symlink target [" + Long.toUnsignedString(data) + ", +" + (size + 1)
                            + ") runs past the base image (" + bound + " bytes)");
                    bad.set(ino);
                    return;
                }
                long target = base + data;
                if (image.get(ValueLayout.JAVA_BYTE, target + size) != 0) {
                    error(ino, target + size, "symlink.nul", "symlink target is not NUL-terminated");
                    bad.set(ino);
                    return;
                }
                for (long i = 0; i < size; i++) {
                    if (image.get(ValueLayout.JAVA_BYTE, target + i) == 0) {
                        error(ino, target + i, "symlink.nul", "symlink target holds a NUL byte before its end");
                        bad.set(ino);
                        return;
                    }
                }
                checkAfterMetadata(ino, at, data, metaEnd);
                ranges.add(new long[] {data, data + size + 1, ino});
            }
            default -> {
                error(ino, at + INODE_MODE, "inode.mode", String.format("file type 0%o is not a regular file, directory or symlink", mode & S_IFMT));
                bad.set(ino);
            }
        }
    }

    private void checkAfterMetadata(int ino, long at, long data, long metaEnd) {
        if (data < metaEnd) {
            error(ino, at + INODE_DATA_OFFSET, "range.metadata", "data at " + data + " overlaps the superblock or the inode table (which end at " + metaEnd + ")");
            bad.set(ino);
        }
    }

    private void checkOverlaps(List<long[]> ranges) {
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        long maxEnd = -1;
        long maxOwner = 0;
        for (long[] r : ranges) {
            if (r[0] < maxEnd) {
                error(r[2], base + r[0], "range.overlap", "data [" + r[0] + ", " + r[1] + ") overlaps that of inode " + maxOwner + " (ends at " + maxEnd + ")");
                bad.set((int) r[2]);
                bad.set((int) maxOwner);
            }
            if (r[1] > maxEnd) {
                maxEnd = r[1];
                maxOwner = r[2];
            }
        }
    }

    private boolean isDirectory(long ino) {
        return (modes[(int) ino] & S_IFMT) == S_IFDIR;
    }

    /** Entries of a directory, from the fields checkInode read. */
    private long entryCount(long ino) {
        return isDirectory(ino) ? Long.divideUnsigned(sizes[(int) ino], DIRENT_SIZE_UNIT) : 0;
    }

    private void walk() {
        long root = superblock.rootInode();
        if (!isDirectory(root)) {
            error(root, inodeTable + (root - 1) * INODE_SIZE + INODE_MODE, "root.type", "the root inode is not a directory");
            return;
        }
        int[] refs = new int[inodeCount + 1];
        int[] subdirs = new int[inodeCount + 1];
        BitSet visited = new BitSet(inodeCount + 1);
        visited.set((int) root);
        if (!indexFits()) {
            return;
        }
        record Pending(long ino, int pathBytes) {}
        ArrayDeque<Pending> queue = new ArrayDeque<>();
        queue.add(new Pending(root, 0));
        byte[] dirents = new byte[DIRENT_CHUNK * DIRENT_STRIDE];
        var utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        while (!queue.isEmpty()) {
            Pending dir = queue.poll();
            long count = entryCount(dir.ino);
            long dirData = dataOffsets[(int) dir.ino];
            Set<String> names = new HashSet<>();
            for (long k = 0; k < count; k++) {
                long at = base + dirData + k * DIRENT_STRIDE;
                // Entries are read a chunk at a time (checkInode checked that all of them lie in the image).
                int e = (int) (k % DIRENT_CHUNK) * DIRENT_STRIDE;
                if (e == 0) {
                    MemorySegment.copy(image, ValueLayout.JAVA_BYTE, at, dirents, 0, (int) Math.min(DIRENT_CHUNK, count - k) * DIRENT_STRIDE);
                }
                long child = Integer.toUnsignedLong(le32(dirents, e + DIRENT_INO));
                int entryMode = le32(dirents, e + DIRENT_MODE);
                int nameLen = (dirents[e + DIRENT_NAME_LEN] & 0xff) | (dirents[e + DIRENT_NAME_LEN + 1] & 0xff) << 8;
                if (nameLen < 1 || nameLen > NAME_MAX) {
                    error(dir.ino, at + DIRENT_NAME_LEN, "dirent.name_len", "entry " + k + " has name_len " + nameLen + ", expected 1.." + NAME_MAX);
                    walkIncomplete = true;
                    continue;
                }
                byte[] raw = Arrays.copyOfRange(dirents, e + DIRENT_NAME, e + DIRENT_NAME + nameLen);
                String name = checkName(dir.ino, at, k, raw, utf8);
                if (name == null) {
                    walkIncomplete = true;
                    continue;
                }
                // Bytes, not the decoded name, decide duplicates (two invalid names may decode alike);
                // an ASCII name is its own bytes already.
                if (!names.add(lastNameAscii ? name : new String(raw, StandardCharsets.ISO_8859_1))) {
                    error(dir.ino, at + DIRENT_NAME, "dirent.duplicate", "name '" + name + "' appears twice in this directory");
                    walkIncomplete = true;
                    continue;
                }
                if (child < 1 || child > inodeCount) {
                    error(dir.ino, at + DIRENT_INO, "dirent.ino", "entry '" + name + "' names inode " + child + ", expected 1.." + inodeCount);
                    walkIncomplete = true;
                    continue;
                }
                if (bad.get((int) child)) {
                    walkIncomplete = true;
                    continue; // its own fields were reported already
                }
                int childMode = modes[(int) child];
                if ((entryMode & S_IFMT) != (childMode & S_IFMT)) {
                    error(dir.ino, at + DIRENT_MODE, "dirent.mode", String.format("entry '%s' has type 0%o but inode %d has type 0%o",
                            name, entryMode & S_IFMT, child, childMode & S_IFMT));
                    walkIncomplete = true;
                    continue;
                }
                int pathBytes = dir.pathBytes == 0 ? raw.length : dir.pathBytes + 1 + raw.length;
                if (pathBytes > PATH_MAX) {
                    error(dir.ino, at + DIRENT_NAME, "path.length", "entry '" + name + "' has a path of " + pathBytes
                            + " bytes; the longest path Linux can open is " + PATH_MAX + " bytes");
                    walkIncomplete = true;
                    continue;
                }
                if (isDirectory(child)) {
                    if (visited.get((int) child)) {
                        error(child, at + DIRENT_INO, "dir.parents", "directory reached a second time through '" + pathOf(dir.ino, name)
                                + "': a directory with two parents, or a cycle");
                        walkIncomplete = true;
                        continue;
                    }
                    visited.set((int) child);
                    parents.put(child, new Child(dir.ino, name));
                    subdirs[(int) dir.ino]++;
                    queue.add(new Pending(child, pathBytes));
                }
                refs[(int) child]++;
                if (children.putIfAbsent(new Child(dir.ino, name), child) != null) {
                    error(dir.ino, at + DIRENT_NAME, "dirent.duplicate", "path '" + pathOf(dir.ino, name) + "' appears twice");
                }
            }
        }
        if (walkIncomplete) {
            // An entry was not followed (reported above): the counts below would be short and every
            // inode under a skipped directory would look unreachable: noise that hides the real error.
            return;
        }
        for (int ino = 1; ino <= inodeCount; ino++) {
            if (bad.get(ino)) {
                continue;
            }
            long at = inodeTable + (long) (ino - 1) * INODE_SIZE + INODE_NLINK;
            if (ino != root && refs[ino] == 0) {
                warn(ino, at - INODE_NLINK, "inode.unreachable", "no directory entry names this inode");
                continue;
            }
            long nlink = Integer.toUnsignedLong(nlinks[ino]);
            boolean dir = isDirectory(ino);
            long expected = dir ? 2L + subdirs[ino] : refs[ino];
            if (nlink != expected) {
                warn(ino, at, "inode.nlink", "nlink is " + nlink + ", expected " + expected
                        + (dir ? " (2 + subdirectories)" : " (entries naming it)"));
            }
        }
    }

    /** The unsigned low 32 bits of a little-endian long: its first 4-byte field. */
    private static long low32(long v) {
        return v & 0xffffffffL;
    }

    /** The little-endian 32-bit value at {@code b[i..i+3]}. */
    private static int le32(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8 | (b[i + 2] & 0xff) << 16 | b[i + 3] << 24;
    }

    /** Path of {@code name} in directory {@code dir}, for messages. */
    private String pathOf(long dir, String name) {
        String d = new Index(base, inodeTable, inodeCount, superblock.rootInode(), children, parents).pathOf(dir);
        return d.isEmpty() ? name : d + "/" + name;
    }

    /**
     * Refuses, before building it, an index that would not fit {@link #indexBudget()}: memory is
     * bounded by the heap, not by what the image declares.
     */
    private boolean indexFits() {
        long entries = 0;
        long nameBytes = 0;
        for (int ino = 1; ino <= inodeCount; ino++) {
            if (!bad.get(ino) && isDirectory(ino)) {
                long count = entryCount(ino);
                long data = dataOffsets[ino];
                entries += count;
                for (long k = 0; k < count; k++) { // reads the lengths only: no allocation
                    nameBytes += Short.toUnsignedInt(image.get(U16, base + data + k * DIRENT_STRIDE + DIRENT_NAME_LEN));
                }
            }
        }
        // Each name is held once in the index and once, for its directory's walk, in the duplicate check.
        long need = entries * INDEX_BYTES_PER_ENTRY + 2 * nameBytes;
        long budget = indexBudget();
        if (need > budget) {
            error(0, inodeTable, "dir.entries", "the directories hold " + entries + " entries (" + nameBytes + " bytes of names), whose path index needs about "
                    + (need >> 20) + " MiB of heap; this JVM allows " + (budget >> 20) + " MiB (a quarter of -Xmx): raise -Xmx to read this image");
            return false;
        }
        return true;
    }

    private String checkName(long dirIno, long at, long k, byte[] raw, java.nio.charset.CharsetDecoder utf8) {
        boolean ascii = true;
        for (byte b : raw) {
            if (b == '/' || b == 0) {
                error(dirIno, at + DIRENT_NAME, "dirent.name", "entry " + k + " has a name with a " + (b == 0 ? "NUL byte" : "'/'"));
                return null;
            }
            ascii &= b >= 0;
        }
        if (raw[0] == '.' && (raw.length == 1 || (raw.length == 2 && raw[1] == '.'))) {
            error(dirIno, at + DIRENT_NAME, "dirent.name", "entry " + k + " is named '" + new String(raw, StandardCharsets.US_ASCII) + "'");
            return null;
        }
        lastNameAscii = ascii;
        if (ascii) {
            return new String(raw, StandardCharsets.ISO_8859_1); // valid UTF-8, decoded alike; no decoder set-up per name
        }
        try {
            return utf8.decode(java.nio.ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            // Legal, as on any Linux file system: the name is kept byte for byte (DaxNames).
            return DaxNames.decode(raw);
        }
    }
}

package dev.daxload.image.internal;

import dev.daxload.image.Superblock;

/**
 * Constants of the static DAXFS version 5 image, as the kernel module reads it.
 *
 * <p>This is the one place that knows the byte layout; the writer in {@code packager} uses the same
 * constants, so a change here moves both sides together. Offsets within a structure are named
 * {@code <STRUCT>_<FIELD>}.
 */
public final class DaxfsLayout {
    private DaxfsLayout() {}

    /** Block size: every data range starts on a multiple of it. */
    public static final int BLOCK_SIZE = 4096;
    /** Format version written in both superblocks. */
    public static final int VERSION = 5;

    /** "dax5", little-endian. */
    public static final int SUPER_MAGIC = 0x64617835;
    /** "dda5", little-endian. */
    public static final int BASE_MAGIC = 0x64646135;

    /** Where the base image starts in a static image (right after the superblock). */
    public static final long STATIC_BASE_OFFSET = BLOCK_SIZE;
    /** Where the inode table starts, relative to the base image (right after the base superblock). */
    public static final long STATIC_INODE_OFFSET = BLOCK_SIZE;

    // Superblock, at offset 0 of the image.
    public static final int SB_MAGIC = 0;
    public static final int SB_VERSION = 4;
    public static final int SB_FLAGS = 8;
    public static final int SB_BLOCK_SIZE = 12;
    public static final int SB_TOTAL_SIZE = 16;
    public static final int SB_BASE_OFFSET = 24;
    public static final int SB_BASE_SIZE = 32;
    public static final int SB_BRANCH_TABLE_OFFSET = 40;
    public static final int SB_BRANCH_TABLE_ENTRIES = 48;
    public static final int SB_ACTIVE_BRANCHES = 52;
    public static final int SB_NEXT_BRANCH_ID = 56;
    public static final int SB_NEXT_INODE_ID = 64;
    public static final int SB_DELTA_REGION_OFFSET = 72;
    public static final int SB_DELTA_REGION_SIZE = 80;
    public static final int SB_DELTA_ALLOC_OFFSET = 88;
    public static final int SB_PCACHE_OFFSET = 160;
    public static final int SB_PCACHE_SIZE = 168;
    public static final int SB_PCACHE_SLOT_COUNT = 176;

    // Base superblock, at base_offset.
    public static final int BASE_MAGIC_OFF = 0;
    public static final int BASE_VERSION = 4;
    public static final int BASE_FLAGS = 8;
    public static final int BASE_BLOCK_SIZE = 12;
    public static final int BASE_TOTAL_SIZE = 16;
    public static final int BASE_INODE_OFFSET = 24;
    public static final int BASE_INODE_COUNT = 32;
    public static final int BASE_ROOT_INODE = 36;
    public static final int BASE_DATA_OFFSET = 40;
    /** Base flag bit 0: file data lives in an external backing file (not usable for weights). */
    public static final int BASE_FLAG_EXTERNAL_DATA = 1;

    // Inode, 64 bytes; inode N is entry N-1 of the table.
    public static final int INODE_SIZE = 64;
    public static final int INODE_INO = 0;
    public static final int INODE_MODE = 4;
    public static final int INODE_UID = 8;
    public static final int INODE_GID = 12;
    public static final int INODE_SIZE_FIELD = 16;
    public static final int INODE_DATA_OFFSET = 24;
    public static final int INODE_NLINK = 32;

    /**
     * A directory's size field counts this many bytes per entry ...
     */
    public static final int DIRENT_SIZE_UNIT = 271;
    /** ... while the kernel indexes the entry array with this stride: the format's one trap. */
    public static final int DIRENT_STRIDE = 272;
    public static final int DIRENT_INO = 0;
    public static final int DIRENT_MODE = 4;
    public static final int DIRENT_NAME_LEN = 8;
    public static final int DIRENT_NAME = 16;
    /** Longest name a directory entry holds. */
    public static final int NAME_MAX = 255;

    /** Longest symlink target a reader accepts (Linux PATH_MAX less the NUL). */
    public static final int SYMLINK_MAX = 4095;

    // st_mode type bits.
    public static final int S_IFMT = 0170000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFLNK = 0120000;

    /** Rounds {@code value} up to a multiple of {@code alignment} (a power of two). */
    public static long alignUp(long value, long alignment) {
        return Math.addExact(value, alignment - 1) & -alignment;
    }
}

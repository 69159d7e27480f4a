package dev.daxload.image;

import dev.daxload.image.internal.DaxfsLayout;
import static dev.daxload.image.internal.DaxfsLayout.S_IFDIR;
import static dev.daxload.image.internal.DaxfsLayout.S_IFLNK;
import static dev.daxload.image.internal.DaxfsLayout.S_IFMT;
import static dev.daxload.image.internal.DaxfsLayout.S_IFREG;

/**
 * One inode of an image, as stored.
 *
 * @param ino the inode number (1-based)
 * @param mode the full {@code st_mode}: type bits and permissions
 * @param uid owner
 * @param gid group
 * @param size file length; symlink target length; for a directory, entry count x 271
 * @param dataOffset where the data starts, relative to the base image (see {@link DaxImage#absoluteOffset})
 * @param nlink the link count stored in the image
 */
public record DaxInode(long ino, int mode, long uid, long gid, long size, long dataOffset, long nlink) {
    private static final java.lang.foreign.ValueLayout.OfLong U64 =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Decodes the 64-byte inode table entry at {@code at}; the caller has checked it lies in the image. */
    static DaxInode read(java.lang.foreign.MemorySegment image, long at, long ino) {
        // One bulk copy of the entry's first 40 bytes as little-endian longs rather than six VarHandle reads:
        // in a fresh JVM each of those is an interpreted call chain, and an open reads an inode per tensor.
        long[] f = new long[5];
        java.lang.foreign.MemorySegment.copy(image, U64, at, f, 0, 5);
        return new DaxInode(ino, (int) (f[DaxfsLayout.INODE_MODE / 8] >>> 32),
                f[DaxfsLayout.INODE_UID / 8] & 0xffffffffL, f[DaxfsLayout.INODE_GID / 8] >>> 32,
                f[DaxfsLayout.INODE_SIZE_FIELD / 8], f[DaxfsLayout.INODE_DATA_OFFSET / 8],
                f[DaxfsLayout.INODE_NLINK / 8] & 0xffffffffL);
    }

    public boolean isDirectory() {
        return (mode & S_IFMT) == S_IFDIR;
    }

    public boolean isRegularFile() {
        return (mode & S_IFMT) == S_IFREG;
    }

    public boolean isSymlink() {
        return (mode & S_IFMT) == S_IFLNK;
    }

    /** Permission bits, setuid/setgid/sticky included. */
    public int permissions() {
        return mode & 07777;
    }

    /** Number of entries of a directory, 0 for other types. */
    public long entryCount() {
        return isDirectory() ? size / DaxfsLayout.DIRENT_SIZE_UNIT : 0;
    }

    /** {@code ls -l} style type and permission string, e.g. {@code drwxr-xr-x}. */
    public String modeString() {
        char type = isDirectory() ? 'd' : isSymlink() ? 'l' : '-';
        StringBuilder sb = new StringBuilder(10).append(type);
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((mode & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        if ((mode & 04000) != 0) sb.setCharAt(3, (mode & 0100) != 0 ? 's' : 'S');
        if ((mode & 02000) != 0) sb.setCharAt(6, (mode & 010) != 0 ? 's' : 'S');
        if ((mode & 01000) != 0) sb.setCharAt(9, (mode & 01) != 0 ? 't' : 'T');
        return sb.toString();
    }
}

package dev.daxload.image;

/**
 * The fields of both superblocks that describe where things are, for {@code daxload inspect}.
 *
 * @param version format version
 * @param flags superblock flags
 * @param blockSize block size
 * @param totalSize size of the whole image
 * @param baseOffset where the base image starts
 * @param baseSize size of the base image, per the superblock
 * @param branchTableEntries 0 for a static image
 * @param baseTotalSize size of the base image, per the base superblock: every data range ends within it
 * @param baseFlags base superblock flags
 * @param inodeOffset inode table, relative to the base image
 * @param inodeCount number of inodes
 * @param rootInode root directory's inode number
 * @param dataOffset data area, relative to the base image
 */
public record Superblock(
        int version,
        int flags,
        int blockSize,
        long totalSize,
        long baseOffset,
        long baseSize,
        long branchTableEntries,
        long baseTotalSize,
        int baseFlags,
        long inodeOffset,
        long inodeCount,
        long rootInode,
        long dataOffset) {

    /** True for an image without writable branches, the kind written for weights. */
    public boolean isStatic() {
        return branchTableEntries == 0;
    }
}

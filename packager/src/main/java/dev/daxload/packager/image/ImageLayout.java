package dev.daxload.packager.image;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Where the writer put each node: its inode number and, for files, the absolute offset of its data in
 * the image. What a manifest records so that a reader over raw memory needs no tree walk.
 */
public final class ImageLayout {
    private final Map<ImageTree.Node, Long> inodes = new IdentityHashMap<>();
    private final Map<ImageTree.Node, Long> offsets = new IdentityHashMap<>();
    private long baseOffset;
    private long size;

    void place(ImageTree.Node node, long ino) {
        inodes.put(node, ino);
    }

    void data(ImageTree.Node node, long absoluteOffset) {
        offsets.put(node, absoluteOffset);
    }

    void baseOffset(long baseOffset) {
        this.baseOffset = baseOffset;
    }

    /** The inode number of {@code node}. */
    public long inodeOf(ImageTree.Node node) {
        Long ino = inodes.get(node);
        if (ino == null) {
            throw new IllegalArgumentException("node is not in the written tree");
        }
        return ino;
    }

    /** The absolute offset in the image of the first byte of {@code file}'s data (0 for an empty file). */
    public long offsetOf(ImageTree.RegularFile file) {
        Long off = offsets.get(file);
        if (off == null) {
            if (inodes.containsKey(file)) {
                return 0;
            }
            throw new IllegalArgumentException("file is not in the written tree");
        }
        return off;
    }

    /** Where the base image starts: data offsets in inodes are relative to it. */
    public long baseOffset() {
        return baseOffset;
    }

    void size(long bytes) {
        this.size = bytes;
    }

    /** The image's length in bytes. */
    public long size() {
        return size;
    }

    int inodeCount() {
        return inodes.size();
    }
}

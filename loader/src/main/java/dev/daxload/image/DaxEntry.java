package dev.daxload.image;

import java.util.Objects;

/**
 * A directory entry: a name within its directory and the inode it names.
 *
 * <p>The full path is made when asked for, from the directory's path shared by all its entries: a
 * listing of 20,000 names under a 4,000-byte directory path holds the names, not 80 MB of paths.
 *
 * <p>Names are bytes (see {@link DaxNames}): {@link #nameBytes()} gives them as stored,
 * {@link #utf8Name()} a string only where they are valid UTF-8, and {@link #name()} a string that
 * keeps every byte (escaped where not UTF-8) for lookups and paths.
 */
public final class DaxEntry {
    private final String name;
    private final String dirPath; // null when the path was given whole
    private final String path;
    private final DaxInode inode;

    /**
     * @param name the entry's name, as {@link DaxNames#decode} gives it
     * @param path the full path from the image root, without a leading slash ({@code ""} is the root)
     * @param inode the inode the entry names
     */
    public DaxEntry(String name, String path, DaxInode inode) {
        this(name, null, path, inode);
    }

    private DaxEntry(String name, String dirPath, String path, DaxInode inode) {
        this.name = name;
        this.dirPath = dirPath;
        this.path = path;
        this.inode = inode;
    }

    /** An entry of the directory at {@code dirPath} (shared, not copied). */
    static DaxEntry in(String dirPath, String name, DaxInode inode) {
        return new DaxEntry(name, dirPath, null, inode);
    }

    /**
     * The entry's name as {@link DaxNames#decode} gives it: the string it spells where it is UTF-8,
     * with each other byte escaped, so it names this entry in {@link DaxImage#lookup} and paths.
     */
    public String name() {
        return name;
    }

    /** The entry's name as stored: the bytes the kernel shows. */
    public byte[] nameBytes() {
        return DaxNames.encode(name);
    }

    /** The entry's name where it is valid UTF-8; empty where it is not. */
    public java.util.Optional<String> utf8Name() {
        return DaxNames.utf8(nameBytes());
    }

    /** The name for display, as {@code ls -b} shows it ({@link DaxNames#escape(String)}). */
    public String displayName() {
        return DaxNames.escape(name);
    }

    /** The full path from the image root, without a leading slash. */
    public String path() {
        if (path != null) {
            return path;
        }
        return dirPath.isEmpty() ? name : dirPath + "/" + name;
    }

    /** The inode the entry names. */
    public DaxInode inode() {
        return inode;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DaxEntry e && name.equals(e.name) && path().equals(e.path()) && inode.equals(e.inode);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, path(), inode);
    }

    @Override
    public String toString() {
        return "DaxEntry[name=" + name + ", path=" + path() + ", inode=" + inode + "]";
    }
}

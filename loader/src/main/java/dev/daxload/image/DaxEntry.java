package dev.daxload.image;

/**
 * A directory entry: a name within its directory and the inode it names.
 *
 * @param name the entry's name (UTF-8 decoded)
 * @param path the full path from the image root, without a leading slash ({@code ""} is the root)
 * @param inode the inode the entry names
 */
public record DaxEntry(String name, String path, DaxInode inode) {}

package dev.daxload.packager.image;

import dev.daxload.image.DaxNames;
import dev.daxload.image.internal.DaxfsLayout;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The tree an image will hold: directories, regular files, symlinks and hard links, with their modes
 * and owners. Built by {@link TreeScanner} from a directory, or by hand by the model packager, then
 * written by {@link ImageWriter}.
 *
 * <p>Entries are kept sorted by the bytes of their names, so the same tree gives the same image. Names
 * and symlink targets are bytes, as on Linux: a string here is what {@link DaxNames#decode} makes of
 * them, so a name that is not UTF-8 is stored exactly as the source file system held it.
 */
public final class ImageTree {
    /** Byte order of names, like {@code LC_ALL=C ls}. */
    static final Comparator<String> NAME_ORDER = Comparator.comparing(
            (Function<String, byte[]>) DaxNames::encode, Arrays::compareUnsigned);

    private final Directory root;

    public ImageTree(Attributes rootAttributes) {
        this.root = new Directory(rootAttributes);
    }

    /** A root directory with mode 0755 owned by root. */
    public ImageTree() {
        this(new Attributes(0755, 0, 0));
    }

    public Directory root() {
        return root;
    }

    /**
     * Moves every entry of {@code other}'s root into this tree's root (subdirectories merge), so plain
     * trees can sit beside models in one image.
     *
     * @throws IllegalArgumentException if a path exists in both trees and is not a directory in both
     */
    public void merge(ImageTree other) {
        merge(root, other.root, "");
    }

    private static void merge(Directory into, Directory from, String path) {
        for (var e : from.entries.entrySet()) {
            String p = path + "/" + e.getKey();
            Node mine = into.entries.get(e.getKey());
            if (mine == null) {
                into.entries.put(e.getKey(), e.getValue());
            } else if (mine instanceof Directory d && e.getValue() instanceof Directory f) {
                merge(d, f, p);
            } else {
                throw new IllegalArgumentException("'" + p + "' is in the image twice");
            }
        }
    }

    /**
     * Permission bits and owner of a node.
     *
     * @param permissions the low 12 bits of st_mode (setuid, setgid, sticky, rwx)
     * @param uid owner
     * @param gid group
     */
    public record Attributes(int permissions, long uid, long gid) {
        public Attributes {
            if ((permissions & ~07777) != 0) {
                throw new IllegalArgumentException(String.format("permissions 0%o have bits outside 07777", permissions));
            }
            if (uid < 0 || uid > 0xFFFF_FFFFL || gid < 0 || gid > 0xFFFF_FFFFL) {
                throw new IllegalArgumentException("uid " + uid + " or gid " + gid + " does not fit in 32 bits");
            }
        }

        /** The same permissions, owned by root. */
        public Attributes rootOwned() {
            return new Attributes(permissions, 0, 0);
        }
    }

    /** A node of the tree. One node under several names is a hard link (regular files and symlinks). */
    public sealed interface Node permits Directory, RegularFile, Symlink {
        Attributes attributes();

        /** The st_mode type bits. */
        int type();
    }

    /** A directory; entries sorted by name. */
    public static final class Directory implements Node {
        private final Attributes attributes;
        private final TreeMap<String, Node> entries = new TreeMap<>(NAME_ORDER);

        Directory(Attributes attributes) {
            this.attributes = Objects.requireNonNull(attributes);
        }

        @Override
        public Attributes attributes() {
            return attributes;
        }

        @Override
        public int type() {
            return DaxfsLayout.S_IFDIR;
        }

        /** Entries by name, in image order. */
        public Collection<java.util.Map.Entry<String, Node>> entries() {
            return Collections.unmodifiableCollection(entries.entrySet());
        }

        public Node get(String name) {
            return entries.get(name);
        }

        public int size() {
            return entries.size();
        }

        /** Adds a subdirectory, or returns the one already there. */
        public Directory directory(String name, Attributes attributes) {
            Node existing = entries.get(name);
            if (existing instanceof Directory d) {
                return d;
            }
            return put(name, new Directory(attributes));
        }

        public RegularFile file(String name, FileContent content, Attributes attributes) {
            return put(name, new RegularFile(content, attributes));
        }

        public Symlink symlink(String name, String target, Attributes attributes) {
            return put(name, new Symlink(target, attributes));
        }

        /** Gives {@code file}, already in the tree, one more name: a hard link. */
        public RegularFile link(String name, RegularFile file) {
            return put(name, file);
        }

        /** Gives {@code symlink}, already in the tree, one more name: one inode with several links. */
        public Symlink link(String name, Symlink symlink) {
            return put(name, symlink);
        }

        private <T extends Node> T put(String name, T node) {
            checkName(name);
            if (entries.putIfAbsent(name, node) != null) {
                throw new IllegalArgumentException("'" + name + "' is already in this directory");
            }
            return node;
        }
    }

    /** A regular file. */
    public static final class RegularFile implements Node {
        private final FileContent content;
        private final Attributes attributes;

        RegularFile(FileContent content, Attributes attributes) {
            this.content = Objects.requireNonNull(content);
            this.attributes = Objects.requireNonNull(attributes);
        }

        public FileContent content() {
            return content;
        }

        @Override
        public Attributes attributes() {
            return attributes;
        }

        @Override
        public int type() {
            return DaxfsLayout.S_IFREG;
        }
    }

    /** A symbolic link; its target is stored as given (bytes, see {@link DaxNames}) and resolved by the reader. */
    public static final class Symlink implements Node {
        private final byte[] target;
        private final Attributes attributes;

        Symlink(String target, Attributes attributes) {
            this.target = DaxNames.encode(target);
            if (this.target.length == 0 || this.target.length > DaxfsLayout.SYMLINK_MAX) {
                throw new IllegalArgumentException("symlink target of " + this.target.length + " bytes; expected 1.." + DaxfsLayout.SYMLINK_MAX);
            }
            for (byte b : this.target) {
                if (b == 0) {
                    throw new IllegalArgumentException("symlink target holds a NUL byte");
                }
            }
            this.attributes = Objects.requireNonNull(attributes);
        }

        byte[] targetBytes() {
            return target;
        }

        /** The target as {@link DaxNames#decode} gives it. */
        public String target() {
            return DaxNames.decode(target);
        }

        @Override
        public Attributes attributes() {
            return attributes;
        }

        @Override
        public int type() {
            return DaxfsLayout.S_IFLNK;
        }
    }

    /** Rejects names the format cannot hold, naming the rule. */
    public static void checkName(String name) {
        byte[] bytes = DaxNames.encode(name);
        if (bytes.length == 0 || bytes.length > DaxfsLayout.NAME_MAX) {
            throw new IllegalArgumentException("name '" + DaxNames.escape(name) + "' is " + bytes.length + " bytes; a DAXFS name is 1.." + DaxfsLayout.NAME_MAX);
        }
        if (name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("'" + name + "' cannot be an entry name");
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("name '" + name.replace("\0", "\\0") + "' holds '/' or NUL");
        }
    }
}

package dev.daxload.packager.image;

import dev.daxload.image.DaxNames;
import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.Directory;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads a directory tree into an {@link ImageTree}: types, permission bits, owners, symlink targets
 * and hard links (files, and symlinks, that share a device and inode become one node). Names and
 * symlink targets are taken as the bytes the file system holds ({@link HostPaths}), UTF-8 or not. File
 * contents are not read: they are copied when the image is written.
 *
 * <p>A path longer than Linux opens ({@link HostPaths#PATH_MAX}) is refused before anything is
 * written, naming the path: the packer reads sources by path, and the loader refuses such paths in an
 * image too.
 *
 * <p>Sockets, FIFOs and device nodes have no place in a DAXFS image; they are skipped and reported
 * through the warning callback.
 */
public final class TreeScanner {
    private final Consumer<String> warnings;

    /** @param warnings told about each entry that is skipped, with its path and why */
    public TreeScanner(Consumer<String> warnings) {
        this.warnings = warnings;
    }

    private record FileKey(Object dev, Object ino) {}

    /**
     * Scans {@code root}, which must be a directory (symlinks to one are followed at the top only).
     *
     * @throws IOException if an entry cannot be read, or a name cannot be held by the format
     */
    public ImageTree scan(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new java.nio.file.NotDirectoryException(root.toString());
        }
        ImageTree tree = new ImageTree(attributes(Files.readAttributes(root, "unix:mode,uid,gid")));
        root = root.toAbsolutePath(); // the paths counted against PATH_MAX are the ones opened and named
        Map<FileKey, ImageTree.Node> seen = new HashMap<>();
        // Depth-first with an explicit stack: deep trees must not overflow the Java stack.
        record Work(Path dir, Directory node, int pathBytes) {}
        List<Work> stack = new ArrayList<>();
        stack.add(new Work(root, tree.root(), HostPaths.absoluteBytes(root).length));
        while (!stack.isEmpty()) {
            Work w = stack.removeLast();
            List<Path> children = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(w.dir)) {
                ds.forEach(children::add);
            }
            for (Path child : children) {
                byte[] nameBytes = HostPaths.nameBytes(child);
                String name = DaxNames.decode(nameBytes);
                try {
                    ImageTree.checkName(name);
                } catch (IllegalArgumentException e) {
                    throw new IOException(HostPaths.display(child) + ": " + e.getMessage());
                }
                int pathBytes = w.pathBytes + 1 + nameBytes.length;
                if (pathBytes > HostPaths.PATH_MAX) {
                    throw new IOException(HostPaths.display(child) + ": a path of " + pathBytes + " bytes; Linux opens paths of at most "
                            + HostPaths.PATH_MAX + " bytes (PATH_MAX 4096 with the NUL), and daxload reads sources and images by path:"
                            + " pack a directory nearer to it, or shorten the names");
                }
                Map<String, Object> a = Files.readAttributes(child, "unix:mode,uid,gid,ino,dev,nlink,size", LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) a.get("mode");
                Attributes attrs = attributes(a);
                // Files and symlinks with several names share one node, so the image keeps one inode.
                FileKey key = (Integer) a.get("nlink") > 1 ? new FileKey(a.get("dev"), a.get("ino")) : null;
                ImageTree.Node existing = key == null ? null : seen.get(key);
                switch (mode & dev.daxload.image.internal.DaxfsLayout.S_IFMT) {
                    case dev.daxload.image.internal.DaxfsLayout.S_IFDIR -> stack.add(new Work(child, w.node.directory(name, attrs), pathBytes));
                    case dev.daxload.image.internal.DaxfsLayout.S_IFLNK -> {
                        if (existing instanceof ImageTree.Symlink s) {
                            w.node.link(name, s);
                            continue;
                        }
                        try {
                            var s = w.node.symlink(name, DaxNames.decode(FileCalls.readlink(child)), attrs);
                            if (key != null) {
                                seen.put(key, s);
                            }
                        } catch (IllegalArgumentException e) {
                            throw new IOException(HostPaths.display(child) + ": " + e.getMessage());
                        }
                    }
                    case dev.daxload.image.internal.DaxfsLayout.S_IFREG -> {
                        if (existing instanceof ImageTree.RegularFile f) {
                            w.node.link(name, f);
                        } else {
                            var f = w.node.file(name, FileContent.of(child, (Long) a.get("size")), attrs);
                            if (key != null) {
                                seen.put(key, f);
                            }
                        }
                    }
                    default -> warnings.accept(HostPaths.display(child) + ": skipped: sockets, FIFOs and device nodes have no place in a DAXFS image");
                }
            }
        }
        return tree;
    }

    private static Attributes attributes(Map<String, Object> a) {
        return new Attributes((Integer) a.get("mode") & 07777,
                Integer.toUnsignedLong((Integer) a.get("uid")), Integer.toUnsignedLong((Integer) a.get("gid")));
    }
}

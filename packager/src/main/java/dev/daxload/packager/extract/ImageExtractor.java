package dev.daxload.packager.extract;

import dev.daxload.image.DaxEntry;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.DaxNames;
import dev.daxload.packager.image.HostPaths;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Unpacks an image into a directory, restoring types, contents, modes, owners (when run as root),
 * symlink targets and hard links.
 *
 * <p>Nothing is written outside the target directory: every path is checked to stay inside it,
 * nothing is created through a symlink (files are created with {@code CREATE_NEW} and
 * {@code NOFOLLOW_LINKS}, existing directories must be real directories), and symlinks are created
 * as links, never followed. Existing files are not overwritten.
 *
 * <p>Names and symlink targets are written as the bytes the image holds, UTF-8 or not, and a file
 * or symlink with several names stays one inode with several links. An output path longer than Linux
 * opens is refused naming it and the limit.
 */
public final class ImageExtractor {
    private final boolean restoreOwners;

    /** @param restoreOwners set uid and gid from the image (needs root) */
    public ImageExtractor(boolean restoreOwners) {
        this.restoreOwners = restoreOwners;
    }

    /**
     * Extracts everything under {@code imagePath} (the root for {@code ""}) into {@code target}. The
     * path is resolved as the kernel would with the image as root ({@code d1/../d1}, symlinks to
     * directories, {@code ..} at the top meaning the root), so any spelling of a directory extracts
     * the same files.
     *
     * @throws java.nio.file.NoSuchFileException if the path names nothing
     * @throws java.nio.file.NotDirectoryException if it names something other than a directory
     */
    public long extract(DaxImage image, String imagePath, Path target) throws IOException {
        Path root = target.toAbsolutePath().normalize();
        DaxInode top = image.resolve(imagePath);
        if (!top.isDirectory()) {
            throw new java.nio.file.NotDirectoryException(image.source() + ":/" + imagePath.replaceAll("^/+", ""));
        }
        String prefix = image.pathOf(top);
        List<DaxEntry> entries = new ArrayList<>();
        image.walk(top, entries::add);
        checkPathLengths(image, prefix, entries, root); // before anything is written
        Files.createDirectories(root);
        requireRealDirectory(root);
        Map<Long, Path> firstPath = new HashMap<>();
        List<Runnable> directoryModes = new ArrayList<>();
        long bytes = 0;
        for (DaxEntry e : entries) {
            String rel = prefix.isEmpty() ? e.path() : e.path().substring(prefix.length() + 1);
            Path out = HostPaths.resolve(root, rel).normalize();
            if (!out.startsWith(root) || out.equals(root)) {
                throw new IOException(image.source() + ":/" + DaxNames.escape(e.path()) + ": would be written outside " + root);
            }
            requireRealDirectory(out.getParent());
            DaxInode n = e.inode();
            if (!n.isDirectory()) {
                Path earlier = firstPath.putIfAbsent(n.ino(), out);
                if (earlier != null) {
                    Files.createLink(out, earlier); // link(2) names the inode itself, a symlink too
                    continue;
                }
            }
            if (n.isDirectory()) {
                if (!Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(out);
                }
                // Directories get their mode last, so a read-only one does not block its own contents.
                directoryModes.add(() -> applyQuietly(out, n));
                continue;
            }
            if (n.isSymlink()) {
                PosixCalls.symlink(image.readSymlinkBytes(n), out);
                if (restoreOwners) {
                    PosixCalls.lchown(out, n.uid(), n.gid());
                }
                continue;
            }
            bytes += writeFile(image.content(n), out);
            apply(out, n);
        }
        for (int i = directoryModes.size() - 1; i >= 0; i--) {
            directoryModes.get(i).run();
        }
        if (prefix.isEmpty()) {
            apply(root, image.root());
        }
        return bytes;
    }

    private static void checkPathLengths(DaxImage image, String prefix, List<DaxEntry> entries, Path root) throws IOException {
        int rootBytes = HostPaths.absoluteBytes(root).length;
        for (DaxEntry e : entries) {
            String rel = prefix.isEmpty() ? e.path() : e.path().substring(prefix.length() + 1);
            int pathBytes = rootBytes + 1 + DaxNames.encode(rel).length;
            if (pathBytes > HostPaths.PATH_MAX) {
                throw new IOException(image.source() + ":/" + DaxNames.escape(e.path()) + ": would be written at a path of " + pathBytes
                        + " bytes under " + HostPaths.display(root) + "; Linux opens paths of at most " + HostPaths.PATH_MAX
                        + " bytes (PATH_MAX 4096 with the NUL): extract into a shorter directory, or --path a directory nearer to it");
            }
        }
    }

    private static long writeFile(MemorySegment data, Path out) throws IOException {
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            writeAll(data, ch);
        } catch (FileAlreadyExistsException e) {
            throw new FileAlreadyExistsException(HostPaths.display(out), null, "already exists; extract does not overwrite");
        }
        return data.byteSize();
    }

    /**
     * Writes a segment of any size to a channel, in slices: {@code ByteBuffer} views stop at 2 GiB.
     * The buffers are views of the mapping, so the kernel copies straight from it.
     */
    public static void writeAll(MemorySegment data, java.nio.channels.WritableByteChannel out) throws IOException {
        final long chunk = 1L << 30;
        for (long off = 0; off < data.byteSize(); off += chunk) {
            var buf = data.asSlice(off, Math.min(chunk, data.byteSize() - off)).asByteBuffer();
            while (buf.hasRemaining()) {
                out.write(buf);
            }
        }
    }

    private void apply(Path p, DaxInode n) throws IOException {
        if (restoreOwners) {
            PosixCalls.lchown(p, n.uid(), n.gid());
        }
        PosixCalls.chmod(p, n.permissions()); // after chown, which clears setuid/setgid
    }

    private void applyQuietly(Path p, DaxInode n) {
        try {
            apply(p, n);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void requireRealDirectory(Path dir) throws IOException {
        BasicFileAttributes a = Files.readAttributes(dir, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isDirectory()) {
            throw new java.nio.file.FileSystemException(dir.toString(), null, "is not a real directory (a symlink?); refusing to write through it");
        }
    }
}

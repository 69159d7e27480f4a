package dev.daxload.packager.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where an image goes, resolved from the path a user named the way {@code cp}, {@code dd} and
 * {@code mkfs} resolve it: symlinks are followed (the file at the end is replaced), a block or
 * character device is written in place, a FIFO is streamed to, a directory is refused. Resolve before
 * doing any work, so that a wrong target costs nothing.
 */
public sealed interface ImageTarget {
    /** The path as the user gave it, for messages. */
    Path named();

    /**
     * A regular file, new or replaced atomically once the image is complete.
     *
     * @param path the file itself, at the end of any symlinks
     */
    record File(Path named, Path path) implements ImageTarget {}

    /**
     * A block or character device (a pmem namespace, a device-DAX device, a disk), written in place.
     *
     * @param size its capacity in bytes, or -1 where the device does not say
     */
    record Device(Path named, Path path, boolean block, long size) implements ImageTarget {}

    /** A FIFO (or another file that only takes bytes in order): the image is streamed into it. */
    record Stream(Path named, Path path) implements ImageTarget {}

    /**
     * A file on hugetlbfs, new or replaced atomically once complete. Hugetlbfs takes no {@code write(2)}
     * ({@code cp} fails there with {@code EINVAL}): the image is written through a mapping, and the file
     * is sized to whole huge pages (readers take the image's size from its superblock).
     *
     * @param path the file itself, at the end of any symlinks
     * @param pageSize the mount's huge page size in bytes
     */
    record HugePages(Path named, Path path, long pageSize) implements ImageTarget {}

    /** Most symlinks followed before giving up, as the kernel's ELOOP limit. */
    int MAX_LINKS = 40;

    /**
     * Resolves {@code named}.
     *
     * @throws FileSystemException naming {@code named} when it is a directory or a symlink loop
     */
    static ImageTarget resolve(Path named) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(named, "unix:mode");
        } catch (NoSuchFileException e) {
            return fileOn(named, endOfLinks(named));
        }
        switch (mode & 0170000) {
            case 0040000 -> throw new FileSystemException(named.toString(), null,
                    "is a directory; name the image file to write, e.g. " + named.resolve("image.daxfs"));
            case 0100000 -> {
                return fileOn(named, named.toRealPath());
            }
            case 0060000, 0020000 -> {
                boolean block = (mode & 0170000) == 0060000;
                return new Device(named, named, block, deviceSize(named, block));
            }
            default -> {
                return new Stream(named, named);
            }
        }
    }

    /** A regular file at {@code path}, or a {@link HugePages} one where its directory is on hugetlbfs. */
    private static ImageTarget fileOn(Path named, Path path) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        if (dir != null && Files.isDirectory(dir)) {
            try {
                java.nio.file.FileStore store = Files.getFileStore(dir);
                if ("hugetlbfs".equals(store.type())) {
                    return new HugePages(named, path, store.getBlockSize());
                }
            } catch (IOException e) {
                // The JDK finds no mount entry for some directories in containers: an ordinary file system
                // then, as before; hugetlbfs would refuse the write with a message of its own.
            }
        }
        return new File(named, path);
    }

    /** The name a chain of symlinks ends at, when that name does not exist yet. */
    private static Path endOfLinks(Path named) throws IOException {
        Path p = named.toAbsolutePath();
        for (int i = 0; i < MAX_LINKS; i++) {
            if (!Files.isSymbolicLink(p)) {
                return p;
            }
            p = p.getParent().resolve(Files.readSymbolicLink(p));
        }
        throw new FileSystemException(named.toString(), null, "more than " + MAX_LINKS + " symlinks to follow (a loop?)");
    }

    /** A device's capacity: the kernel's for a block device, sysfs {@code size} for a character one. */
    private static long deviceSize(Path device, boolean block) throws IOException {
        if (block) {
            // FileChannel.size() asks the kernel for a block device's size (BLKGETSIZE64).
            try (FileChannel ch = FileChannel.open(device, StandardOpenOption.READ)) {
                return ch.size();
            }
        }
        long rdev = (Long) Files.getAttribute(device, "unix:rdev");
        long major = ((rdev >>> 8) & 0xfff) | ((rdev >>> 32) & ~0xfffL);
        long minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xffL);
        Path size = Path.of("/sys/dev/char/" + major + ":" + minor + "/size");
        try {
            return Long.parseLong(Files.readString(size).strip());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }
}

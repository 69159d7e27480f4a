package dev.daxload.packager.image;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The file an image is written into before anyone may see it. Where the filesystem allows, it has no
 * name at all ({@code O_TMPFILE}): a writer killed with {@code kill -9} leaves nothing behind, and the
 * name is given only once the image is complete ({@code linkat}, then an atomic rename over the
 * target). Elsewhere (NFS, some FUSE filesystems) it is a hidden file named after the writer's host
 * and process, and the next writer into the same directory removes those whose process is gone.
 */
final class TempImage implements Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(TempImage.class);
    /** A named temporary file untouched this long, of a process that is gone, is reclaimed. */
    private static final Duration STALE_AFTER = Duration.ofSeconds(30);
    /** Tests set this to false to exercise the named fallback on a filesystem that has O_TMPFILE. */
    static final String TMPFILE_PROPERTY = "daxload.image.tmpfile";

    private final Path dir;
    private final String stem;
    private final int fd;
    private final Path path;
    private final FileChannel channel;
    private final Thread cleanup;
    private boolean published;

    private TempImage(Path dir, String stem, int fd, Path path, FileChannel channel, Thread cleanup) {
        this.dir = dir;
        this.stem = stem;
        this.fd = fd;
        this.path = path;
        this.channel = channel;
        this.cleanup = cleanup;
    }

    /**
     * A new empty temporary image in {@code dir}, for a target named {@code stem}.
     *
     * @param anonymous true where the file is never published (it is copied to a device or a stream):
     *                  a named fallback is then unlinked at once
     */
    static TempImage create(Path dir, String stem, boolean anonymous) throws IOException {
        if (!"false".equals(System.getProperty(TMPFILE_PROPERTY))) {
            try {
                // rw-r--r-- (less the umask), as cp or mkfs would leave it.
                int fd = FileCalls.open(dir, FileCalls.O_TMPFILE | FileCalls.O_RDWR, 0644);
                Path self = Path.of("/proc/self/fd/" + fd);
                try {
                    FileChannel ch = FileChannel.open(self, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    return new TempImage(dir, stem, fd, self, ch, null);
                } catch (IOException | RuntimeException e) {
                    FileCalls.close(fd);
                    throw e;
                }
            } catch (FileCalls.Errno e) {
                if (e.errno != FileCalls.EOPNOTSUPP && e.errno != FileCalls.EISDIR && e.errno != FileCalls.EINVAL) {
                    throw e;
                }
                LOG.debug("{}: no O_TMPFILE here ({}); writing a named temporary file", dir, e.getReason());
            }
        }
        reclaimStale(dir, stem);
        Path tmp = Files.createTempFile(dir, prefix(stem), ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")));
        if (anonymous) {
            // An open file outlives its name: nothing is left behind whatever happens next, and
            // /proc/self/fd still opens it for reading back.
            int fd;
            try {
                fd = FileCalls.open(tmp, FileCalls.O_RDWR, 0);
            } finally {
                Files.deleteIfExists(tmp);
            }
            Path self = Path.of("/proc/self/fd/" + fd);
            try {
                return new TempImage(dir, stem, fd, self,
                        FileChannel.open(self, StandardOpenOption.READ, StandardOpenOption.WRITE), null);
            } catch (IOException | RuntimeException e) {
                FileCalls.close(fd);
                throw e;
            }
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Thread cleanup = new Thread(() -> deleteQuietly(tmp), "daxload-image-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        return new TempImage(dir, stem, -1, tmp, ch, cleanup);
    }

    private static String host() {
        try {
            String h = Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
            return h.isEmpty() ? "host" : h.replace('.', '_').replace('/', '_');
        } catch (IOException | RuntimeException e) {
            return "host";
        }
    }

    private static String prefix(String stem) {
        return "." + stem + "." + host() + "-" + ProcessHandle.current().pid() + ".";
    }

    /**
     * Removes this host's named temporary files for {@code stem} whose writer is gone (killed before it
     * could clean up) and that nobody has written to lately.
     */
    static void reclaimStale(Path dir, String stem) {
        String start = "." + stem + "." + host() + "-";
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, e -> {
            String n = e.getFileName().toString();
            return n.startsWith(start) && n.endsWith(".tmp");
        })) {
            for (Path p : entries) {
                String rest = p.getFileName().toString().substring(start.length());
                int dot = rest.indexOf('.');
                long pid;
                try {
                    pid = Long.parseLong(dot < 0 ? rest : rest.substring(0, dot));
                } catch (NumberFormatException e) {
                    continue;
                }
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                if (alive || !Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                Instant modified = Files.getLastModifiedTime(p).toInstant();
                if (modified.isBefore(Instant.now().minus(STALE_AFTER))) {
                    Files.deleteIfExists(p);
                    LOG.info("removed {}: the temporary image of a writer (pid {}) that is gone", p, pid);
                }
            }
        } catch (IOException e) {
            LOG.debug("{}: could not look for stale temporary images: {}", dir, e.toString());
        }
    }

    /** The channel to write the image into (from position 0). */
    FileChannel channel() {
        return channel;
    }

    /** A path that opens this file while it is open here (for reading it back). */
    Path path() {
        return path;
    }

    /** Gives the complete image the name {@code target}, atomically replacing what was there. */
    void publish(Path target) throws IOException {
        Path from = path;
        if (fd >= 0) {
            from = dir.resolve(prefix(stem) + Long.toUnsignedString(System.nanoTime()) + ".tmp");
            FileCalls.linkUnnamed(fd, from);
        }
        try {
            try {
                Files.move(from, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(from, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            deleteQuietly(from);
            throw e;
        }
        published = true;
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (fd >= 0) {
                FileCalls.close(fd);
            } else if (!published) {
                deleteQuietly(path);
            }
            if (cleanup != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running or will run; it deletes only a file that is no longer there
                }
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort during cleanup; the original error is what the caller needs
        }
    }
}

package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A writable hugetlbfs mount with free huge pages, for the tests that need one; they skip, saying what is missing, without. */
public final class Hugetlbfs {
    private Hugetlbfs() {}

    /** A fresh directory on such a mount; the test deletes it. */
    public static Path directory(long pagesNeeded) throws IOException {
        Path mount = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 2 && f[2].equals("hugetlbfs") && Files.isWritable(Path.of(f[1]))) {
                mount = Path.of(f[1]);
                break;
            }
        }
        assumeTrue(mount != null, "no writable hugetlbfs mount (mount -t hugetlbfs none DIR, as root)");
        long free = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        assumeTrue(free >= pagesNeeded, "hugetlbfs at " + mount + " has " + free + " free huge pages, the test needs "
                + pagesNeeded + " (sysctl vm.nr_hugepages)");
        return Files.createDirectory(mount.resolve("daxload-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime()));
    }

    /** The first {@code bytes} bytes of {@code file}: an image placed there, without the rest of its last huge page. */
    public static byte[] head(Path file, int bytes) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(bytes);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill
            }
        }
        return b.array();
    }

    /** Deletes {@code dir} and the files in it. */
    public static void delete(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }
}

package dev.daxload.djl.internal;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fresh directories of this process's own (mode 700) for the files a load hands an engine by path.
 *
 * <p>Not {@code Files.createTempDirectory}: its names come from a {@code SecureRandom}, whose first use
 * in a fresh JVM costs milliseconds and, while ONNX Runtime's engine starts on another thread and makes
 * its own temporary directory, waits on that thread's initialization of the same classes (10-30 ms
 * measured on the load's path). Unpredictable names buy nothing here: {@code mkdir} fails on a name that
 * exists, whoever made it, and the next name is tried, so another user can at most make one attempt fail.
 */
public final class TempDirectories {
    private static final AtomicLong COUNTER = new AtomicLong();
    private static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final int ATTEMPTS = 1000;

    private TempDirectories() {}

    /** Creates a new directory named {@code prefix} and a name no directory in {@code root} has. */
    public static Path create(Path root, String prefix) throws IOException {
        for (int i = 0; i < ATTEMPTS; i++) {
            // The clock's low bits make names differ between processes, the counter within one.
            String name = prefix + Long.toString(System.nanoTime() & 0xffffffffffL, 36) + "-" + COUNTER.incrementAndGet();
            try {
                return Files.createDirectory(root.resolve(name), OWNER_ONLY);
            } catch (FileAlreadyExistsException taken) {
                // someone has that name: the next attempt has another
            }
        }
        throw new IOException(root + ": no new directory named " + prefix + "* after " + ATTEMPTS + " attempts");
    }
}

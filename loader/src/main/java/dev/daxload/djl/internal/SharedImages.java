package dev.daxload.djl.internal;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One mapping per image per process, shared by every model loaded from it: the image stays mapped
 * while any {@link Lease} is open and is unmapped when the last one closes.
 */
public final class SharedImages {
    private static final Map<Key, Entry> OPEN = new HashMap<>();
    private static long mappingsMade; // guarded by OPEN
    private static final Map<Path, Long> MADE_PER_IMAGE = new HashMap<>(); // guarded by OPEN

    private SharedImages() {}

    private record Key(Path path, MapOptions options) {}

    private static final class Entry {
        final DaxImage image;
        int leases;

        Entry(DaxImage image) {
            this.image = image;
        }
    }

    /** A claim on a mapped image; closing it (once) releases the claim. */
    public static final class Lease implements AutoCloseable {
        private final Key key;
        private final DaxImage image;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Lease(Key key, DaxImage image) {
            this.key = key;
            this.image = image;
        }

        public DaxImage image() {
            return image;
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(key);
            }
        }
    }

    /** Maps {@code image} (or joins the mapping already open) and returns a lease on it. */
    public static Lease acquire(Path image, MapOptions options) throws IOException {
        Key key = new Key(identity(image), options);
        synchronized (OPEN) {
            Entry e = OPEN.get(key);
            if (e == null) {
                e = new Entry(DaxImage.open(key.path, options));
                OPEN.put(key, e);
                mappingsMade++;
                MADE_PER_IMAGE.merge(key.path, 1L, Long::sum);
            }
            e.leases++;
            return new Lease(key, e.image);
        }
    }

    /**
     * The path that names {@code image} for sharing: its real path, or, for a descriptor's link such as
     * {@code /proc/self/fd/N} of a memfd (whose target, {@code /memfd:name (deleted)}, is no path), the link itself.
     */
    static Path identity(Path image) throws IOException {
        try {
            return image.toRealPath();
        } catch (java.nio.file.NoSuchFileException e) {
            if (java.nio.file.Files.exists(image)) {
                return image.toAbsolutePath().normalize();
            }
            throw e;
        }
    }

    private static void release(Key key) {
        synchronized (OPEN) {
            Entry e = OPEN.get(key);
            if (e != null && --e.leases == 0) {
                OPEN.remove(key);
                e.image.close();
            }
        }
    }

    /**
     * How many times an image has been opened (mapped, checked and indexed) here since the JVM started:
     * a {@code Criteria.loadModel} of a {@code daxfs:} URL adds one.
     */
    public static long mappingsMade() {
        synchronized (OPEN) {
            return mappingsMade;
        }
    }

    /**
     * How many times {@code image} has been opened here since the JVM started (the count of
     * {@link #mappingsMade()} for that one image, which loads of other images running meanwhile do not move).
     */
    public static long mappingsMade(Path image) throws IOException {
        Path id = identity(image);
        synchronized (OPEN) {
            return MADE_PER_IMAGE.getOrDefault(id, 0L);
        }
    }

    /** Number of images mapped now, for tests and diagnostics. */
    public static int openCount() {
        synchronized (OPEN) {
            return OPEN.size();
        }
    }
}

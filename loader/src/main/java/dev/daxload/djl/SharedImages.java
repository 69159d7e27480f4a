package dev.daxload.djl;

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
        Key key = new Key(image.toRealPath(), options);
        synchronized (OPEN) {
            Entry e = OPEN.get(key);
            if (e == null) {
                e = new Entry(DaxImage.open(key.path, options));
                OPEN.put(key, e);
                mappingsMade++;
            }
            e.leases++;
            return new Lease(key, e.image);
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

    /** Number of images mapped now, for tests and diagnostics. */
    public static int openCount() {
        synchronized (OPEN) {
            return OPEN.size();
        }
    }
}

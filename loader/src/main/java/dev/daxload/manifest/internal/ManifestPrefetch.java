package dev.daxload.manifest.internal;

import dev.daxload.image.internal.DaxFileReader;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A model's manifest found and parsed on a thread of its own while the image is mapped and validated,
 * so that in a fresh JVM the two costs (each ~15 ms for 1,000 tensors, interpreted) overlap.
 *
 * <p>It is speculation, never trusted: the file is read with positional reads that check only what they
 * touch ({@link DaxFileReader}), and any surprise (a bad offset, a missing name, a manifest that does not
 * parse) ends it with nothing. Its result
 * is used only for the exact bytes that the validated image's own manifest file holds
 * ({@link ModelCatalog#load(dev.daxload.image.DaxImage, String, ManifestPrefetch)} compares them), and
 * the checks of the manifest against the image run as always.
 */
public final class ManifestPrefetch {
    private record Parsed(byte[] bytes, ModelManifest manifest) {}

    private final CompletableFuture<Parsed> result = new CompletableFuture<>();

    private ManifestPrefetch() {}

    /**
     * Starts reading {@code model}'s manifest from the image file on a daemon thread; returns at once.
     * Only for regular files: devices and mounts are left to the ordinary path.
     */
    public static ManifestPrefetch start(Path imageFile, String model) {
        ManifestPrefetch p = new ManifestPrefetch();
        if (!Files.isRegularFile(imageFile)) {
            p.result.complete(null);
            return p;
        }
        Thread.ofPlatform().daemon().name("daxload-manifest-prefetch").start(() -> {
            Parsed parsed = null;
            try {
                byte[] bytes = read(imageFile, model);
                if (bytes != null) {
                    parsed = new Parsed(bytes, ModelManifest.parse(bytes, imageFile + ":/" + model + "/" + ModelManifest.FILE_NAME));
                }
            } catch (IOException | RuntimeException e) {
                parsed = null; // the ordinary path reads it again and reports what is wrong
            } finally {
                p.result.complete(parsed);
            }
        });
        return p;
    }

    /**
     * Hands the speculative parse to {@code hint} once it ends, on the prefetch's thread (or this one, if it
     * has ended), and nothing when it found no manifest. Unvalidated: fit only for guesses that cost time when
     * wrong, never answers (which engine to start early, say).
     */
    public void whenParsed(Consumer<ModelManifest> hint) {
        result.thenAccept(p -> {
            if (p != null) {
                hint.accept(p.manifest());
            }
        });
    }

    /**
     * The manifest parsed from {@code bytes}, if the prefetch read exactly these bytes and parsed them;
     * waits for it to end. Null otherwise: the caller parses them itself.
     */
    public ModelManifest forBytes(byte[] bytes) {
        Parsed p = result.join();
        return p != null && Arrays.equals(p.bytes(), bytes) ? p.manifest() : null;
    }

    /**
     * The bytes of {@code /<model>/manifest.json} as the image's tree says, read with positional reads that
     * check only what they touch ({@link DaxFileReader}); null where anything is off.
     */
    static byte[] read(Path imageFile, String model) throws IOException {
        try (DaxFileReader reader = DaxFileReader.open(imageFile)) {
            String path = model + "/" + ModelManifest.FILE_NAME;
            long limit = Math.min(ModelManifest.MAX_BYTES, Runtime.getRuntime().maxMemory() / 4 / ModelManifest.HEAP_PER_BYTE);
            return reader.lookup(path).isPresent() ? reader.read(path, limit) : null; // read refuses a non-file
        }
    }
}

package dev.daxload.djl.onnx.internal;

import dev.daxload.djl.internal.TempDirectories;
import dev.daxload.image.internal.ImageFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The two files ONNX Runtime opens to build a session over an {@link OrtImageForm}, in a directory of
 * this process's own: the optimized graph (copied out of the image: it is small, and ORT parses it from
 * a path) and {@link OrtImageForm#IMAGE_LINK}, a symbolic link to the image file, which the graph's
 * external data entries name. ORT maps the weights and prepacked blobs through the link, so they stay
 * the image's page-cache pages, shared by every process. Closing removes the directory; the mappings
 * ORT made live on without it.
 */
final class OrtSessionFiles implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OrtSessionFiles.class);
    private final Path dir;

    private OrtSessionFiles(Path dir) {
        this.dir = dir;
    }

    /** Writes the graph of {@code form} and the link to {@code imageFile} into a fresh temporary directory. */
    static OrtSessionFiles create(ImageFiles image, Path imageFile, OrtImageForm form) throws IOException {
        Path dir = TempDirectories.create(Path.of(System.getProperty("java.io.tmpdir")), "daxload-ort-");
        try {
            // Also gone when the JVM ends without closing the model (SIGTERM included): registered in
            // reverse, so the files go before their directory.
            dir.toFile().deleteOnExit();
            image.copy(form.dir() + "/" + OrtImageForm.GRAPH_FILE, dir.resolve(OrtImageForm.GRAPH_FILE)); // not through the heap
            dir.resolve(OrtImageForm.GRAPH_FILE).toFile().deleteOnExit();
            Files.createSymbolicLink(dir.resolve(OrtImageForm.IMAGE_LINK), linkTarget(imageFile));
            dir.resolve(OrtImageForm.IMAGE_LINK).toFile().deleteOnExit();
            return new OrtSessionFiles(dir);
        } catch (IOException | RuntimeException e) {
            delete(dir);
            throw e;
        }
    }

    /**
     * What the link names: the image's real path, or, for a descriptor's link such as {@code /proc/self/fd/N}
     * of a memfd (whose target is no path), that link, which ORT then opens in this same process.
     */
    static Path linkTarget(Path imageFile) throws IOException {
        try {
            return imageFile.toRealPath();
        } catch (java.nio.file.NoSuchFileException e) {
            if (Files.isRegularFile(imageFile)) {
                return imageFile.toAbsolutePath().normalize();
            }
            throw e;
        }
    }

    /** The graph file to hand ONNX Runtime. */
    Path graph() {
        return dir.resolve(OrtImageForm.GRAPH_FILE);
    }

    Path directory() {
        return dir;
    }

    @Override
    public void close() {
        delete(dir);
    }

    private static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warn("daxfs: could not remove {}: {}", dir, e.toString());
        }
    }
}

package dev.daxload.registry;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Images by registry reference, pulled once into a cache shared by every process of the user on the host and
 * addressed by the image's digest ({@code <cache>/oci/blobs/sha256/<hex>.daxfs}, read-only). Processes that ask for
 * the same image at once wait on one lock while one of them pulls; a pull killed half-way is resumed by the next.
 * A reference pinned by digest whose image is cached needs no network at all.
 *
 * <pre>{@code
 * Path image = OciImages.fetch(ImageReference.parse("registry.example.com/models/bge@sha256:..."),
 *         RegistryClient.Options.defaults());
 * try (ModelWeights w = ModelWeights.open(image, "bge")) { ... }
 * }</pre>
 */
public final class OciImages {
    private static final Logger LOG = LoggerFactory.getLogger(OciImages.class);
    private static final Pattern LAYER_DIGEST = Pattern.compile("sha256:[a-f0-9]{64}");

    private OciImages() {
    }

    /** The cache directory: {@code oci} under daxload's cache directory (see {@code daxload.cache.dir}). */
    public static Path cacheDirectory() {
        return BlobLocations.cacheDirectory(System.getenv()).resolve("oci");
    }

    /**
     * The cached image {@code ref} names, pulled first when it is not cached.
     *
     * @throws IOException naming the reference (and digest) when it cannot be resolved, pulled or checked
     */
    public static Path fetch(ImageReference ref, RegistryClient.Options options) throws IOException {
        return fetch(ref, options, ImagePull.DEFAULT_STREAMS);
    }

    /**
     * The cached image {@code ref} names, pulled first when it is not cached, with up to {@code streams} ranged GETs
     * at once (see {@link ImagePull#pull(ImageReference, Path, RegistryClient, Progress, int)}).
     *
     * @throws IOException naming the reference (and digest) when it cannot be resolved, pulled or checked
     */
    public static Path fetch(ImageReference ref, RegistryClient.Options options, int streams) throws IOException {
        Path cache = cacheDirectory();
        Path blobs = Files.createDirectories(cache.resolve("blobs").resolve("sha256"));
        Path manifests = Files.createDirectories(cache.resolve("manifests").resolve("sha256"));
        if (ref.digest().isPresent()) {
            Optional<Path> known = cachedImage(blobs, manifests, ref.digest().get());
            if (known.isPresent()) {
                LOG.debug("{}: cached at {}", ref, known.get());
                return known.get();
            }
        }
        RegistryClient client = RegistryClient.of(ref, options);
        ImagePull.Resolved resolved = ImagePull.resolve(ref, client);
        String layer = resolved.layer().digest();
        Path image = blobs.resolve(hex(layer) + ".daxfs");
        remember(manifests, resolved.reference().digest().orElseThrow(), layer);
        if (Files.isRegularFile(image)) {
            return image;
        }
        try (FileChannel lockFile = FileChannel.open(blobs.resolve(hex(layer) + ".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
             FileLock lock = lockFile.lock()) {
            if (Files.isRegularFile(image)) {
                return image; // another process pulled it while this one waited
            }
            LOG.info("{}: pulling {} into {}", resolved.reference(), layer, image);
            ImagePull.pull(resolved.reference(), image, client, Progress.NONE, streams);
            try {
                Files.setPosixFilePermissions(image, PosixFilePermissions.fromString("r--r--r--"));
            } catch (UnsupportedOperationException | IOException e) {
                LOG.debug("cannot make {} read-only: {}", image, e.toString());
            }
            return image;
        }
    }

    private static Optional<Path> cachedImage(Path blobs, Path manifests, String manifestDigest) {
        try {
            Path entry = manifests.resolve(hex(manifestDigest));
            if (!Files.isRegularFile(entry)) {
                return Optional.empty();
            }
            String layer = Files.readString(entry, StandardCharsets.US_ASCII).strip();
            if (!LAYER_DIGEST.matcher(layer).matches()) {
                return Optional.empty();
            }
            Path image = blobs.resolve(hex(layer) + ".daxfs");
            return Files.isRegularFile(image) ? Optional.of(image) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Manifest digest -> image digest, so that a pinned reference is answered from the cache alone. */
    private static void remember(Path manifests, String manifestDigest, String layerDigest) throws IOException {
        Path entry = manifests.resolve(hex(manifestDigest));
        if (Files.isRegularFile(entry)) {
            return;
        }
        Path tmp = Files.createTempFile(manifests, ".entry", ".tmp");
        Files.writeString(tmp, layerDigest + "\n", StandardCharsets.US_ASCII);
        Files.move(tmp, entry, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static String hex(String digest) {
        return digest.substring("sha256:".length());
    }
}

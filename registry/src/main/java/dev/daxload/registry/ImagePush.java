package dev.daxload.registry;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code daxload push}: a checked image goes up as the one layer of a ModelPack artifact. A blob the repository
 * already holds is not sent ({@code HEAD}); one another repository of the registry holds is mounted from there;
 * otherwise it is sent in chunks.
 */
public final class ImagePush {
    private static final Logger LOG = LoggerFactory.getLogger(ImagePush.class);
    /** Chunk size of uploads: large enough to keep a link busy, small enough to hold once in the heap. */
    public static final int DEFAULT_CHUNK_BYTES = 16 << 20;

    /**
     * What a push did.
     *
     * @param reference the tag pushed, pinned to the manifest's digest
     * @param imageDigest the layer's digest: sha256 of the image file (of its tar for a container image)
     * @param imageBytes the layer's size
     * @param sentBytes image bytes sent (0 when the registry had them or mounted them)
     * @param how "uploaded", "already there" or "mounted from REPO"
     */
    public record Result(ImageReference reference, String imageDigest, long imageBytes, long sentBytes, String how) {
    }

    private ImagePush() {
    }

    /**
     * Pushes {@code imageFile} to {@code ref} as a ModelPack artifact.
     *
     * @param progress image bytes sent so far
     * @throws IOException naming the file when it is not a sound image, or the reference and digest when the registry
     *                     refuses
     */
    public static Result push(Path imageFile, ImageReference ref, RegistryClient client, int chunkBytes,
                              Progress progress) throws IOException {
        checkTag(ref);
        try (FileChannel ch = FileChannel.open(imageFile, StandardOpenOption.READ)) {
            BlobSource layer = BlobSource.of(ch, ch.size());
            String digest = sha256(layer);
            byte[] config;
            int imageFormat;
            try (DaxImage image = DaxImage.open(imageFile, MapOptions.readOnly())) {
                config = ModelPackArtifact.config(image, digest, titleOf(imageFile));
                imageFormat = image.superblock().version();
            }
            String how = ensureBlob(client, ref, digest, layer, chunkBytes, progress);
            byte[] manifest = ModelPackArtifact.manifest(config,
                    new ModelPackArtifact.ImageLayer(digest, layer.size(), imageFile.getFileName().toString()), imageFormat);
            return finish(client, ref, config, manifest, digest, layer.size(), how);
        }
    }

    /**
     * Pushes {@code imageFile} to {@code ref} as an ordinary OCI container image: one uncompressed tar layer holding
     * the file alone, so that container runtimes (a Kubernetes image volume), podman, skopeo and umoci unpack it.
     */
    public static Result pushContainerImage(Path imageFile, ImageReference ref, RegistryClient client, int chunkBytes,
                                            Progress progress) throws IOException {
        checkTag(ref);
        try (DaxImage image = DaxImage.open(imageFile, MapOptions.readOnly())) {
            image.inodeCount(); // opened to refuse what is not a sound image before anything is sent
        }
        try (FileChannel ch = FileChannel.open(imageFile, StandardOpenOption.READ)) {
            TarredImage layer = new TarredImage(ch, ch.size(), imageFile.getFileName().toString());
            String digest = sha256(layer);
            String how = ensureBlob(client, ref, digest, layer, chunkBytes, progress);
            byte[] config = ContainerImage.config(digest);
            byte[] manifest = ContainerImage.manifest(config, digest, layer.size(), imageFile.getFileName().toString());
            return finish(client, ref, config, manifest, digest, layer.size(), how);
        }
    }

    private static void checkTag(ImageReference ref) {
        if (ref.digest().isPresent()) {
            throw new IllegalArgumentException(ref + ": push to a tag; the digest is what the registry gives back");
        }
    }

    /** Makes the repository hold {@code digest}: already there, mounted from a repository known to hold it, or sent. */
    private static String ensureBlob(RegistryClient client, ImageReference ref, String digest, BlobSource source,
                                     int chunkBytes, Progress progress) throws IOException {
        BlobLocations locations = BlobLocations.forUser(System.getenv());
        String how = null;
        if (client.blobExists(ref.repository(), digest)) {
            how = "already there";
        } else {
            for (String from : locations.repositoriesHolding(digest, ref.registry(), ref.repository())) {
                if (client.mountBlob(ref.repository(), digest, from)) {
                    how = "mounted from " + from;
                    break;
                }
                LOG.info("{}: {} could not be mounted from {}; trying elsewhere", ref.registry(), digest, from);
            }
            if (how == null) {
                client.uploadBlob(ref.repository(), digest, source, chunkBytes, progress);
                how = "uploaded";
            }
        }
        locations.remember(digest, ref.registry(), ref.repository());
        return how;
    }

    private static Result finish(RegistryClient client, ImageReference ref, byte[] config, byte[] manifest, String digest,
                                 long size, String how) throws IOException {
        if (!client.blobExists(ref.repository(), Digests.of(config))) {
            client.uploadBlob(ref.repository(), config);
        }
        String manifestDigest = client.putManifest(ref.repository(), ref.manifestReference(), manifest, RegistryClient.OCI_MANIFEST);
        return new Result(ref.withDigest(manifestDigest), digest, size, how.equals("uploaded") ? size : 0, how);
    }

    private static String titleOf(Path imageFile) {
        String name = imageFile.getFileName().toString();
        return name.endsWith(".daxfs") ? name.substring(0, name.length() - ".daxfs".length()) : name;
    }

    static String sha256(BlobSource source) throws IOException {
        return Digests.of(Digests.update(Digests.sha256(), source));
    }
}

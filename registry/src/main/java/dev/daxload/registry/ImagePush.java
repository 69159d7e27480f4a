package dev.daxload.registry;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
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
     * @param imageDigest sha256 of the image file: the layer's digest
     * @param imageBytes the image's size
     * @param sentBytes image bytes sent (0 when the registry had them or mounted them)
     * @param how "uploaded", "already there" or "mounted from REPO"
     */
    public record Result(ImageReference reference, String imageDigest, long imageBytes, long sentBytes, String how) {
    }

    private ImagePush() {
    }

    /**
     * Pushes {@code imageFile} to {@code ref}.
     *
     * @param progress image bytes sent so far
     * @throws IOException naming the file when it is not a sound image, or the reference and digest when the registry
     *                     refuses
     */
    public static Result push(Path imageFile, ImageReference ref, RegistryClient client, int chunkBytes,
                              Progress progress) throws IOException {
        if (ref.digest().isPresent()) {
            throw new IllegalArgumentException(ref + ": push to a tag; the digest is what the registry gives back");
        }
        byte[] config;
        int imageFormat;
        String digest;
        long size;
        try (FileChannel ch = FileChannel.open(imageFile, StandardOpenOption.READ)) {
            size = ch.size();
            digest = sha256(ch, size);
            try (DaxImage image = DaxImage.open(imageFile, MapOptions.readOnly())) {
                config = ModelPackArtifact.config(image, digest, titleOf(imageFile));
                imageFormat = image.superblock().version();
            }
            BlobLocations locations = BlobLocations.forUser(System.getenv());
            String how;
            long sent = 0;
            if (client.blobExists(ref.repository(), digest)) {
                how = "already there";
            } else {
                how = null;
                for (String from : locations.repositoriesHolding(digest, ref.registry(), ref.repository())) {
                    if (client.mountBlob(ref.repository(), digest, from)) {
                        how = "mounted from " + from;
                        break;
                    }
                    LOG.info("{}: {} could not be mounted from {}; trying elsewhere", ref.registry(), digest, from);
                }
                if (how == null) {
                    client.uploadBlob(ref.repository(), digest, ch, size, chunkBytes, progress);
                    sent = size;
                    how = "uploaded";
                }
            }
            locations.remember(digest, ref.registry(), ref.repository());
            if (!client.blobExists(ref.repository(), Digests.of(config))) {
                client.uploadBlob(ref.repository(), config);
            }
            byte[] manifest = ModelPackArtifact.manifest(config,
                    new ModelPackArtifact.ImageLayer(digest, size, imageFile.getFileName().toString()), imageFormat);
            String manifestDigest = client.putManifest(ref.repository(), ref.manifestReference(), manifest,
                    RegistryClient.OCI_MANIFEST);
            return new Result(ref.withDigest(manifestDigest), digest, size, sent, how);
        }
    }

    private static String titleOf(Path imageFile) {
        String name = imageFile.getFileName().toString();
        return name.endsWith(".daxfs") ? name.substring(0, name.length() - ".daxfs".length()) : name;
    }

    static String sha256(FileChannel ch, long size) throws IOException {
        MessageDigest md = Digests.sha256();
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long pos = 0;
        while (pos < size) {
            buf.clear();
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("file ended at byte " + pos + " of " + size + " while hashing it");
            }
            buf.flip();
            md.update(buf);
            pos += n;
        }
        return Digests.of(md);
    }
}

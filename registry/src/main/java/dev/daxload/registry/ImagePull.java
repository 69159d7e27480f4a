package dev.daxload.registry;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.model.ModelWeights;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code daxload pull}: the image layer of a ModelPack artifact streamed from the socket into a partial file beside
 * the target, hashed as it arrives, then validated and every tensor's checksum checked, then renamed over the target.
 * Nothing is ever at the target but a complete, checked image. The partial file is named after the layer's digest,
 * so a pull that was killed and is started again sends only what is missing ({@code Range}).
 */
public final class ImagePull {
    private static final Logger LOG = LoggerFactory.getLogger(ImagePull.class);
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final String PARTIAL_SUFFIX = ".daxload-pull";
    /** Stream failures in a row (each resumed from the last byte written) before a pull gives up. */
    private static final int STREAM_ATTEMPTS = 5;

    /**
     * What a pull did.
     *
     * @param reference the reference pulled, pinned to its manifest digest
     * @param imageDigest the image layer's digest (sha256 of the file at the target)
     * @param imageBytes the image's size
     * @param receivedBytes bytes received in this run (less than the size when an earlier run was resumed)
     * @param resumedFrom the byte an earlier, interrupted run had reached (0 when none)
     * @param target where the image now is
     */
    public record Result(ImageReference reference, String imageDigest, long imageBytes, long receivedBytes,
                         long resumedFrom, Path target) {
    }

    private ImagePull() {
    }

    /** Resolves {@code ref} to its image layer (manifest fetched, digest pinned). */
    public static Resolved resolve(ImageReference ref, RegistryClient client) throws IOException {
        RegistryClient.FetchedManifest m;
        try {
            m = client.getManifest(ref.repository(), ref.manifestReference());
        } catch (RegistryException e) {
            if (e.status() == 404) {
                throw new RegistryException(ref + ": no such " + (ref.digest().isPresent() ? "manifest" : "tag")
                        + " in " + ref.registry() + "/" + ref.repository(), 404, e);
            }
            throw e;
        }
        return new Resolved(ref.withDigest(m.digest()), ModelPackArtifact.imageLayer(m, ref));
    }

    /** A reference pinned to its manifest digest, and the image layer that manifest names. */
    public record Resolved(ImageReference reference, ModelPackArtifact.ImageLayer layer) {
    }

    /**
     * Pulls {@code ref} into {@code target}.
     *
     * @param progress bytes of the image present so far (resumed bytes included)
     * @throws IOException naming the reference and digest; nothing is at {@code target} unless it was there before
     */
    public static Result pull(ImageReference ref, Path target, RegistryClient client, Progress progress) throws IOException {
        Path destination = destinationOf(target);
        Resolved resolved = resolve(ref, client);
        ModelPackArtifact.ImageLayer layer = resolved.layer();
        String what = resolved.reference() + " (layer " + layer.digest() + ")";
        Path partial = partialPath(destination, layer.digest());
        removeOtherPartials(destination, partial);
        long resumedFrom = 0;
        long received = 0;
        long t0 = System.nanoTime();
        long tReceived;
        try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            MessageDigest md = Digests.sha256();
            long have = out.size();
            if (have > layer.size()) {
                out.truncate(0);
                have = 0;
            }
            if (have > 0) {
                Digests.update(md, BlobSource.of(out, have));
                resumedFrom = have;
                LOG.info("{}: resuming at byte {} of {} ({})", what, have, layer.size(), partial);
            }
            progress.bytes(have, layer.size());
            long pos = have;
            int failures = 0;
            WriteBehind flusher = new WriteBehind(out, have);
            while (pos < layer.size()) {
                long before = pos;
                try {
                    pos = stream(client, resolved, out, md, pos, what, (done, total) -> {
                        flusher.written(done);
                        progress.bytes(done, total);
                    });
                } catch (RegistryException e) {
                    // the registry broke the protocol (more bytes than declared, a wrong range): what it sent is not kept
                    out.close();
                    Files.deleteIfExists(partial);
                    throw e;
                } catch (IOException e) {
                    if (isDiskFull(e)) {
                        throw new RegistryException(what + ": " + destination.getParent() + " is full at byte " + pos + " of "
                                + layer.size() + "; nothing at " + destination + "; the " + pos + " bytes received are kept in "
                                + partial + " for the next pull (delete it to free the space)", e);
                    }
                    if (++failures >= STREAM_ATTEMPTS) {
                        throw new RegistryException(what + ": the transfer broke " + failures + " times, last at byte " + pos
                                + " of " + layer.size() + " (" + e.getMessage() + "); nothing at " + destination
                                + "; pull again to resume from " + partial, e);
                    }
                    LOG.warn("{}: transfer broke at byte {} ({}), resuming", what, pos, e.toString());
                    pos = out.size();
                }
                received += Math.max(0, pos - before);
                if (pos > before) {
                    failures = 0;
                }
            }
            String got = Digests.of(md);
            if (!got.equals(layer.digest())) {
                out.close();
                Files.deleteIfExists(partial);
                throw new RegistryException(what + ": the bytes received hash to " + got + ", not " + layer.digest()
                        + " (the registry's copy is corrupt or was changed); nothing at " + destination);
            }
            tReceived = System.nanoTime();
            flusher.finish();
            // the last flush to the disk and the check of every tensor (reads from the page cache) overlap
            CompletableFuture<Void> synced = CompletableFuture.runAsync(() -> {
                try {
                    out.force(true);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, Thread.ofVirtual()::start);
            try {
                checkImage(partial, what);
                synced.join();
            } catch (IOException | RuntimeException e) {
                synced.exceptionally(x -> null).join();
                out.close();
                Files.deleteIfExists(partial);
                if (e instanceof CompletionException c && c.getCause() instanceof UncheckedIOException u) {
                    throw new RegistryException(what + ": writing " + partial + " to the disk failed: " + u.getCause().getMessage()
                            + "; nothing at " + destination, u.getCause());
                }
                throw e;
            }
        }
        Files.move(partial, destination, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        long tDone = System.nanoTime();
        LOG.debug("{}: received and hashed in {} ms, then synced and checked in {} ms", what, (tReceived - t0) / 1_000_000,
                (tDone - tReceived) / 1_000_000);
        return new Result(resolved.reference(), layer.digest(), layer.size(), received, resumedFrom, destination);
    }

    /**
     * Streams from {@code pos} until the blob ends; returns the position reached. A registry that ignores the range
     * restarts the file; one that sends more than the manifest declares is refused.
     */
    private static long stream(RegistryClient client, Resolved resolved, FileChannel out, MessageDigest md, long pos,
                               String what, Progress progress) throws IOException {
        ModelPackArtifact.ImageLayer layer = resolved.layer();
        HttpResponse<InputStream> r = client.openBlob(resolved.reference().repository(), layer.digest(), pos);
        try (InputStream in = r.body()) {
            if (r.statusCode() == 206) {
                String range = r.headers().firstValue("Content-Range").orElse("");
                Matcher m = CONTENT_RANGE.matcher(range);
                if (!m.matches() || Long.parseLong(m.group(1)) != pos) {
                    throw new RegistryException(what + ": asked for bytes from " + pos + ", the registry sent range '" + range + "'");
                }
            } else if (pos > 0) {
                LOG.info("{}: the registry ignored the range; starting again from byte 0", what);
                out.truncate(0);
                md.reset();
                pos = 0;
            }
            byte[] chunk = new byte[1 << 20];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            while (true) {
                int n = in.read(chunk);
                if (n < 0) {
                    return pos;
                }
                if (pos + n > layer.size()) {
                    throw new RegistryException(what + ": the registry sent more than the " + layer.size()
                            + " bytes the manifest declares; nothing written past them");
                }
                buf.clear().limit(n);
                while (buf.hasRemaining()) {
                    pos += out.write(buf, pos);
                }
                md.update(chunk, 0, n);
                progress.bytes(pos, layer.size());
            }
        }
    }

    /** Opens the image the way a loader will and checks every tensor of every model against its checksum. */
    private static void checkImage(Path partial, String what) throws IOException {
        try (DaxImage image = DaxImage.open(partial, MapOptions.readOnly())) {
            List<String> bad = new ArrayList<>();
            for (String model : ModelCatalog.models(image)) {
                ModelWeights weights = ModelWeights.of(image, model);
                for (String problem : weights.verify()) {
                    bad.add(model + ": " + problem);
                }
            }
            if (!bad.isEmpty()) {
                throw new RegistryException(what + ": the image's digest matches but " + bad.size()
                        + " tensors fail their checksums (the image was pushed corrupt): " + String.join("; ", bad.subList(0, Math.min(5, bad.size()))));
            }
        } catch (RegistryException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new RegistryException(what + ": the layer is not a sound daxload image: " + e.getMessage(), e);
        }
    }

    /** The file a pull replaces: a symlink's target, checked to be a place a file can go. */
    static Path destinationOf(Path target) throws IOException {
        Path t = target.toAbsolutePath();
        if (Files.isSymbolicLink(t)) {
            t = t.toRealPath();
        }
        if (Files.isDirectory(t)) {
            throw new IOException(target + ": is a directory; give the image file's path (-o DIR/NAME.daxfs)");
        }
        if (Files.exists(t) && !Files.isRegularFile(t)) {
            throw new IOException(target + ": not a regular file; pull writes image files (copy it to a device afterwards)");
        }
        Path parent = t.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IOException(target + ": directory " + parent + " does not exist");
        }
        return t;
    }

    /**
     * Where a pull of blob {@code digest} to {@code destination} keeps what it has received: hidden, beside the target
     * (same filesystem, so the final rename is atomic), named after the digest, so only a pull of the same bytes
     * resumes it.
     */
    public static Path partialPath(Path destination, String digest) {
        String hex = digest.substring("sha256:".length(), "sha256:".length() + 16);
        return destination.resolveSibling("." + destination.getFileName() + "." + hex + PARTIAL_SUFFIX);
    }

    /** Partials of other digests for the same target are from pulls of other versions: they will never be resumed. */
    private static void removeOtherPartials(Path destination, Path keep) {
        String prefix = "." + destination.getFileName() + ".";
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(destination.getParent(),
                p -> p.getFileName().toString().startsWith(prefix) && p.getFileName().toString().endsWith(PARTIAL_SUFFIX))) {
            for (Path p : ds) {
                if (!p.equals(keep)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            LOG.debug("could not clean old partial pulls beside {}: {}", destination, e.toString());
        }
    }

    private static boolean isDiskFull(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("No space left") || m.contains("Disk quota");
    }
}

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
    private static final String PARTIAL_SUFFIX = ".daxload-pull";
    private static final String JOURNAL_SUFFIX = ".daxload-pull-ranges";

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
        RegistryClient.FetchedManifest m = client.getManifest(ref);
        return new Resolved(ref.withDigest(m.digest()), ModelPackArtifact.imageLayer(m, ref));
    }

    /** A reference pinned to its manifest digest, and the image layer that manifest names. */
    public record Resolved(ImageReference reference, ModelPackArtifact.ImageLayer layer) {
    }

    /**
     * How many GETs a pull runs at once unless told otherwise: one. Where the CPU is the limit (a registry on a fast
     * link) more streams cost more CPU per byte and finish later; they pay where one connection is the limit (a
     * distant registry, a per-connection rate limit). docs/fleet.md has the numbers.
     */
    public static final int DEFAULT_STREAMS = 1;

    /**
     * Pulls {@code ref} into {@code target} with {@link #DEFAULT_STREAMS} streams.
     *
     * @param progress bytes of the image present so far (resumed bytes included)
     * @throws IOException naming the reference and digest; nothing is at {@code target} unless it was there before
     */
    public static Result pull(ImageReference ref, Path target, RegistryClient client, Progress progress) throws IOException {
        return pull(ref, target, client, progress, DEFAULT_STREAMS);
    }

    /**
     * Pulls {@code ref} into {@code target}, with up to {@code streams} ranged GETs at once. With one stream the bytes
     * arrive in order and the partial file's size says what it holds; with more, a journal beside it
     * ({@link #journalPath}) says which chunks are there, so a pull killed either way resumes with what is missing.
     *
     * @param progress bytes of the image present so far (resumed bytes included)
     * @throws IOException naming the reference and digest; nothing is at {@code target} unless it was there before
     */
    public static Result pull(ImageReference ref, Path target, RegistryClient client, Progress progress, int streams)
            throws IOException {
        if (streams < 1) {
            throw new IllegalArgumentException("streams: " + streams + " (at least 1)");
        }
        Path destination = destinationOf(target);
        Resolved resolved = resolve(ref, client);
        ModelPackArtifact.ImageLayer layer = resolved.layer();
        String what = resolved.reference() + " (layer " + layer.digest() + ")";
        Path partial = partialPath(destination, layer.digest());
        Path journalPath = journalPath(partial);
        removeOtherPartials(destination, partial, journalPath);
        long resumedFrom;
        long received;
        long t0 = System.nanoTime();
        long tReceived;
        try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            RangeJournal journal = openJournal(journalPath, layer, out, streams);
            resumedFrom = journal.present();
            if (resumedFrom > 0) {
                LOG.info("{}: resuming with {} of {} bytes present ({})", what, resumedFrom, layer.size(), partial);
            }
            progress.bytes(resumedFrom, layer.size());
            BlobDownload.Outcome got;
            WriteBehind flusher = new WriteBehind(out, journal.contiguous());
            try {
                got = new BlobDownload(client, resolved.reference().repository(), layer.digest(), layer.size(), partial, out,
                        journal, what, progress, flusher).run(streams);
            } catch (BlobDownload.Kept e) {
                journal.close();
                throw new RegistryException(e.getMessage() + "; nothing at " + destination, e.getCause());
            } catch (IOException | RuntimeException e) {
                // the registry broke the protocol (more bytes than declared, a wrong range): what it sent is not kept
                journal.delete();
                out.close();
                Files.deleteIfExists(partial);
                throw e;
            }
            received = got.received();
            if (!got.digest().equals(layer.digest())) {
                journal.delete();
                out.close();
                Files.deleteIfExists(partial);
                throw new RegistryException(what + ": the bytes received hash to " + got.digest() + ", not " + layer.digest()
                        + " (the registry's copy is corrupt or was changed); nothing at " + destination);
            }
            // every byte is there and hashes right: from here on the partial file alone says so (its size is the blob's)
            journal.delete();
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
     * What the partial file holds. A journal beside it (a pull with several streams left it) says; without one, the
     * file is a prefix of the blob (one stream wrote it in order). One stream with no journal keeps none: its file's
     * size will say; several get a journal of chunks made from that prefix.
     */
    private static RangeJournal openJournal(Path journalPath, ModelPackArtifact.ImageLayer layer, FileChannel out,
                                            int streams) throws IOException {
        long have = out.size();
        if (have > layer.size()) {
            out.truncate(0);
            have = 0;
        }
        if (!Files.exists(journalPath) && streams == 1) {
            return RangeJournal.inMemory(layer.size(), have);
        }
        RangeJournal journal = RangeJournal.open(journalPath, layer.digest(), layer.size(), chunkBytes(layer.size(), streams), have);
        if (journal.claimedEnd() > have) {
            // the partial file was replaced or cut short behind the journal's back: believe neither
            LOG.info("{}: claims bytes up to {} of a partial file of {}; starting again", journalPath, journal.claimedEnd(), have);
            journal.restart();
        }
        return journal;
    }

    /**
     * Bytes per ranged GET with several streams: about four chunks per stream, so the gap-free end (which the hash
     * follows) trails the transfer by a few chunks, clamped to 8-64 MiB (fewer requests for big images).
     */
    static long chunkBytes(long size, int streams) {
        return Math.max(8L << 20, Math.min(64L << 20, size / (4L * streams)));
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

    /** The journal of a pull with several streams: which chunks of {@code partial} are there ({@link RangeJournal}). */
    public static Path journalPath(Path partial) {
        String name = partial.getFileName().toString();
        return partial.resolveSibling(name.substring(0, name.length() - PARTIAL_SUFFIX.length()) + JOURNAL_SUFFIX);
    }

    /** Partials of other digests for the same target are from pulls of other versions: they will never be resumed. */
    private static void removeOtherPartials(Path destination, Path keep, Path keepJournal) {
        String prefix = "." + destination.getFileName() + ".";
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(destination.getParent(),
                p -> p.getFileName().toString().startsWith(prefix) && (p.getFileName().toString().endsWith(PARTIAL_SUFFIX)
                        || p.getFileName().toString().endsWith(JOURNAL_SUFFIX)))) {
            for (Path p : ds) {
                if (!p.equals(keep) && !p.equals(keepJournal)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            LOG.debug("could not clean old partial pulls beside {}: {}", destination, e.toString());
        }
    }
}

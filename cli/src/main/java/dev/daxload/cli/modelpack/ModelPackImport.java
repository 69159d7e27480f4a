package dev.daxload.cli.modelpack;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelDirectory;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceReaders;
import dev.daxload.packager.source.SourceTensor;
import dev.daxload.registry.Digests;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.RegistryClient;
import dev.daxload.registry.RegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code daxload pull --pack}: a ModelPack artifact of safetensors or GGUF weight files packed into a DAXFS image as
 * its layers stream, giving the image {@code pack-model} gives for a directory of those files.
 *
 * <p>Each weight layer's header is read first by ranged GETs (a growing prefix, through the tar header for
 * {@code .v1.tar}) into a sparse stand-in of the file: the header's bytes and a hole where the tensors go. The
 * packager's own readers and {@link ModelDirectory} plan the model from those stand-ins exactly as {@code pack-model}
 * plans a directory, so the tree and layout are the same; then every tensor's content is swapped for a
 * {@link StreamedTensor} and the image writer, taking streamed files in their layer's order, writes each tensor from
 * the socket into its place. Every layer's size and sha256 are checked before the image (a temporary file) is renamed
 * to the target: on any error nothing is at the target. Side files (configs, tokenizers, docs) are small and fetched
 * whole, their digests checked.
 */
public final class ModelPackImport {
    private static final Logger LOG = LoggerFactory.getLogger(ModelPackImport.class);
    private static final long FIRST_PREFIX = 64 << 10;
    /** The most of a weight layer read to find its header: safetensors allows a 100 MB header. */
    private static final long MAX_PREFIX = 128 << 20;
    /** The largest side file fetched into memory. */
    private static final long MAX_SIDE_FILE = 256 << 20;

    /**
     * @param reference the artifact, pinned to its manifest digest
     * @param layout where everything landed in the image
     * @param tensors tensors packed
     * @param weightLayers weight layers streamed into the image
     * @param leftOut weight files not packed because the model's weights were taken in another format
     */
    public record Result(ImageReference reference, ImageLayout layout, int tensors, int weightLayers, List<String> leftOut) {
    }

    private ModelPackImport() {
    }

    /**
     * Packs the artifact {@code ref} names into an image at {@code target}, the model under {@code modelName}.
     *
     * @param writer the writer to use; its check is replaced by one that first finishes every layer (size and
     *               digest), then runs {@code check}
     */
    public static Result pull(ImageReference ref, String modelName, Path target, RegistryClient client, ImageWriter writer,
                              ImageWriter.ImageCheck check) throws IOException {
        RegistryClient.FetchedManifest m = client.getManifest(ref);
        ImageReference pinned = ref.withDigest(m.digest());
        List<ArtifactLayers.Layer> layers = ArtifactLayers.of(m, pinned);
        Path dir = Files.createTempDirectory("daxload-pack-");
        List<LayerStream> streams = new ArrayList<>();
        try {
            Path model = dir.resolve("model");
            Files.createDirectory(model);
            Map<Path, Placed> weights = new HashMap<>();
            for (ArtifactLayers.Layer layer : layers) {
                if (layer.archive()) {
                    unpackArchive(client, pinned, layer, model);
                    continue;
                }
                Path file = model.resolve(layer.path());
                if (Files.exists(file)) {
                    throw new RegistryException(pinned + ": two layers hold " + layer.path());
                }
                Files.createDirectories(file.getParent());
                if (layer.weight()) {
                    LayerStream s = new LayerStream(client, ref.repository(), layer, pinned.toString());
                    streams.add(s);
                    weights.put(key(file), new Placed(s, streams.size() - 1, standIn(client, pinned, layer, file)));
                } else {
                    Files.write(file, sideFile(client, pinned, layer));
                }
            }
            ModelDirectory d = ModelDirectory.read(model, SourceReaders.standard());
            ModelPackager packager = new ModelPackager();
            ModelPackager.Model out = packager.model(modelName);
            int tensors = 0;
            List<LayerStream> used = new ArrayList<>();
            for (SourceModel source : d.weights()) {
                out.add(streamed(source, weights, used));
                tensors += source.tensors().size();
            }
            for (var f : d.sideFiles().entrySet()) {
                out.sideFile(f.getKey(), FileContent.of(f.getValue(), Files.size(f.getValue())));
            }
            if (!d.leftOut().isEmpty()) {
                LOG.info("{}: weights taken from the {} files; left out: {}", pinned, d.format(), d.leftOut());
            }
            ImageLayout layout = packager.write(writer.check(image -> {
                for (LayerStream s : used) {
                    s.finish();
                }
                check.check(image);
            }), target);
            return new Result(pinned, layout, tensors, used.size(), d.leftOut());
        } finally {
            for (LayerStream s : streams) {
                try {
                    s.close();
                } catch (IOException e) {
                    LOG.debug("closing a layer stream", e);
                }
            }
            deleteTree(dir);
        }
    }

    /** A weight file's stand-in and where its bytes start in its layer. */
    private record Placed(LayerStream stream, int index, long dataOffset) {
    }

    /** The source with every tensor read from its layer's stream instead of its stand-in. */
    private static SourceModel streamed(SourceModel source, Map<Path, Placed> weights, List<LayerStream> used) throws IOException {
        List<SourceTensor> tensors = new ArrayList<>(source.tensors().size());
        for (SourceTensor t : source.tensors()) {
            if (!(t.content() instanceof FileContent.FileRange r) || !weights.containsKey(key(r.file()))) {
                throw new IOException("tensor '" + t.name() + "' (" + t.content().describe() + ") is not a range of a weight layer:"
                        + " its bytes cannot be streamed into the image");
            }
            Placed p = weights.get(key(r.file()));
            if (!used.contains(p.stream())) {
                used.add(p.stream());
            }
            tensors.add(new SourceTensor(t.name(), t.dtype(), t.shape(),
                    new StreamedTensor(p.stream(), p.index(), p.dataOffset() + r.offset(), r.length(), "tensor '" + t.name() + "'")));
        }
        for (Path f : source.files()) {
            Placed p = weights.get(key(f));
            if (p != null && !used.contains(p.stream())) {
                used.add(p.stream()); // a weight file with no bytes to copy is still checked
            }
        }
        return new SourceModel(source.format(), source.files(), source.metadata(), tensors, source.sideFiles());
    }

    /**
     * Writes {@code file}: the weight file's header bytes, read from the layer by ranged GETs of a growing prefix until
     * the packager's reader finds every tensor beyond them, and a hole for the rest.
     *
     * @return where the file starts in the layer
     */
    private static long standIn(RegistryClient client, ImageReference ref, ArtifactLayers.Layer layer, Path file) throws IOException {
        String what = ref + " layer " + layer.digest() + " (" + layer.path() + ")";
        long want = Math.min(layer.size(), FIRST_PREFIX);
        SourceReaders readers = SourceReaders.standard();
        while (true) {
            byte[] prefix = range(client, ref, layer, want);
            long start = 0;
            long size = layer.size();
            if (layer.tar()) {
                var member = findMember(prefix, layer, what);
                if (member.isEmpty()) {
                    want = grow(want, layer, what, "its tar header");
                    continue;
                }
                start = member.get().dataOffset();
                size = member.get().size();
            }
            int have = (int) Math.max(0, Math.min(prefix.length - start, size));
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(0);
                f.write(prefix, (int) start, have);
                f.setLength(size);
            }
            boolean whole = have == size;
            try {
                SourceModel s = readers.read(file);
                long first = s.tensors().stream().map(SourceTensor::content).filter(c -> c.size() > 0)
                        .filter(c -> c instanceof FileContent.FileRange).mapToLong(c -> ((FileContent.FileRange) c).offset())
                        .min().orElse(Long.MAX_VALUE);
                if (whole || first <= have) {
                    return start;
                }
            } catch (IOException | IllegalArgumentException e) {
                if (whole || want >= MAX_PREFIX) {
                    throw new RegistryException(what + ": " + e.getMessage().replace(file.toString(), layer.path()), e);
                }
            }
            want = Math.max(grow(want, layer, what, "its header"), safetensorsHeaderEnd(prefix, start, layer));
        }
    }

    /**
     * Where a safetensors header ends in the layer, read from its 8-byte length, so that the next range is the one
     * needed rather than a guess; 0 when the prefix does not say (a GGUF file, a cut length).
     */
    private static long safetensorsHeaderEnd(byte[] prefix, long start, ArtifactLayers.Layer layer) {
        if (!layer.path().endsWith(".safetensors") || prefix.length < start + 8) {
            return 0;
        }
        long n = java.nio.ByteBuffer.wrap(prefix, (int) start, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        long end = start + 8 + n;
        return n > 0 && end > 0 && end <= Math.min(layer.size(), MAX_PREFIX) ? end : 0;
    }

    private static java.util.Optional<TarMember> findMember(byte[] prefix, ArtifactLayers.Layer layer, String what) throws RegistryException {
        try {
            return TarMember.find(prefix, layer.size());
        } catch (IllegalArgumentException e) {
            throw new RegistryException(what + ": " + e.getMessage());
        }
    }

    private static long grow(long want, ArtifactLayers.Layer layer, String what, String goal) throws RegistryException {
        if (want >= layer.size() || want >= MAX_PREFIX) {
            throw new RegistryException(what + ": " + goal + " is not within its first " + want + " bytes");
        }
        return Math.min(Math.min(layer.size(), MAX_PREFIX), want * 4);
    }

    /** The first {@code length} bytes of a layer (a {@code Range} GET; a registry that ignores ranges is read that far). */
    private static byte[] range(RegistryClient client, ImageReference ref, ArtifactLayers.Layer layer, long length) throws IOException {
        if (length == 0) {
            return new byte[0];
        }
        HttpResponse<InputStream> r = client.openBlob(ref.repository(), layer.digest(), 0, length);
        try (InputStream in = r.body()) {
            byte[] b = in.readNBytes((int) length);
            if (b.length < length) {
                throw new RegistryException(ref + " layer " + layer.digest() + ": ended at byte " + b.length + " of the "
                        + layer.size() + " the manifest declares");
            }
            return b;
        }
    }

    /** A side file's bytes: the whole layer, digest checked, the member's bytes for a tar. */
    private static byte[] sideFile(RegistryClient client, ImageReference ref, ArtifactLayers.Layer layer) throws IOException {
        String what = ref + " layer " + layer.digest() + " (" + layer.path() + ")";
        byte[] b = wholeLayer(client, ref, layer, what);
        if (!layer.tar()) {
            return b;
        }
        TarMember member = findMember(b, layer, what).orElseThrow(() -> new RegistryException(what + ": a tar with no file"));
        return Arrays.copyOfRange(b, (int) member.dataOffset(), (int) (member.dataOffset() + member.size()));
    }

    /**
     * A tar of side files (Docker Model Runner's {@code vllm.config.tar}, {@code dir.tar}), digest checked, each
     * regular file written under {@code model}; paths checked as a layer's are, hidden files skipped as pack-model
     * skips them, a file two layers hold refused.
     */
    private static void unpackArchive(RegistryClient client, ImageReference ref, ArtifactLayers.Layer layer, Path model) throws IOException {
        String what = ref + " layer " + layer.digest() + " (an archive of side files)";
        byte[] b = wholeLayer(client, ref, layer, what);
        try (org.apache.commons.compress.archivers.tar.TarArchiveInputStream tar =
                     new org.apache.commons.compress.archivers.tar.TarArchiveInputStream(new java.io.ByteArrayInputStream(b))) {
            org.apache.commons.compress.archivers.tar.TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                String name = e.getName();
                while (name.startsWith("./")) {
                    name = name.substring(2);
                }
                if (!e.isFile() || name.isEmpty()) {
                    continue; // directories come with their files; links and devices are not model files
                }
                ArtifactLayers.checkPath(name, what + " member");
                if (name.startsWith(".") || name.contains("/.")) {
                    continue;
                }
                Path file = model.resolve(name);
                if (Files.exists(file)) {
                    throw new RegistryException(what + ": " + name + " is held by another layer too");
                }
                Files.createDirectories(file.getParent());
                Files.write(file, tar.readAllBytes());
            }
        } catch (IOException | IllegalArgumentException e) {
            if (e instanceof RegistryException r) {
                throw r;
            }
            throw new RegistryException(what + ": not a tar archive daxload can read: " + e.getMessage());
        }
    }

    /** The whole of a small layer, its length and digest checked. */
    private static byte[] wholeLayer(RegistryClient client, ImageReference ref, ArtifactLayers.Layer layer, String what) throws IOException {
        if (layer.size() > MAX_SIDE_FILE) {
            throw new RegistryException(what + ": a " + layer.size() + "-byte side file (at most " + MAX_SIDE_FILE
                    + "; weights go in weight layers)");
        }
        HttpResponse<InputStream> r = client.openBlob(ref.repository(), layer.digest(), 0);
        byte[] b;
        try (InputStream in = r.body()) {
            b = in.readNBytes((int) layer.size() + 1);
        }
        if (b.length != layer.size()) {
            throw new RegistryException(what + ": sent " + (b.length > layer.size() ? "more than" : b.length + " of")
                    + " the " + layer.size() + " bytes the manifest declares");
        }
        String got = Digests.of(b);
        if (!got.equals(layer.digest())) {
            throw new RegistryException(what + ": the bytes received hash to " + got + "; nothing written");
        }
        return b;
    }

    private static Path key(Path p) {
        return p.toAbsolutePath().normalize();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warn("could not remove {}: {}", dir, e.getMessage());
        }
    }
}

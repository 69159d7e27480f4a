package dev.daxload.djl;

import ai.djl.repository.AbstractRepository;
import ai.djl.repository.Artifact;
import ai.djl.repository.MRL;
import ai.djl.repository.Metadata;
import ai.djl.repository.zoo.DefaultModelZoo;
import ai.djl.util.Progress;
import ai.djl.util.Utils;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A DJL repository over one model of a DAXFS image. The weights are never copied: the engine gets
 * views of the mapped image (see {@link ModelBinder}). The model directory DJL sees holds only the
 * model's side files (an ONNX graph without its weights, a tokenizer), extracted once into DJL's
 * cache because engines open graphs by path.
 */
final class DaxfsRepository extends AbstractRepository {
    private final DaxfsUri target;
    private volatile Resolved resolved;

    /** What opening the image told us, computed once. */
    private record Resolved(String model, ModelManifest manifest, DaxfsArtifact artifact, Path modelDir) {}

    DaxfsRepository(String name, URI uri) {
        super(name, uri);
        this.target = DaxfsUri.parse(uri, arguments);
    }

    DaxfsUri target() {
        return target;
    }

    private Resolved resolved() {
        Resolved r = resolved;
        if (r != null) {
            return r;
        }
        synchronized (this) {
            if (resolved == null) {
                try {
                    resolved = resolve();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return resolved;
        }
    }

    private Resolved resolve() throws IOException {
        try (SharedImages.Lease lease = SharedImages.acquire(target.image(), target.mapOptions())) {
            DaxImage image = lease.image();
            String model = target.model();
            if (model == null) {
                List<String> models = ModelCatalog.models(image);
                if (models.size() != 1) {
                    throw new IOException(target.image() + ": holds " + (models.isEmpty() ? "no model" : "models " + models)
                            + "; name one with ?model=NAME");
                }
                model = models.get(0);
            }
            ModelManifest manifest = ModelCatalog.load(image, model);
            Path dir = extractSideFiles(image, model, manifest);
            DaxfsArtifact artifact = new DaxfsArtifact(this, model, manifest);
            return new Resolved(model, manifest, artifact, dir);
        }
    }

    /**
     * Copies the model's side files (never its tensors) to DJL's cache, keyed by the image's identity,
     * so a changed image gets a fresh directory.
     */
    private Path extractSideFiles(DaxImage image, String model, ModelManifest manifest) throws IOException {
        Path real = target.image().toRealPath();
        String key = real + "|" + Files.size(real) + "|" + Files.getLastModifiedTime(real).toMillis();
        String digest;
        try {
            digest = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8))).substring(0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
        Path dir = getCacheDirectory().resolve(digest).resolve(model);
        Path marker = dir.resolve(".complete");
        if (Files.exists(marker)) {
            return dir;
        }
        Files.createDirectories(dir);
        for (String file : manifest.files()) {
            if (!file.startsWith("files/") || file.contains("/../") || file.endsWith("/..")) {
                throw new IOException(image.source() + ": model '" + model + "' lists side file '" + file + "' outside files/");
            }
            DaxInode inode = image.resolve(model + "/" + file);
            Path out = dir.resolve(file.substring("files/".length())).normalize();
            if (!out.startsWith(dir)) {
                throw new IOException(image.source() + ": side file '" + file + "' would land outside " + dir);
            }
            Files.createDirectories(out.getParent());
            Path tmp = Files.createTempFile(out.getParent(), ".extract", ".tmp");
            Files.write(tmp, image.content(inode).toArray(ValueLayout.JAVA_BYTE));
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.writeString(marker, key);
        return dir;
    }

    String modelName() {
        return resolved().model();
    }

    @Override
    public boolean isRemote() {
        return false;
    }

    @Override
    public Metadata locate(MRL mrl) {
        Resolved r = resolved();
        Metadata metadata = new Metadata.MatchAllMetadata();
        metadata.setRepositoryUri(URI.create(""));
        metadata.setArtifactId(r.model());
        metadata.setArtifacts(List.of(r.artifact()));
        r.artifact().setMetadata(metadata);
        return metadata;
    }

    @Override
    public Artifact resolve(MRL mrl, Map<String, String> filter) {
        return locate(mrl).getArtifacts().get(0);
    }

    @Override
    public Path getResourceDirectory(Artifact artifact) {
        return resolved().modelDir();
    }

    @Override
    public void prepare(Artifact artifact, Progress progress) {
        resolved(); // side files are extracted on resolve; weights are never copied
    }

    @Override
    public Path getCacheDirectory() throws IOException {
        Path dir = Utils.getCacheDir().resolve("daxfs");
        Files.createDirectories(dir);
        return dir;
    }

    @Override
    protected URI resolvePath(Artifact.Item item, String path) {
        return resolved().modelDir().resolve(item.getName()).toUri();
    }

    @Override
    public List<MRL> getResources() {
        return List.of(MRL.undefined(this, DefaultModelZoo.GROUP_ID, resolved().model()));
    }

    @Override
    public String toString() {
        return "daxfs repository " + uri;
    }
}

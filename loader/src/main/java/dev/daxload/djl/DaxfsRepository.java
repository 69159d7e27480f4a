package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
import ai.djl.engine.Engine;
import ai.djl.repository.AbstractRepository;
import ai.djl.repository.Artifact;
import ai.djl.repository.MRL;
import ai.djl.repository.Metadata;
import ai.djl.repository.zoo.DefaultModelZoo;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.util.Progress;
import ai.djl.util.Utils;
import dev.daxload.djl.onnx.internal.OrtEngineHeadStart;
import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.DaxFileReader;
import dev.daxload.image.internal.ImageFiles;
import dev.daxload.image.MapOptions;
import dev.daxload.image.internal.Mmap;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.internal.ManifestPrefetch;
import java.io.IOException;
import java.lang.ref.Cleaner;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A DJL repository over the models of a DAXFS image. The weights are never copied: the engine gets
 * views of the mapped image (see {@link ModelBinder}). The model directory DJL sees holds only the
 * model's side files (an ONNX graph without its weights, a tokenizer), written per load into a
 * temporary directory that the loaded model removes when it closes (see {@link SideFiles}).
 *
 * <p><b>Mappings.</b> Nothing is opened while DJL builds its model zoo unless the URL names
 * no model (the image is then listed, so that {@code Criteria.optModelName} can choose one of several;
 * with neither, an image of several models is refused by name rather than one picked); the image is mapped
 * for resolving a load (or for that listing) as {@link #metadataOptions} says (as the URL asks, where that costs
 * no more than read-only) and that mapping is handed to the load's {@link ModelBinder}, which uses it for the
 * weights too: one mapping per load. Only where the URL's mapping would need FFM's linker (copy-on-write of a file
 * this process cannot write) is a load resolved over a read-only mapping that the binding replaces. A mapping that no load
 * took (a load that failed before binding, a {@code Criteria} never loaded) is released when the next
 * load takes it or when this repository is garbage. A load of ONNX Runtime's own form from the image maps
 * nothing at all ({@link #resolveLight}): ORT maps the form's bytes from the file itself.
 *
 * <p><b>Errors as DJL reports them.</b> An image that is missing or unreadable, or a model it does
 * not hold, is a {@link ModelNotFoundException} from {@code Criteria.loadModel()} whose cause names the
 * image and the reason, as DJL does for its own URLs.
 */
final class DaxfsRepository extends AbstractRepository {
    private static final Logger LOG = LoggerFactory.getLogger(DaxfsRepository.class);
    private static final Cleaner CLEANER = Cleaner.create();

    private final DaxfsUri target;
    private final PendingLease pending = new PendingLease();
    private final Map<String, Resolved> resolved = new ConcurrentHashMap<>();
    private volatile List<String> listed; // the image's models when the URL named none
    private final boolean ort; // ONNX Runtime's engine is on the class path

    /**
     * What opening the image told us about one model, computed once.
     *
     * @param engine the DJL engine the model's source format calls for
     * @param sideFiles the model's side files ({@code files/...})
     * @param light read without mapping the image (see {@link #resolveLight}): the manifest was neither parsed nor
     *     checked against the image, which only a load that goes on to read tensors does (it maps and validates then)
     */
    private record Resolved(String model, String engine, List<String> sideFiles, DaxfsArtifact artifact, boolean light) {}

    DaxfsRepository(String name, URI uri) {
        super(name, uri);
        this.target = DaxfsUri.parse(uri, arguments);
        this.ort = Engine.hasEngine("OnnxRuntime");
        PendingLease p = pending; // the cleaning action must not hold this repository
        CLEANER.register(this, p::release);
    }

    DaxfsUri target() {
        return target;
    }

    /**
     * The mapping made while resolving, for the load that follows, or null when there is none (a second
     * load of the same {@code Criteria} maps afresh). The caller owns the lease it gets.
     */
    SharedImages.Lease takePendingLease() {
        return pending.take();
    }

    /**
     * How the image is mapped to resolve a load (manifest, side files, ORT's form). Where the URL's own mapping is
     * as cheap as a read-only one (read-only, or copy-on-write of a file this process may write: the JDK maps both
     * without FFM's native linker, whose first downcall costs ~100 ms of CPU in a fresh JVM), that mapping: the load
     * then maps the image once. Otherwise read-only, and a load that hands weights to an engine maps them as the URL
     * asks when it binds ({@link ModelBinder}); a load of ORT's form from the image needs no other mapping.
     */
    static MapOptions metadataOptions(DaxfsUri target) {
        MapOptions asked = target.mapOptions();
        boolean cheap = asked.sharing() == MapOptions.Sharing.READ_ONLY
                || asked.sharing() == MapOptions.Sharing.COPY_ON_WRITE && Mmap.copyOnWriteWithoutLinker(target.image());
        return cheap ? asked : MapOptions.readOnly();
    }

    /** Holds at most one lease between resolution and the binding that takes it. */
    private static final class PendingLease {
        private SharedImages.Lease lease; // guarded by this

        synchronized DaxImage image(DaxfsUri target) throws IOException {
            if (lease == null) {
                lease = SharedImages.acquire(target.image(), metadataOptions(target));
            }
            return lease.image();
        }

        synchronized SharedImages.Lease take() {
            SharedImages.Lease l = lease;
            lease = null;
            return l;
        }

        synchronized void release() {
            if (lease != null) {
                lease.close();
                lease = null;
            }
        }
    }

    private Resolved resolved(String model) throws IOException {
        Resolved r = resolved.get(model);
        if (r != null) {
            return r;
        }
        synchronized (this) {
            r = resolved.get(model);
            if (r == null) {
                Optional<List<String>> light = resolveLight(model);
                if (light.isPresent()) {
                    r = new Resolved(model, DaxfsArtifact.ONNX_RUNTIME, light.get(),
                            new DaxfsArtifact(this, model, DaxfsArtifact.ONNX_RUNTIME, false), true);
                    resolved.put(model, r);
                    return r;
                }
                try {
                    // The manifest is read and parsed on a thread of its own while the image is mapped and
                    // validated here; its parse, if it names an ONNX model, starts ORT's engine early too.
                    ManifestPrefetch prefetch = ManifestPrefetch.start(target.image(), model);
                    if (ort) {
                        prefetch.whenParsed(m -> {
                            if (DaxfsArtifact.ONNX_RUNTIME.equals(DaxfsArtifact.engineFor(m))) {
                                OrtEngineHeadStart.begin();
                            }
                        });
                    }
                    ModelManifest manifest = ModelCatalog.load(pending.image(target), model, prefetch);
                    String engine = DaxfsArtifact.engineFor(manifest);
                    r = new Resolved(model, engine, manifest.files(),
                            new DaxfsArtifact(this, model, engine, models().size() > 1 && target.model() == null), false);
                } catch (IOException | RuntimeException e) {
                    pending.release();
                    throw e;
                }
                resolved.put(model, r);
            }
            return r;
        }
    }

    /**
     * The side files of {@code model}, read without mapping or validating the image, where the load will most likely
     * need nothing of the image but ONNX Runtime's own form and those files: ORT is on the class path, the URL names
     * this model of a regular file, asks for ORT's prepacked weights from the image and no checksums, and the model has
     * forms (made of ONNX models only). ORT then maps the form's bytes itself; daxload reads a key, a graph and the side
     * files with positional reads, each offset checked ({@link DaxFileReader}), instead of mapping the image and checking
     * all of it, and parsing the manifest and its every tensor (in a fresh JVM: tens of milliseconds, and the memory-access
     * classes of FFM). The side files are the files under {@code files/}, which is what the packer lists in the manifest.
     * Should the form not fit this runtime after all, the load maps and validates the image, manifest included, before
     * it reads a tensor.
     *
     * @return empty where the load takes the ordinary path (anything unexpected included: that path reports it)
     */
    private Optional<List<String>> resolveLight(String model) {
        if (!ort || !model.equals(target.model()) || target.verify() != DaxfsUri.Verify.NONE
                || target.ortPrepacked() != OrtLoadPlan.Source.IMAGE || !Files.isRegularFile(target.image())) {
            return Optional.empty();
        }
        try (DaxFileReader reader = DaxFileReader.open(target.image())) {
            ImageFiles files = ImageFiles.of(reader);
            if (!files.isRegularFile(model + "/" + ModelManifest.FILE_NAME) || !files.isDirectory(model + "/" + OrtImageForm.DIR)) {
                return Optional.empty();
            }
            // ORT's engine is what this load waits for longest: it starts now, beside the rest of this load's reading.
            OrtEngineHeadStart.begin();
            List<String> sideFiles = new ArrayList<>();
            return files.isDirectory(model + "/files") && !listSideFiles(files, model + "/", "files", sideFiles, 0)
                    ? Optional.empty() : Optional.of(sideFiles);
        } catch (IOException | RuntimeException e) {
            LOG.debug("daxfs: {}: model '{}' read the ordinary way ({})", target.image(), model, e.toString());
            return Optional.empty();
        }
    }

    /** Adds the regular files below {@code dir} to {@code out}; false at anything else (a link, too deep, too many). */
    private static boolean listSideFiles(ImageFiles files, String modelDir, String dir, List<String> out, int depth) throws IOException {
        if (depth > 32) {
            return false;
        }
        for (String name : files.list(modelDir + dir)) {
            String path = dir + "/" + name;
            if (files.isRegularFile(modelDir + path)) {
                out.add(path);
            } else if (!files.isDirectory(modelDir + path) || !listSideFiles(files, modelDir, path, out, depth + 1)) {
                return false;
            }
            if (out.size() > 4096) {
                return false;
            }
        }
        return true;
    }

    /** Whether {@code model} was resolved without mapping the image ({@link #resolveLight}). */
    boolean isLight(String model) throws IOException {
        return resolved(model).light();
    }

    /** Whether {@code model} of the image is an ONNX model (ONNX Runtime's to load). */
    boolean isOnnxModel(String model) throws IOException {
        return DaxfsArtifact.ONNX_RUNTIME.equals(resolved(model).engine());
    }

    /**
     * The side-file directory of a load of {@code a} on this thread: the model's {@code files/} on the mount
     * the URL names, or a directory written now that the load's model removes when it closes.
     */
    Path sideFiles(DaxfsArtifact a) throws IOException {
        Resolved r = resolved(a.model());
        Optional<Path> onMount = MountedSideFiles.of(target.image(), a.model(), r.sideFiles());
        if (onMount.isPresent()) {
            return onMount.get(); // served by the mount itself: nothing written, nothing to remove
        }
        if (r.light()) {
            try (DaxFileReader reader = DaxFileReader.open(target.image())) {
                return a.binder().sideFiles(SideFiles.write(ImageFiles.of(reader), a.model(), r.sideFiles()));
            } catch (IOException | RuntimeException e) {
                // a symbolic link among them, say, which only the mapped image follows: that path reports what is wrong
                LOG.debug("daxfs: {}: side files of '{}' read the ordinary way ({})", target.image(), a.model(), e.toString());
            }
        }
        return a.binder().sideFiles(SideFiles.write(ImageFiles.of(pending.image(target)), a.model(), r.sideFiles()));
    }

    /** The models of the image: the URL's one, or every model the image holds. */
    private List<String> models() throws IOException {
        if (target.model() != null) {
            return List.of(target.model());
        }
        List<String> m = listed;
        if (m == null) {
            m = ModelCatalog.models(pending.image(target));
            if (m.isEmpty()) {
                throw new IOException(target.image() + ": holds no model (no directory with a " + ModelManifest.FILE_NAME + ")");
            }
            listed = m;
        }
        return m;
    }

    /** Why a load failed, in words: file-system exceptions carry only the path as their message. */
    private static String reason(Exception e) {
        if (e instanceof java.nio.file.NoSuchFileException x) {
            return "no such file: " + x.getFile();
        }
        if (e instanceof java.nio.file.AccessDeniedException x) {
            return "permission denied: " + x.getFile();
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    /** The models listed when the URL named none (empty if not listed). */
    List<String> listedModels() {
        List<String> m = listed;
        return m == null ? List.of() : m;
    }

    /** The model name to show DJL when the image cannot be read yet: its file name. */
    private String fallbackName() {
        String n = target.image().getFileName() == null ? "daxfs" : target.image().getFileName().toString();
        return n.endsWith(".daxfs") ? n.substring(0, n.length() - ".daxfs".length()) : n;
    }

    @Override
    public boolean isRemote() {
        return false;
    }

    @Override
    public Metadata locate(MRL mrl) throws IOException {
        Resolved r;
        try {
            r = resolved(mrl.getArtifactId());
        } catch (IOException | RuntimeException e) {
            // DJL's Criteria.loadModel reports a model it cannot find as ModelNotFoundException and goes
            // on to its next loader; Repository.locate can only declare IOException, hence the rethrow.
            ModelNotFoundException notFound = new ModelNotFoundException("daxfs: cannot load model '" + mrl.getArtifactId()
                    + "' from " + target.image() + ": " + reason(e), e);
            throw Sneaky.<RuntimeException>rethrow(notFound);
        }
        Metadata metadata = new Metadata.MatchAllMetadata();
        metadata.setRepositoryUri(URI.create(""));
        metadata.setArtifactId(r.model());
        metadata.setArtifacts(List.of(r.artifact()));
        r.artifact().setMetadata(metadata);
        return metadata;
    }

    @Override
    public Artifact resolve(MRL mrl, Map<String, String> filter) throws IOException {
        return locate(mrl).getArtifacts().get(0);
    }

    /**
     * A fresh directory of the model's side files for each load, which the load's model removes when it
     * closes; or, when the URL names a daxfs mount directory, the model's {@code files/} on the mount.
     */
    @Override
    public Path getResourceDirectory(Artifact artifact) throws IOException {
        DaxfsArtifact a = (DaxfsArtifact) artifact;
        Path early = a.binder().takeEarlySideFiles();
        if (early != null) {
            return early; // written while ONNX Runtime's engine started (DaxfsArtifact.getOptions)
        }
        try {
            return sideFiles(a);
        } catch (IOException | RuntimeException e) {
            pending.release(); // this load ends here: keep nothing mapped for it
            throw e;
        }
    }

    @Override
    public void prepare(Artifact artifact, Progress progress) {
        // nothing to download: side files are written per load, weights are never copied
    }

    /** Where DJL would cache downloads; this repository writes nothing there. */
    @Override
    public Path getCacheDirectory() {
        return Utils.getCacheDir().resolve("daxfs");
    }

    @Override
    protected URI resolvePath(Artifact.Item item, String path) {
        return target.image().toUri();
    }

    /**
     * One resource per model: the URL's model, or every model of the image (opened now, and that mapping
     * kept for the load). An image that cannot be read lists one resource, so that the error comes from
     * {@code loadModel()} as a {@link ModelNotFoundException} rather than from building the criteria.
     */
    @Override
    public List<MRL> getResources() {
        List<String> models;
        try {
            models = models();
        } catch (IOException | RuntimeException e) {
            LOG.debug("daxfs: {} cannot be listed now ({}); loadModel will say why", target.image(), e.toString());
            pending.release();
            models = List.of(fallbackName());
        }
        if (models.size() > 1) {
            LOG.debug("daxfs: {} holds models {}; a load chooses one with ?model= or Criteria.optModelName", target.image(), models);
        }
        return models.stream().map(m -> MRL.undefined(this, DefaultModelZoo.GROUP_ID, m)).toList();
    }

    @Override
    public String toString() {
        return "daxfs repository " + uri;
    }

    /** Throws a checked exception where the signature cannot declare it. */
    private static final class Sneaky {
        @SuppressWarnings("unchecked")
        static <T extends Throwable> T rethrow(Throwable t) throws T {
            throw (T) t;
        }
    }
}

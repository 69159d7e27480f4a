package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.daxload.djl.onnx.internal.OrtEngineHeadStart;
import dev.daxload.djl.onnx.internal.OrtInitializers;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.internal.DaxFileReader;
import dev.daxload.model.ModelWeights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DJL's {@code blockFactory} hook, which sees the {@link Model} before the engine loads it: maps the
 * image (or joins its mapping), ties the mapping's lifetime to the model's {@code NDManager} (closing
 * the model releases it), checks checksums as asked, and hands the weights to the engine as views.
 *
 * <ul>
 *   <li>ONNX Runtime: every tensor becomes an initializer over the image's memory, in the
 *       {@code SessionOptions} that {@link DaxfsArtifact} put in the load options; no block.
 *   <li>PyTorch: a block built by the architecture the caller names (argument {@code daxfs.block}: a
 *       {@link BlockFactory}, or its class name) whose parameters are bound to views by name (argument
 *       {@code daxfs.names}: a {@code Map} from block parameter names to tensor names where they differ).
 * </ul>
 */
final class ModelBinder implements BlockFactory {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ModelBinder.class);
    /** Names of what a load attaches to its model's NDManager: unique in this JVM (no UUID: its SecureRandom costs a fresh JVM milliseconds). */
    private static final AtomicLong RESOURCE_IDS = new AtomicLong();

    private final DaxfsUri target;
    private final String model;
    private final boolean chosenByName;
    private final transient DaxfsRepository repository;
    private final transient ThreadLocal<SessionOptions> pending = new ThreadLocal<>();
    private final transient ThreadLocal<Path> sideFiles = new ThreadLocal<>();
    private final transient ThreadLocal<OrtLoadPlan> pendingOrt = new ThreadLocal<>();
    private final transient ThreadLocal<Path> earlySideFiles = new ThreadLocal<>();

    /**
     * @param chosenByName several models in the image, none in the URL: a load whose model name is not
     *     this model's is refused with {@link ModelNotFoundException}, so DJL tries the next model, and a
     *     load with no model name is refused naming the models
     */
    ModelBinder(DaxfsRepository repository, String model, boolean chosenByName) {
        this.repository = repository;
        this.target = repository.target();
        this.model = model;
        this.chosenByName = chosenByName;
    }

    /** Notes the side-file directory written for the load running on this thread, which newBlock hands to the model. */
    Path sideFiles(Path dir) {
        Path stale = sideFiles.get();
        if (stale != null) {
            SideFiles.delete(stale); // an earlier load on this thread failed before reaching newBlock
        }
        sideFiles.set(dir);
        return dir;
    }

    /** Notes the side files made for this thread's load before {@code getResourceDirectory} asks for them. */
    void earlySideFiles(Path dir) {
        earlySideFiles.set(dir);
    }

    /** The side files {@link #earlySideFiles} noted for this thread's load, once; null when none were. */
    Path takeEarlySideFiles() {
        Path dir = earlySideFiles.get();
        earlySideFiles.remove();
        return dir;
    }

    /**
     * An empty {@code SessionOptions} for the ONNX Runtime engine to load with; filled in by
     * {@link #newBlock} on the same thread, before the engine reads it. Waits for ORT's engine
     * ({@link OrtEngineHeadStart}): DJL must make ORT's environment before anyone else does.
     */
    Object pendingSessionOptions() {
        OrtEngineHeadStart.engine();
        SessionOptions options = new SessionOptions();
        SessionOptions stale = pending.get();
        if (stale != null) {
            stale.close(); // an earlier load on this thread failed before reaching newBlock
        }
        pending.set(options);
        return options;
    }

    /**
     * The part of deciding how ONNX Runtime gets this model's weights ({@link OrtLoadPlan#prepare}) that
     * needs no ORT: the image's forms read and checked against this processor, the chosen form's graph
     * written. Runs while ORT's engine starts; {@link #confirmOnnxRuntime} completes it.
     */
    void prepareOnnxRuntime() {
        OrtLoadPlan stale = pendingOrt.get();
        if (stale != null) {
            stale.close(); // an earlier load on this thread failed before reaching newBlock
            pendingOrt.remove();
        }
        if (repository != null && lightPlan()) {
            return;
        }
        OrtLoadPlan plan = null;
        SharedImages.Lease lease = null;
        try {
            lease = SharedImages.acquire(target.image(), DaxfsRepository.metadataOptions(target));
            // The plan holds the mapping until newBlock has joined it.
            plan = OrtLoadPlan.prepare(lease.image(), target.image(), model, target.ortPrepacked(), target.prepacking()).hold(lease);
        } catch (IOException | RuntimeException e) {
            if (plan != null) {
                plan.close();
            } else if (lease != null) {
                lease.close();
            }
            throw failure(e);
        }
        pendingOrt.set(plan);
    }

    /**
     * The plan made from the image file read with positional reads, where the model was resolved that way
     * ({@code DaxfsRepository.resolveLight}): no mapping is made for it, and none is held.
     *
     * @return false where the forms could not be read so (the mapped image's path then reports what is wrong)
     */
    private boolean lightPlan() {
        try {
            if (!repository.isLight(model)) {
                return false;
            }
            pendingOrt.set(OrtLoadPlan.prepare(DaxFileReader.open(target.image()), model, target.ortPrepacked(), target.prepacking()));
            return true;
        } catch (IOException | RuntimeException e) {
            LOG.debug("daxfs: {}: ONNX Runtime's forms of '{}' read the ordinary way ({})", target.image(), model, e.toString());
            return false;
        }
    }

    /**
     * Completes the plan {@link #prepareOnnxRuntime} made, now that ORT's engine is up (the form's ORT
     * version is compared with the running one).
     *
     * @return the image's optimized graph for the engine to open, or null when the tensors are used
     */
    String confirmOnnxRuntime() {
        OrtLoadPlan plan = pendingOrt.get();
        if (plan == null) {
            throw new IllegalStateException("daxfs: no ONNX Runtime plan prepared on this thread");
        }
        try {
            plan.confirm();
        } catch (IOException | RuntimeException e) {
            pendingOrt.remove();
            plan.close();
            throw failure(e);
        }
        return plan.usesImageForm() ? plan.graph().toString() : null;
    }

    private RuntimeException failure(Exception e) {
        return e instanceof IOException io
                ? new java.io.UncheckedIOException(target.image() + ": model '" + model + "': " + e.getMessage(), io)
                : (RuntimeException) e;
    }

    @Override
    public Block newBlock(Model djlModel, Path modelPath, Map<String, ?> arguments) throws IOException {
        long t0 = System.nanoTime();
        Path dir = sideFiles.get();
        sideFiles.remove();
        if (dir != null) {
            djlModel.getNDManager().attachInternal("daxfs-side-files-" + RESOURCE_IDS.incrementAndGet(), () -> SideFiles.delete(dir));
        }
        if (chosenByName && !model.equals(djlModel.getName())) {
            // DJL's Criteria goes on to the image's next model on ModelNotFoundException; the mapping made
            // for resolving stays for that model's load, unless no model of the image has the name.
            List<String> models = repository.listedModels();
            String wanted = djlModel.getName();
            if (wanted == null || wanted.equals(DaxfsArtifact.UNNAMED)) {
                SharedImages.Lease unused = repository.takePendingLease();
                if (unused != null) {
                    unused.close();
                }
                throw Sneaky.<RuntimeException>rethrow(new ModelNotFoundException("daxfs: " + target.image() + " holds models "
                        + String.join(", ", models) + "; name one with ?model=NAME in the URL or Criteria.optModelName(NAME)"));
            }
            if (!models.contains(wanted)) {
                SharedImages.Lease unused = repository.takePendingLease();
                if (unused != null) {
                    unused.close();
                }
                throw Sneaky.<RuntimeException>rethrow(new ModelNotFoundException("daxfs: " + target.image() + ": no model '"
                        + djlModel.getName() + "'; models here: " + String.join(", ", models)));
            }
            throw Sneaky.<RuntimeException>rethrow(new ModelNotFoundException("daxfs: " + target.image() + ": model '" + model
                    + "' is not the one asked for ('" + djlModel.getName() + "')"));
        }
        // The read-only mapping made while resolving this load (DaxfsRepository.metadataOptions); the weights
        // an engine gets are mapped as the URL asks, which ORT's form from the image does not need.
        SharedImages.Lease taken = repository == null ? null : repository.takePendingLease();
        String engine = djlModel.getNDManager().getEngine().getEngineName();
        OrtLoadPlan ortPlan = "OnnxRuntime".equals(engine) ? pendingOrt.get() : null;
        if (!"OnnxRuntime".equals(engine) && (pendingOrt.get() != null || pending.get() != null)) {
            releaseOrtPreparations(); // an ONNX model loaded by another engine: nothing prepared for ORT is used
        }
        // ORT's form from the image needs no tensor views: none are made unless checksums are asked for.
        boolean formOnly = ortPlan != null && ortPlan.usesImageForm() && target.verify() == DaxfsUri.Verify.NONE;
        // ORT's form maps what it needs itself: the load keeps a mapping only where one was made while resolving it.
        SharedImages.Lease lease;
        try {
            lease = formOnly ? taken : SharedImages.acquire(target.image(), target.mapOptions());
        } catch (IOException | RuntimeException e) {
            if (taken != null) {
                taken.close();
            }
            throw e;
        }
        if (taken != null && taken != lease) {
            taken.close(); // the weights' mapping is made (or joined, when it is the same): the metadata one goes
        }
        try {
            if (lease != null) {
                djlModel.getNDManager().attachInternal("daxfs-image-" + RESOURCE_IDS.incrementAndGet(), lease);
            }
            ModelWeights weights = formOnly ? null : ModelWeights.of(lease.image(), model);
            if (weights != null) {
                verify(weights);
                DaxfsModels.register(djlModel, weights);
            } else {
                // Asked for later (DaxfsModels.weights): views of a mapping made as the URL asks, released with the model.
                DaxfsModels.register(djlModel, () -> {
                    SharedImages.Lease w = SharedImages.acquire(target.image(), target.mapOptions());
                    djlModel.getNDManager().attachInternal("daxfs-image-" + RESOURCE_IDS.incrementAndGet(), w);
                    return ModelWeights.of(w.image(), model);
                });
            }
            Block block = switch (engine) {
                case "OnnxRuntime" -> {
                    if (weights != null && target.verify() == DaxfsUri.Verify.BACKGROUND) {
                        CorruptWeightsGuard.install(djlModel, weights); // a failed check then refuses predictions
                    }
                    SessionOptions options = pending.get();
                    pending.remove();
                    if (options == null) {
                        if (ortPlan == null && repository != null && !repository.isOnnxModel(model)) {
                            throw new IOException("daxfs: " + target.image() + ": model '" + model
                                    + "' is not an ONNX model: ONNX Runtime cannot load it (load it with the PyTorch engine)");
                        }
                        throw new IOException("daxfs: no SessionOptions reached the ONNX Runtime engine (load through Criteria with a daxfs: URL)");
                    }
                    OrtLoadPlan plan = ortPlan;
                    pendingOrt.remove();
                    if (plan != null && plan.usesImageForm()) {
                        if (djlModel.getName().equals(plan.graph().toString())) {
                            // ORT maps the form's weights and prepacked blobs from the image file itself. ORT's
                            // optimizers run again at its default level, though the graph is their output: switched
                            // off (NO_OPT) they saved 4-5 ms of session creation, but serving at seq 128 measured
                            // 1.02-1.17x slower in three A/B runs (docs/benchmarks.md), so they stay as ORT has them.
                            djlModel.getNDManager().attachInternal("daxfs-ort-" + RESOURCE_IDS.incrementAndGet(), plan, options);
                            yield null;
                        }
                        LOG.warn("daxfs: model '{}': the model name '{}' set on the Criteria replaces the image's ONNX Runtime form;"
                                + " using the tensors", model, djlModel.getName());
                    }
                    boolean prepacking = plan != null && !plan.usesImageForm() ? plan.prepacking() : target.prepacking();
                    if (plan != null) {
                        plan.close(); // this load holds its own lease on the mapping now
                    }
                    ModelWeights tensors = weights;
                    if (tensors == null) { // the form was planned but is not used: map the weights as the URL asks
                        SharedImages.Lease w = SharedImages.acquire(target.image(), target.mapOptions());
                        djlModel.getNDManager().attachInternal("daxfs-image-" + RESOURCE_IDS.incrementAndGet(), w);
                        tensors = ModelWeights.of(w.image(), model);
                    }
                    OrtInitializers init = OrtInitializers.supply(tensors, options, prepacking);
                    // Closed with the model: the session is closed first (it was created later, DJL closes in reverse).
                    djlModel.getNDManager().attachInternal("daxfs-ort-" + RESOURCE_IDS.incrementAndGet(), init, options);
                    yield null;
                }
                case "PyTorch" -> PtParameterBinding.bind(djlModel, modelPath, arguments, weights, target.views());
                default -> throw new IOException("daxfs: engine " + engine + " is not supported; use OnnxRuntime or PyTorch");
            };
            LOG.debug("daxfs: bound {} tensors of '{}' in {} us", weights == null ? "ORT's form, no" : weights.tensors().size(),
                    model, (System.nanoTime() - t0) / 1000);
            return block;
        } catch (IOException | RuntimeException e) {
            if (lease != null) {
                lease.close();
            }
            throw e;
        }
    }

    /**
     * Closes the ORT plan (and the mapping it holds) and the {@code SessionOptions} that {@link DaxfsArtifact#getOptions}
     * made for this thread's load, which was an ONNX model's and is bound for another engine (PyTorch, say).
     */
    private void releaseOrtPreparations() {
        OrtLoadPlan plan = pendingOrt.get();
        pendingOrt.remove();
        if (plan != null) {
            plan.close();
        }
        SessionOptions options = pending.get();
        pending.remove();
        if (options != null) {
            options.close();
        }
    }

    /** Throws a checked exception where the signature cannot declare it. */
    private static final class Sneaky {
        @SuppressWarnings("unchecked")
        static <T extends Throwable> T rethrow(Throwable t) throws T {
            throw (T) t;
        }
    }

    private void verify(ModelWeights weights) throws IOException {
        switch (target.verify()) {
            case NONE -> {}
            case EAGER -> {
                List<String> bad = weights.verify();
                if (!bad.isEmpty()) {
                    throw new IOException(target.image() + ": model '" + model + "': " + bad.size() + " tensors fail their checksum: " + bad.get(0));
                }
            }
            case BACKGROUND -> weights.verifyInBackground(new AtomicLong()).whenComplete((bad, err) -> {
                if (err != null) {
                    LOG.warn("daxfs: background verification of '{}' stopped: {}", model, err.toString());
                } else if (!bad.isEmpty()) {
                    LOG.error("daxfs: model '{}' in {}: {} tensors fail their checksum, first: {}", model, target.image(), bad.size(), bad.get(0));
                } else {
                    LOG.info("daxfs: model '{}': every tensor matches its checksum", model);
                }
            });
        }
    }
}

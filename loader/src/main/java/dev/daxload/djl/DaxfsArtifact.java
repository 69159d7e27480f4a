package dev.daxload.djl;

import ai.djl.engine.Engine;
import ai.djl.repository.Artifact;
import dev.daxload.manifest.ModelManifest;
import java.io.IOException;
import java.util.Map;

/**
 * The one artifact of a {@link DaxfsRepository}. Its arguments carry the {@link ModelBinder} (DJL's
 * {@code blockFactory} hook, which sees the model before it loads) and the engine the source format
 * calls for; its options carry what the engine's {@code load} reads.
 */
final class DaxfsArtifact extends Artifact {
    /** The artifact name of a model that must be named: DJL then loads under no name unless Criteria gives one. */
    static final String UNNAMED = "";
    /** DJL's name of the ONNX Runtime engine. */
    static final String ONNX_RUNTIME = "OnnxRuntime";

    private final transient ModelBinder binder;
    private final String model;
    private final transient DaxfsRepository repository;

    /**
     * @param engine the DJL engine the model's source format calls for ({@link #engineFor})
     * @param chosenByName the image holds several models and the URL names none: the load's model name
     *     ({@code Criteria.optModelName}) must be this one, or the load moves on to the next model
     */
    DaxfsArtifact(DaxfsRepository repository, String model, String engine, boolean chosenByName) {
        // DJL names the loaded model after the artifact unless Criteria.optModelName says otherwise; where
        // the user must choose, the artifact has no name, so that "no choice made" shows in ModelBinder.
        setName(chosenByName ? UNNAMED : model);
        this.model = model;
        binder = new ModelBinder(repository, model, chosenByName);
        getArguments().put("blockFactory", binder);
        this.repository = repository;
        getArguments().put("engine", engine);
    }

    /** The DJL engine that loads a model of this manifest's source format: ONNX Runtime for ONNX, else PyTorch. */
    static String engineFor(ModelManifest manifest) {
        String format = manifest.source().has("format") ? manifest.source().get("format").getAsString() : "";
        return format.contains("onnx") ? ONNX_RUNTIME : "PyTorch";
    }

    /** The model of the image this artifact stands for. */
    String model() {
        return model;
    }

    ModelBinder binder() {
        return binder;
    }

    /**
     * Adds the options the daxfs loading path needs. ONNX Runtime's {@code load} takes a
     * {@code SessionOptions} object under {@code "sessionOptions"}: DJL types options as strings, but
     * the map is only read, so an object travels through it; {@link ModelBinder} fills it in (weights
     * as initializers) before the engine creates its session.
     *
     * <p>DJL asks for the options before the resource directory and before it makes the engine. For an
     * ONNX model, everything of the load that needs no ONNX Runtime (the plan for ORT's form, the side
     * files) is done here first, while ORT's engine starts on its own thread
     * ({@link dev.daxload.djl.onnx.internal.OrtEngineHeadStart}), and only then is the engine waited for.
     */
    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Map<String, String> getOptions(Map<String, String> override) {
        Map<String, String> options = super.getOptions(override);
        // PyTorch: the block's parameters are views bound by ModelBinder; there is no parameter file.
        options.putIfAbsent("hasParameter", "false");
        binder.takeEarlySideFiles(); // one an earlier load on this thread noted and never used
        if (ONNX_RUNTIME.equals(getArguments().get("engine")) && Engine.hasEngine(ONNX_RUNTIME)) {
            binder.prepareOnnxRuntime();
            try {
                binder.earlySideFiles(repository.sideFiles(this));
            } catch (IOException | RuntimeException e) {
                // getResourceDirectory writes them again and reports the failure where DJL expects it
            }
            ((Map) options).put("sessionOptions", binder.pendingSessionOptions());
            // DJL takes the model file's name from the options ("modelName"); an absolute path wins
            // over the model directory, so ONNX Runtime opens the image's optimized graph when it is used.
            String graph = binder.confirmOnnxRuntime();
            if (graph != null) {
                options.put("modelName", graph);
            }
        }
        return options;
    }
}

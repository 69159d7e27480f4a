package dev.daxload.djl;

import ai.djl.repository.Artifact;
import dev.daxload.manifest.ModelManifest;
import java.util.Map;

/**
 * The one artifact of a {@link DaxfsRepository}. Its arguments carry the {@link ModelBinder} (DJL's
 * {@code blockFactory} hook, which sees the model before it loads) and the engine the source format
 * calls for; its options carry what the engine's {@code load} reads.
 */
final class DaxfsArtifact extends Artifact {
    /** The artifact name of a model that must be named: DJL then loads under no name unless Criteria gives one. */
    static final String UNNAMED = "";

    private final transient ModelBinder binder;
    private final String model;

    /**
     * @param chosenByName the image holds several models and the URL names none: the load's model name
     *     ({@code Criteria.optModelName}) must be this one, or the load moves on to the next model
     */
    DaxfsArtifact(DaxfsRepository repository, String model, ModelManifest manifest, boolean chosenByName) {
        // DJL names the loaded model after the artifact unless Criteria.optModelName says otherwise; where
        // the user must choose, the artifact has no name, so that "no choice made" shows in ModelBinder.
        setName(chosenByName ? UNNAMED : model);
        this.model = model;
        binder = new ModelBinder(repository, model, chosenByName);
        getArguments().put("blockFactory", binder);
        String format = manifest.source().has("format") ? manifest.source().get("format").getAsString() : "";
        getArguments().put("engine", format.contains("onnx") ? "OnnxRuntime" : "PyTorch");
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
     */
    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Map<String, String> getOptions(Map<String, String> override) {
        Map<String, String> options = super.getOptions(override);
        // PyTorch: the block's parameters are views bound by ModelBinder; there is no parameter file.
        options.putIfAbsent("hasParameter", "false");
        Object sessionOptions = binder.pendingSessionOptions();
        if (sessionOptions != null) {
            ((Map) options).put("sessionOptions", sessionOptions);
            if ("OnnxRuntime".equals(getArguments().get("engine"))) {
                // DJL takes the model file's name from the options ("modelName"); an absolute path wins
                // over the model directory, so ONNX Runtime opens the image's optimized graph when it is used.
                String graph = binder.planOnnxRuntime();
                if (graph != null) {
                    options.put("modelName", graph);
                }
            }
        }
        return options;
    }
}

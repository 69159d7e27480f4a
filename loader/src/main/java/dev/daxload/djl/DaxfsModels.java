package dev.daxload.djl;

import ai.djl.Model;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.model.ModelWeights;
import java.util.Map;
import java.util.Optional;
import java.util.WeakHashMap;

/**
 * From a model loaded through a {@code daxfs:} URL to the image behind it: its {@link ModelWeights}
 * (every tensor as a view, the manifest) and through them its lookup tables.
 *
 * <pre>{@code
 * try (ZooModel<String, float[]> model = criteria.loadModel()) {
 *     ModelWeights w = DaxfsModels.weights(model).orElseThrow();
 *     LookupTable vocab = w.table("vocab");              // answered in place from the image
 * }
 * }</pre>
 *
 * <p>The weights are valid while the model is open; closing the model unmaps the image, and the entry
 * goes with it.
 */
public final class DaxfsModels {
    private static final Map<Model, ModelWeights> WEIGHTS = new WeakHashMap<>(); // guarded by itself

    private DaxfsModels() {}

    /**
     * The weights of {@code model} if it was loaded from a {@code daxfs:} URL and is open; empty
     * otherwise. A {@link ZooModel} is looked through to the model it wraps.
     */
    public static Optional<ModelWeights> weights(Model model) {
        Model m = model instanceof ZooModel<?, ?> z ? z.getWrappedModel() : model;
        synchronized (WEIGHTS) {
            return Optional.ofNullable(WEIGHTS.get(m));
        }
    }

    static void register(Model model, ModelWeights weights) {
        synchronized (WEIGHTS) {
            WEIGHTS.put(model, weights);
        }
        // Forgotten when the model closes: its manager closes its attached resources.
        model.getNDManager().attachInternal("daxfs-weights-entry-" + System.identityHashCode(weights), () -> {
            synchronized (WEIGHTS) {
                WEIGHTS.remove(model, weights);
            }
        });
    }
}

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
    private static final Map<Model, Lazy> WEIGHTS = new WeakHashMap<>(); // guarded by itself

    /** Weights made on first request: a load that needs no tensor views (ONNX Runtime's form from the image) makes none. */
    private static final class Lazy {
        private final java.util.concurrent.Callable<ModelWeights> make;
        private ModelWeights made;

        Lazy(java.util.concurrent.Callable<ModelWeights> make) {
            this.make = make;
        }

        synchronized ModelWeights get() {
            if (made == null) {
                try {
                    made = make.call();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            return made;
        }
    }

    private DaxfsModels() {}

    /**
     * The weights of {@code model} if it was loaded from a {@code daxfs:} URL and is open; empty
     * otherwise. A {@link ZooModel} is looked through to the model it wraps.
     *
     * @throws java.io.UncheckedIOException if the weights were not made at load and reading the manifest now fails
     */
    public static Optional<ModelWeights> weights(Model model) {
        Model m = model instanceof ZooModel<?, ?> z ? z.getWrappedModel() : model;
        Lazy lazy;
        synchronized (WEIGHTS) {
            lazy = WEIGHTS.get(m);
        }
        return lazy == null ? Optional.empty() : Optional.of(lazy.get());
    }

    static void register(Model model, ModelWeights weights) {
        register(model, () -> weights);
    }

    static void register(Model model, java.util.concurrent.Callable<ModelWeights> weights) {
        Lazy lazy = new Lazy(weights);
        synchronized (WEIGHTS) {
            WEIGHTS.put(model, lazy);
        }
        // Forgotten when the model closes: its manager closes its attached resources.
        model.getNDManager().attachInternal("daxfs-weights-entry-" + System.identityHashCode(lazy), () -> {
            synchronized (WEIGHTS) {
                WEIGHTS.remove(model, lazy);
            }
        });
    }
}

package dev.daxload.djl;

import ai.djl.Model;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDManager;
import dev.daxload.model.ModelWeights;
import java.lang.reflect.Field;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes an ONNX Runtime model refuse use once a background checksum check has failed, with the
 * {@link dev.daxload.model.CorruptWeightsException} that names the tensor, as the PyTorch route does
 * through its views ({@link GuardedPtNDArray}).
 *
 * <p>Why here: DJL builds the ONNX Runtime block inside {@code OrtModel.load}, after the daxfs block
 * factory has run, and calls nothing of ours between that and the caller's first prediction, so the
 * block cannot be wrapped. What every prediction does do, whichever {@code Predictor} runs it, is
 * {@code OrtSymbolBlock.forward} making a sub-manager of the model's {@code NDManager}, which attaches
 * itself to that manager's resource table. The guard is that table: a {@link ConcurrentHashMap} (the
 * type {@link BaseNDManager} declares for it, a protected field) that asks the weights before it takes
 * a new sub-manager (forward passes, new predictors). Other resources (the mapping's lease, the
 * initializers, a translator's tokenizer) still attach, so a load never half-fails on it: DJL does not
 * close a model whose load threw, and the model's mapping would stay. Closing, detaching and freeing go
 * on as before, so a refused model still closes cleanly. Checked against DJL 0.36.0 by {@code ChecksumVerificationTest}; if a DJL release renames
 * the field, the guard says so in the log at load.
 */
final class CorruptWeightsGuard extends ConcurrentHashMap<String, AutoCloseable> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(CorruptWeightsGuard.class);

    private final transient ModelWeights weights;

    private CorruptWeightsGuard(ModelWeights weights) {
        this.weights = weights;
    }

    /**
     * Guards {@code model}'s manager with {@code weights}: from the moment a check of the weights fails,
     * every new sub-manager of it (every forward pass, every new predictor) throws the weights' exception.
     */
    static void install(Model model, ModelWeights weights) {
        NDManager manager = model.getNDManager();
        try {
            Field f = BaseNDManager.class.getDeclaredField("resources");
            f.setAccessible(true);
            @SuppressWarnings("unchecked")
            ConcurrentHashMap<String, AutoCloseable> before = (ConcurrentHashMap<String, AutoCloseable>) f.get(manager);
            CorruptWeightsGuard guard = new CorruptWeightsGuard(weights);
            synchronized (manager) { // BaseNDManager attaches under the manager's lock
                guard.putAllUnchecked(before);
                f.set(manager, guard);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("daxfs: model '{}': cannot guard the ONNX Runtime model against a failed checksum check ({});"
                    + " a failed check will be logged only", weights.name(), e.toString());
        }
    }

    private void putAllUnchecked(java.util.Map<String, AutoCloseable> entries) {
        for (var e : entries.entrySet()) {
            super.put(e.getKey(), e.getValue());
        }
    }

    @Override
    public AutoCloseable put(String key, AutoCloseable value) {
        if (value instanceof NDManager) {
            weights.ensureUsable();
        }
        return super.put(key, value);
    }

    @Override
    public AutoCloseable putIfAbsent(String key, AutoCloseable value) {
        if (value instanceof NDManager) {
            weights.ensureUsable();
        }
        return super.putIfAbsent(key, value);
    }
}

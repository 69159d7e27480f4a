package dev.daxload.djl;

import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import dev.daxload.tensor.TensorView;

/**
 * A view's NDArray that refuses use once its weights failed a checksum check: every PyTorch op reaches
 * libtorch through {@link #getHandle()}, which first asks the tensor ({@link TensorView#ensureUsable()}),
 * so a model whose background check found a corrupt tensor throws an exception naming it instead of
 * computing with the corrupt bytes. Closing the array does not go through {@code getHandle()}, so a
 * refused array is still freed with its manager.
 */
final class GuardedPtNDArray extends PtNDArray {
    private final TensorView tensor;

    GuardedPtNDArray(PtNDManager manager, long handle, TensorView tensor) {
        super(manager, handle);
        this.tensor = tensor;
    }

    @Override
    public Long getHandle() {
        tensor.ensureUsable(); // one volatile read while the weights are sound
        return super.getHandle();
    }
}

package dev.daxload.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import dev.daxload.tensor.TensorView;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.util.function.Function;

/**
 * A view's NDArray that refuses use once its weights failed a checksum check, and, for a read-only
 * view ({@link PtTensorViews.Writes#REFUSE_IN_PLACE}), every write through DJL.
 *
 * <p>Checksums: every PyTorch op reaches libtorch through {@link #getHandle()}, which first asks the
 * tensor ({@link TensorView#ensureUsable()}), so a model whose background check found a corrupt tensor
 * throws an exception naming it instead of computing with the corrupt bytes. Closing the array does not
 * go through {@code getHandle()}, so a refused array is still freed with its manager.
 *
 * <p>Writes: a read-only view may lie in memory that the kernel maps read-only (a mount's dma-buf),
 * where libtorch writing it is a SIGSEGV that kills the JVM. Every method of DJL's {@code NDArray} that
 * writes the array's own memory (the {@code ...i} in-place ops, {@code set}, {@code setScalar}, and so
 * {@code copyTo} into it) throws {@link UnsupportedOperationException} naming the tensor and the op
 * before libtorch is called; {@link #toByteBuffer(boolean)} hands out a read-only buffer. What is not
 * covered (views derived from this one, training) is listed in {@link PtTensorViews}.
 */
final class GuardedPtNDArray extends PtNDArray {
    private final TensorView tensor;
    private final boolean readOnly;

    GuardedPtNDArray(PtNDManager manager, long handle, TensorView tensor, boolean readOnly) {
        super(manager, handle);
        this.tensor = tensor;
        this.readOnly = readOnly;
    }

    @Override
    public Long getHandle() {
        tensor.ensureUsable(); // one volatile read while the weights are sound
        return super.getHandle();
    }

    /** Whether writes through DJL are refused. */
    boolean isReadOnly() {
        return readOnly;
    }

    private void writing(String op) {
        if (readOnly) {
            throw new UnsupportedOperationException("tensor '" + tensor.name() + "' is a read-only view of the image (views=readonly,"
                    + " Writes.REFUSE_IN_PLACE): " + op + " would write the image's memory, which may be mapped read-only (a write"
                    + " there kills the JVM); use the op that returns a new array (add, not addi), or duplicate() the view first");
        }
    }

    @Override
    public ByteBuffer toByteBuffer(boolean tryDirect) {
        ByteBuffer b = super.toByteBuffer(tryDirect);
        // A direct buffer may be the tensor's memory itself: a put() would be the same SIGSEGV.
        return readOnly ? b.asReadOnlyBuffer().order(b.order()) : b;
    }

    @Override
    public void set(Buffer buffer) {
        writing("set(Buffer)");
        super.set(buffer);
    }

    @Override
    public void set(NDIndex index, NDArray value) {
        writing("set(NDIndex, NDArray)");
        super.set(index, value);
    }

    @Override
    public void set(NDIndex index, Number value) {
        writing("set(NDIndex, Number)");
        super.set(index, value);
    }

    @Override
    public void set(NDIndex index, Function<NDArray, NDArray> function) {
        writing("set(NDIndex, Function)");
        super.set(index, function);
    }

    @Override
    public void set(NDArray index, Number value) {
        writing("set(NDArray, Number)");
        super.set(index, value);
    }

    @Override
    public void setScalar(NDIndex index, Number value) {
        writing("setScalar");
        super.setScalar(index, value);
    }

    @Override
    public PtNDArray addi(Number n) {
        writing("addi");
        return super.addi(n);
    }

    @Override
    public PtNDArray addi(NDArray other) {
        writing("addi");
        return super.addi(other);
    }

    @Override
    public PtNDArray subi(Number n) {
        writing("subi");
        return super.subi(n);
    }

    @Override
    public PtNDArray subi(NDArray other) {
        writing("subi");
        return super.subi(other);
    }

    @Override
    public PtNDArray muli(Number n) {
        writing("muli");
        return super.muli(n);
    }

    @Override
    public PtNDArray muli(NDArray other) {
        writing("muli");
        return super.muli(other);
    }

    @Override
    public PtNDArray divi(Number n) {
        writing("divi");
        return super.divi(n);
    }

    @Override
    public PtNDArray divi(NDArray other) {
        writing("divi");
        return super.divi(other);
    }

    @Override
    public PtNDArray modi(Number n) {
        writing("modi");
        return super.modi(n);
    }

    @Override
    public PtNDArray modi(NDArray other) {
        writing("modi");
        return super.modi(other);
    }

    @Override
    public PtNDArray powi(Number n) {
        writing("powi");
        return super.powi(n);
    }

    @Override
    public PtNDArray powi(NDArray other) {
        writing("powi");
        return super.powi(other);
    }

    @Override
    public PtNDArray signi() {
        writing("signi");
        return super.signi();
    }

    @Override
    public PtNDArray negi() {
        writing("negi");
        return super.negi();
    }
}

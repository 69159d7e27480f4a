package dev.daxload.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
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
 * before libtorch is called; {@link #toByteBuffer(boolean)} hands out a read-only buffer. The ops that
 * give libtorch views of the same bytes ({@code reshape}, {@code transpose}, {@code swapAxes},
 * {@code flatten}, {@code squeeze}, {@code expandDims}, {@code broadcast}, {@code get}, {@code split},
 * {@code stopGradient}) hand back such arrays guarded the same way when their data lies in the tensor.
 * What is not covered (other ops that alias, training) is listed in {@link PtTensorViews}.
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

    /**
     * {@code derived} guarded as this view is, when it is a libtorch view of this view's bytes (its data
     * lies in the tensor); a copy, or anything when this view is writable, as it is. The guard takes over
     * the libtorch handle: the unguarded wrapper is detached from its manager and never closed.
     */
    private NDArray guardAlias(NDArray derived) {
        if (!readOnly || derived == this || derived instanceof GuardedPtNDArray || !(derived instanceof PtNDArray pt)
                || tensor.byteSize() == 0) {
            return derived;
        }
        long data = PtTensorViews.dataAddress(pt);
        long start = tensor.segment().address();
        if (data < start || data >= start + tensor.byteSize()) {
            return derived; // a copy: writing it is safe
        }
        PtNDManager owner = pt.getManager();
        String name = pt.getName();
        long handle = pt.getHandle();
        pt.detach();
        GuardedPtNDArray guarded = new GuardedPtNDArray(owner, handle, tensor, true);
        if (name != null) {
            guarded.setName(name);
        }
        return guarded;
    }

    private PtNDArray guardPt(PtNDArray derived) {
        return (PtNDArray) guardAlias(derived);
    }

    private NDList guardAll(NDList derived) {
        if (!readOnly) {
            return derived;
        }
        NDList out = new NDList(derived.size());
        for (NDArray a : derived) {
            out.add(guardAlias(a));
        }
        return out;
    }

    @Override
    public PtNDArray reshape(Shape shape) {
        return guardPt(super.reshape(shape));
    }

    @Override
    public PtNDArray flatten() {
        return guardPt(super.flatten());
    }

    @Override
    public NDArray flatten(int startDim, int endDim) {
        return guardAlias(super.flatten(startDim, endDim));
    }

    @Override
    public PtNDArray expandDims(int axis) {
        return guardPt(super.expandDims(axis));
    }

    @Override
    public PtNDArray squeeze() {
        return guardPt(super.squeeze());
    }

    @Override
    public PtNDArray squeeze(int axis) {
        return guardPt(super.squeeze(axis));
    }

    @Override
    public PtNDArray squeeze(int[] axes) {
        return guardPt(super.squeeze(axes));
    }

    @Override
    public PtNDArray swapAxes(int axis1, int axis2) {
        return guardPt(super.swapAxes(axis1, axis2));
    }

    @Override
    public PtNDArray transpose() {
        return guardPt(super.transpose());
    }

    @Override
    public PtNDArray transpose(int... axes) {
        return guardPt(super.transpose(axes));
    }

    @Override
    public PtNDArray broadcast(Shape shape) {
        return guardPt(super.broadcast(shape));
    }

    @Override
    public NDArray get(NDManager manager, NDIndex index) {
        return guardAlias(super.get(manager, index));
    }

    @Override
    public NDArray get(NDIndex index) {
        return guardAlias(super.get(index));
    }

    @Override
    public NDArray get(NDManager manager, long... indices) {
        return guardAlias(super.get(manager, indices));
    }

    @Override
    public NDList split(long[] indices, int axis) {
        return guardAll(super.split(indices, axis));
    }

    @Override
    public NDList split(long sections, int axis) {
        return guardAll(super.split(sections, axis));
    }

    @Override
    public NDArray stopGradient() {
        return guardAlias(super.stopGradient());
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

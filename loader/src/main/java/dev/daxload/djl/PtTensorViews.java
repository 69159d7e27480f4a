package dev.daxload.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import dev.daxload.manifest.DType;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * DJL PyTorch {@link NDArray}s that are views over the tensors of a mapped image: the array's data
 * pointer is the tensor's address in the mapping, so making one copies nothing and costs the same for
 * 1 KB and for 10 GB.
 *
 * <pre>{@code
 * try (ModelWeights w = ModelWeights.open(image, "minilm");      // copy-on-write mapping
 *      NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
 *     NDList weights = PtTensorViews.viewAll(m, w);              // every tensor, named
 *     NDArray q = PtTensorViews.view(m, w.tensor("encoder.layer.0.attention.self.query.weight"));
 * }   // the manager closes first (try-with-resources closes in reverse), then the image
 * }</pre>
 *
 * <p><b>How.</b> The tensors are made with libtorch's C function {@code aoti_torch_create_tensor_from_blob}
 * ({@code torch::from_blob} behind its stable C ABI), called from a small JNI library of daxload's own
 * ({@code NativeViews}, shipped in the loader jar for linux-x86_64) once per tensor, all the tensors of a
 * call in one JNI call: in a fresh JVM that costs about a millisecond for 1,000 tensors, and nothing is
 * linked through FFM. Where that library cannot load (another platform; {@code -Ddaxload.views.native=false}),
 * views come from DJL's own JNI binding of {@code from_blob} (the common dtypes, tensors under 2 GiB) and
 * from the same C function bound with FFM (the rest; the FFM linker's set-up costs 40-50 ms of CPU in a fresh
 * JVM). Either handle is wrapped with {@link PtNDArray#PtNDArray(PtNDManager, long)}. DJL's own
 * {@code create(ByteBuffer, ...)} is not used: it is limited to 2 GiB and 2^31 elements, and it aborts
 * the JVM for BF16, I16, U16 and U32. Here every dtype libtorch has works (see {@link #supportedDTypes()}:
 * F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2 with libtorch 2.7), at any size; DJL's
 * {@code getDataType()} names no BF16 (it says {@code UNKNOWN}), but libtorch computes with the tensor as BF16.
 * GGUF block-quantized tensors have no PyTorch dtype; {@link #rawBytes} gives their blocks as a U8 array.
 *
 * <p><b>Lifetimes.</b> An array is attached to the manager it was made with; closing the manager frees
 * the tensor handles. A manager that holds views of an image pins it: closing the image (or the
 * {@link ModelWeights}) while the manager is open only marks it closed, and the mapping goes when the
 * last such manager closes, so an array can never read unmapped memory. Making a view of a closed image
 * throws {@link IllegalStateException}. Views of memory that is not an image's (a {@link TensorView}
 * made by hand) are held by reference, so memory whose lifetime is the garbage collector's is not freed
 * under them; its owner must keep it mapped.
 *
 * <p><b>Writes.</b> By default ({@link Writes#NEED_WRITABLE}) views are refused over memory that is not
 * mapped writable: an in-place op on a view of a read-only mapping is a SIGSEGV, not an exception. Open
 * images copy-on-write ({@code MapOptions.copyOnWrite()}, the default of {@link ModelWeights#open}): an
 * in-place op then copies the pages it writes, privately, and the image other processes see stays as it
 * was. Writes to the memory by other means (another mapping of a shared image) show through the views.
 *
 * <p><b>Read-only views</b> ({@link Writes#REFUSE_IN_PLACE}, {@code views=readonly} in a {@code daxfs:}
 * URL) are for memory that cannot be mapped copy-on-write: a mounted image's dma-buf (the kernel refuses
 * {@code MAP_PRIVATE} on a dma-buf, and the daxfs module hands it out read-only), or an image mapped
 * {@code MapOptions.readOnly()} on purpose. The view itself refuses, with an
 * {@link UnsupportedOperationException} naming the tensor and the op, every write DJL's {@code NDArray}
 * offers ({@code addi}, {@code subi}, {@code muli}, {@code divi}, {@code modi}, {@code powi},
 * {@code negi}, {@code signi}, {@code set}, {@code setScalar}, {@code copyTo} into it), and its
 * {@code toByteBuffer} is read-only. The ops that return libtorch views of the same bytes
 * ({@code reshape}, {@code transpose}, {@code swapAxes}, {@code flatten}, {@code squeeze},
 * {@code expandDims}, {@code broadcast}, {@code get} slicing, {@code split}, {@code stopGradient}) return
 * arrays guarded the same way. What stays the caller's responsibility, because it does not pass through
 * the view's own methods:
 * <ul>
 *   <li>other ways to alias the bytes: an array made by DJL's {@code NDArrayEx}, by the engine from the
 *       handle, or by an op not listed above that libtorch answers with a view; {@code duplicate()}
 *       first to write;</li>
 *   <li>training: an optimizer's update ({@code getNDArrayInternal().sgdUpdate(...)}, {@code adamUpdate},
 *       ...) and {@code NDArrayEx}'s {@code rsubi}/{@code rdivi}/{@code rmodi}/{@code rpowi} write their
 *       argument in place;</li>
 *   <li>native code given {@link #dataAddress}, and a TorchScript module handed the array.</li>
 * </ul>
 * Ops that return a new array ({@code add}, {@code matMul}, a block's {@code forward} in inference) are
 * always safe, which is all that serving a model does.
 *
 * <p>Views are CPU tensors whatever the manager's device; {@code toDevice} copies one to a GPU.
 */
public final class PtTensorViews {
    private static final AtomicLong LEASES = new AtomicLong();

    private PtTensorViews() {}

    /** What a view does about writes (see the class comment). */
    public enum Writes {
        /**
         * Views only of memory mapped writable (copy-on-write), where an in-place op is safe and stays
         * private; memory mapped read-only is refused with {@link IllegalArgumentException}. The default.
         */
        NEED_WRITABLE,
        /**
         * Views of any memory, read-only included; the view refuses DJL's in-place ops and writes with
         * {@link UnsupportedOperationException} (see the class comment for what that does not cover).
         */
        REFUSE_IN_PLACE
    }

    /** What to do with a block-quantized (GGUF) tensor, which has no PyTorch dtype. */
    public enum Quantized {
        /** Throw {@link UnsupportedOperationException} naming the tensor. */
        REFUSE,
        /** Make a 1-D U8 view of its raw blocks, as {@link #rawBytes} does. */
        RAW_BYTES
    }

    /**
     * The element types that {@link #view} can make with the libtorch loaded (loads the PyTorch engine).
     */
    public static Set<DType> supportedDTypes() {
        Map<DType, Integer> codes = NativeViews.get().map(NativeViews::codes).orElseGet(() -> Aoti.get().dtypes());
        return Collections.unmodifiableSet(codes.keySet());
    }

    /**
     * A view of {@code tensor}: a PyTorch array of its dtype and shape whose data is the tensor's bytes
     * in place, named after the tensor.
     *
     * @param manager a PyTorch manager; the array is attached to it
     * @throws UnsupportedOperationException if the dtype has no PyTorch equivalent (block-quantized
     *     types: see {@link #rawBytes})
     * @throws IllegalStateException if the tensor's image is closed, or the manager is
     * @throws IllegalArgumentException if the manager is not PyTorch's, or the tensor's memory is not
     *     mapped writable (see the class comment)
     */
    public static PtNDArray view(NDManager manager, TensorView tensor) {
        return view(manager, tensor, Writes.NEED_WRITABLE);
    }

    /**
     * A view of {@code tensor}, as {@link #view(NDManager, TensorView)}, with {@code writes} saying
     * whether memory mapped read-only is refused ({@link Writes#NEED_WRITABLE}) or viewed with writes
     * refused ({@link Writes#REFUSE_IN_PLACE}).
     *
     * @throws IllegalArgumentException as {@link #view(NDManager, TensorView)}; for read-only memory
     *     only with {@link Writes#NEED_WRITABLE}
     */
    public static PtNDArray view(NDManager manager, TensorView tensor, Writes writes) {
        PtNDManager pt = pyTorch(manager);
        PtNDArray array = make(pt, new Request[] {request(pt, tensor, Quantized.REFUSE, false, writes)})[0];
        lease(pt, tensor);
        return array;
    }

    /**
     * A 1-D U8 view of {@code tensor}'s bytes, whatever its dtype: the raw blocks of a GGUF-quantized
     * tensor, for a kernel that decodes them.
     *
     * @throws IllegalStateException if the tensor's image is closed, or the manager is
     * @throws IllegalArgumentException as {@link #view}
     */
    public static PtNDArray rawBytes(NDManager manager, TensorView tensor) {
        PtNDManager pt = pyTorch(manager);
        PtNDArray array = make(pt, new Request[] {request(pt, tensor, Quantized.RAW_BYTES, true, Writes.NEED_WRITABLE)})[0];
        lease(pt, tensor);
        return array;
    }

    /**
     * Views of every tensor of a model, in manifest order, each named after its tensor: what "open an
     * image, have every weight as an NDArray" costs, for benchmarks to time.
     *
     * @throws UnsupportedOperationException if a tensor is block-quantized (see
     *     {@link #viewAll(NDManager, ModelWeights, Quantized)})
     */
    public static NDList viewAll(NDManager manager, ModelWeights weights) {
        return viewAll(manager, weights, Quantized.REFUSE);
    }

    /** Views of every tensor of a model, in manifest order, named; block-quantized ones as {@code quantized} says. */
    public static NDList viewAll(NDManager manager, ModelWeights weights, Quantized quantized) {
        Map<String, PtNDArray> views = viewMap(manager, weights.tensors().values(), quantized);
        NDList list = new NDList(views.size());
        list.addAll(views.values());
        return list;
    }

    /**
     * Views of {@code tensors} by name, in their order. On failure, the views already made are closed
     * and the exception names the tensor that failed.
     */
    public static Map<String, PtNDArray> viewMap(NDManager manager, Collection<TensorView> tensors, Quantized quantized) {
        return viewMap(manager, tensors, quantized, Writes.NEED_WRITABLE);
    }

    /** Views of {@code tensors} by name, as {@link #viewMap(NDManager, Collection, Quantized)}, writes as {@code writes} says. */
    public static Map<String, PtNDArray> viewMap(NDManager manager, Collection<TensorView> tensors, Quantized quantized, Writes writes) {
        PtNDManager pt = pyTorch(manager);
        TensorView[] all = tensors.toArray(TensorView[]::new);
        Request[] requests = new Request[all.length];
        for (int i = 0; i < all.length; i++) {
            requests[i] = request(pt, all[i], quantized, false, writes);
        }
        PtNDArray[] made = make(pt, requests);
        Map<String, PtNDArray> out = new LinkedHashMap<>();
        for (int i = 0; i < all.length; i++) {
            out.put(all[i].name(), made[i]);
        }
        // One lease per distinct mapping (normally one image) rather than one per tensor.
        IdentityHashMap<MemorySegment.Scope, Boolean> seen = new IdentityHashMap<>();
        for (TensorView t : tensors) {
            if (seen.put(t.segment().scope(), Boolean.TRUE) == null) {
                lease(pt, t);
            }
        }
        return Collections.unmodifiableMap(out);
    }

    /**
     * Ties {@code weights} to {@code manager}: closing the manager closes the weights (and unmaps the
     * image if the weights own it), so no array of the manager can outlive the mapping through
     * forgetting to keep it open. Arrays moved to another manager ({@code attach}) are not covered.
     */
    public static void closeWithManager(NDManager manager, ModelWeights weights) {
        pyTorch(manager).attachInternal("daxload-weights-" + LEASES.incrementAndGet(), weights);
    }

    /**
     * The address of {@code array}'s first element ({@code tensor.data_ptr()}): for a view, the address
     * of its tensor in the mapping. For checking that a view is one, and for native code.
     */
    public static long dataAddress(NDArray array) {
        if (!(array instanceof PtNDArray pt)) {
            throw new IllegalArgumentException("not a PyTorch array: " + array.getClass().getName());
        }
        long handle = pt.getHandle();
        return NativeViews.get().map(lib -> lib.dataPtr(handle)).orElseGet(() -> Aoti.get().dataPtr(handle));
    }

    /** The dtype a view of {@code tensor} has: its own, or U8 for raw bytes. */
    private static DType viewedType(TensorView tensor, Quantized quantized, boolean raw) {
        return asBytes(tensor, quantized, raw) ? DType.U8 : tensor.dtype();
    }

    private static boolean asBytes(TensorView tensor, Quantized quantized, boolean raw) {
        return raw || (tensor.dtype().isQuantized() && quantized == Quantized.RAW_BYTES);
    }

    /** Which of libtorch's from_blob entries makes a view. */
    private enum Route {
        /** {@link NativeViews}: every view of a load in one JNI call, every dtype; where its library loads. */
        NATIVE,
        /** {@link JniBlobs}, DJL's own binding, one JNI call a view: the fallback for the common dtypes. */
        JNI,
        /** {@link Aoti} over FFM, one downcall a view: the fallback for the rest (links the FFM linker first). */
        SHIM
    }

    /** A view checked and ready to make: its tensor, its dtype and shape as libtorch gets them, and how. */
    private record Request(TensorView tensor, DType viewed, long[] shape, boolean readOnly, Route route) {}

    private static Route route(DType viewed, MemorySegment data) {
        if (data.isNative() && NativeViews.get().isPresent()) {
            return Route.NATIVE;
        }
        return JniBlobs.fits(viewed, data) && JniBlobs.get().isPresent() ? Route.JNI : Route.SHIM;
    }

    /** Checks that a view of {@code tensor} can be made (throwing, naming it, if not) and says how. */
    private static Request request(PtNDManager manager, TensorView tensor, Quantized quantized, boolean raw, Writes writes) {
        MemorySegment data = tensor.segment();
        if (!data.scope().isAlive()) {
            throw new IllegalStateException("tensor '" + tensor.name() + "': its image is closed; open it again to make views");
        }
        if (!manager.isOpen()) {
            throw new IllegalStateException("tensor '" + tensor.name() + "': the NDManager is closed");
        }
        DType viewed = viewedType(tensor, quantized, raw);
        long[] shape = asBytes(tensor, quantized, raw) ? new long[] {data.byteSize()} : tensor.shape();
        Route route = route(viewed, data);
        boolean known = switch (route) {
            case NATIVE -> NativeViews.get().orElseThrow().code(viewed).isPresent();
            case JNI -> true;
            // Only whether libtorch has a name for it: asking the shim for the code would link it here, on
            // the main thread, before the warm-up thread could (makeFallback asks, and refuses as below).
            case SHIM -> Libtorch.dtypeNames().containsKey(viewed);
        };
        if (!known) {
            throw noDtype(tensor);
        }
        boolean readOnly = writes == Writes.REFUSE_IN_PLACE;
        if (!readOnly && !WritableMemory.isWritable(data)) {
            throw new IllegalArgumentException("tensor '" + tensor.name() + "' lies in memory mapped read-only: an in-place op on"
                    + " its NDArray would kill the JVM with SIGSEGV; map the image copy-on-write (MapOptions.copyOnWrite(),"
                    + " the default of ModelWeights.open), or ask for read-only views, which refuse in-place ops"
                    + " (PtTensorViews.Writes.REFUSE_IN_PLACE; views=readonly in a daxfs: URL)");
        }
        return new Request(tensor, viewed, shape, readOnly, route);
    }

    /**
     * The views {@code requests} ask for, in their order. On failure none is left: the arrays made are
     * closed, the handles not yet wrapped freed.
     */
    private static PtNDArray[] make(PtNDManager manager, Request[] requests) {
        int n = requests.length;
        long[] handles = new long[n]; // 0: not made, or owned by its array already
        PtNDArray[] made = new PtNDArray[n];
        try {
            makeNative(requests, handles);
            makeFallback(requests, handles);
            for (int i = 0; i < n; i++) {
                Request r = requests[i];
                // Refuses ops once the weights fail a check, and writes through DJL if read-only.
                PtNDArray array = new GuardedPtNDArray(manager, handles[i], r.tensor(), r.readOnly());
                made[i] = array;
                handles[i] = 0;
                array.setName(r.tensor().name());
            }
            return made;
        } catch (RuntimeException | Error e) {
            try {
                for (PtNDArray a : made) {
                    if (a != null) {
                        a.close();
                    }
                }
                for (long h : handles) {
                    if (h != 0) {
                        free(h); // never reached DJL, which would otherwise own and free it
                    }
                }
            } catch (RuntimeException | Error cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** The {@link Route#NATIVE} views, all in one call. */
    private static void makeNative(Request[] requests, long[] handles) {
        int count = 0;
        for (Request r : requests) {
            if (r.route() == Route.NATIVE) {
                count++;
            }
        }
        if (count == 0) {
            return;
        }
        NativeViews lib = NativeViews.get().orElseThrow();
        long[] addresses = new long[count];
        long[][] shapes = new long[count][];
        int[] dtypes = new int[count];
        String[] names = new String[count];
        int k = 0;
        for (Request r : requests) {
            if (r.route() == Route.NATIVE) {
                addresses[k] = r.tensor().segment().address();
                shapes[k] = r.shape();
                dtypes[k] = lib.code(r.viewed()).orElseThrow();
                names[k] = r.tensor().name();
                k++;
            }
        }
        long[] made = lib.fromBlobs(addresses, shapes, dtypes, names);
        k = 0;
        for (int i = 0; i < requests.length; i++) {
            if (requests[i].route() == Route.NATIVE) {
                handles[i] = made[k++];
            }
        }
    }

    /**
     * The views of the fallback routes, one call each: DJL's binding first, while the C shim links on
     * the warm-up thread (in a fresh JVM the FFM linker's set-up costs tens of milliseconds, about what
     * DJL's binding takes for a model's views), then the shim's.
     */
    private static void makeFallback(Request[] requests, long[] handles) {
        EnumSet<DType> shimTypes = EnumSet.noneOf(DType.class);
        boolean any = false;
        for (Request r : requests) {
            any |= r.route() != Route.NATIVE;
            if (r.route() == Route.SHIM) {
                shimTypes.add(r.viewed());
            }
        }
        if (!any) {
            return;
        }
        if (!shimTypes.isEmpty()) {
            ShimWarmup.start(shimTypes);
        }
        try (Arena arena = Arena.ofConfined()) {
            Aoti.Scratch scratch = new Aoti.Scratch(arena);
            for (Route route : new Route[] {Route.JNI, Route.SHIM}) {
                for (int i = 0; i < requests.length; i++) {
                    Request r = requests[i];
                    if (r.route() == route) {
                        MemorySegment data = r.tensor().segment();
                        handles[i] = route == Route.JNI
                                ? JniBlobs.get().orElseThrow().fromBlob(data, r.shape(), r.viewed())
                                : Aoti.get().fromBlob(data, r.shape(), Aoti.get().dtype(r.viewed()).orElseThrow(() -> noDtype(r.tensor())),
                                        scratch);
                    }
                }
            }
        }
    }

    private static UnsupportedOperationException noDtype(TensorView tensor) {
        DType dtype = tensor.dtype();
        return new UnsupportedOperationException("tensor '" + tensor.name() + "' is " + dtype + (dtype.isQuantized()
                ? ", block-quantized, which PyTorch has no dtype for; rawBytes() or Quantized.RAW_BYTES give its blocks as U8"
                : ", which this libtorch has no dtype for"));
    }

    /** Frees an {@code at::Tensor*} handle, whichever route made it (each makes the same kind). */
    private static void free(long handle) {
        Optional<NativeViews> lib = NativeViews.get();
        if (lib.isPresent()) {
            lib.get().delete(handle);
        } else {
            Aoti.get().delete(handle);
        }
    }

    private static PtNDManager pyTorch(NDManager manager) {
        if (manager instanceof PtNDManager pt) {
            return pt;
        }
        throw new IllegalArgumentException("views need a PyTorch NDManager, not one of engine "
                + manager.getEngine().getEngineName() + " (" + manager.getClass().getName() + ")");
    }

    /**
     * Makes {@code manager} keep the memory its views point into mapped until it closes. For a tensor
     * of a {@link dev.daxload.image.DaxImage} that is a pin: closing the image while the manager is open
     * defers the unmapping to the manager's close, so reading a view never touches unmapped memory.
     * Other memory is held by reference, so the garbage collector cannot free it under the views.
     */
    private static void lease(PtNDManager manager, TensorView tensor) {
        AutoCloseable lease = tensor.image() != null ? tensor.image().pin() : new MappingLease(tensor.segment());
        manager.attachInternal("daxload-mapping-" + LEASES.incrementAndGet(), lease);
    }

    private static final class MappingLease implements AutoCloseable {
        private volatile MemorySegment memory; // strong reference: keeps GC-managed memory reachable

        MappingLease(MemorySegment memory) {
            this.memory = memory;
        }

        @Override
        public void close() {
            memory = null; // releases the reference; unmapping is the image's business
        }

        @Override
        public String toString() {
            MemorySegment m = memory;
            return m == null ? "released mapping lease" : "lease on memory at 0x" + Long.toHexString(m.address());
        }
    }
}

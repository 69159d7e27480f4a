package dev.daxload.djl;

import dev.daxload.manifest.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * The few functions of libtorch's stable C shim ("AOTInductor" ABI, {@code aoti_torch_*}) that make a
 * tensor over caller memory, bound with FFM in the libtorch that DJL already loaded.
 *
 * <p>Why not DJL's own {@code PtNDManager.create(ByteBuffer, ...)}: it caps a buffer at 2 GiB and
 * 2^31 elements, and it aborts the JVM for BF16, I16, U16 and U32. The shim takes 64-bit sizes, every
 * dtype libtorch has, and returns an {@code at::Tensor*}, the same kind of handle DJL's
 * {@code PtNDArray} wraps and deletes.
 *
 * <p>{@link NativeViews} calls the same function from C, for a whole load in one JNI call, without the FFM
 * linker's set-up (40-50 ms of CPU in a fresh JVM); this binding is the route where that library cannot load.
 *
 * <p>Dtype and device codes are asked of libtorch ({@code aoti_torch_dtype_float32()} ...) rather than
 * written here, so they follow the library actually loaded.
 */
final class Aoti {
    private static volatile Aoti instance;

    /** daxload's dtypes and libtorch's name of each; the code of each is asked of libtorch when first needed. */
    private static final Map<DType, String> TORCH_NAMES = Libtorch.dtypeNames();

    private final Linker linker;
    private final SymbolLookup lookup;
    private final MethodHandle createFromBlob;
    private final int deviceCpu;
    private final Path library;
    // Linked the first time they are used: each downcall linked costs milliseconds in a fresh JVM.
    private volatile MethodHandle getDataPtr;
    private volatile MethodHandle deleteTensor;
    private final Map<DType, Optional<Integer>> dtypes = new EnumMap<>(DType.class); // guarded by itself

    private Aoti(SymbolLookup lookup, Path library) throws Throwable {
        this.library = library;
        this.lookup = lookup;
        this.linker = Linker.nativeLinker();
        // AOTITorchError is int32_t: 0 success, 1 failure (libtorch prints the C++ exception's message).
        createFromBlob = linker.downcallHandle(find(lookup, "aoti_torch_create_tensor_from_blob"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS,    // void* data
                        ValueLayout.JAVA_LONG,  // int64_t ndim
                        ValueLayout.ADDRESS,    // const int64_t* sizes
                        ValueLayout.ADDRESS,    // const int64_t* strides
                        ValueLayout.JAVA_LONG,  // int64_t storage_offset
                        ValueLayout.JAVA_INT,   // int32_t dtype
                        ValueLayout.JAVA_INT,   // int32_t device_type
                        ValueLayout.JAVA_INT,   // int32_t device_index
                        ValueLayout.ADDRESS));  // AtenTensorHandle* ret
        deviceCpu = code(linker, lookup, "aoti_torch_device_type_cpu").orElseThrow();
    }


    private static Optional<Integer> code(Linker linker, SymbolLookup lookup, String function) throws Throwable {
        // An older libtorch may lack the newer dtypes (uint16/32/64 came in 2.3): those stay unsupported.
        Optional<MemorySegment> symbol = lookup.find(function);
        if (symbol.isEmpty()) {
            return Optional.empty();
        }
        MethodHandle h = linker.downcallHandle(symbol.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT));
        return Optional.of((int) h.invokeExact());
    }

    private MemorySegment find(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new UnsupportedOperationException(
                library + " does not export " + name + ": this libtorch is too old for zero-copy views (2.3 or newer needed)"));
    }

    /** Whether the shim is linked already (then {@link #get()} returns at once). */
    static boolean linked() {
        return instance != null;
    }

    /** The shim of the libtorch that DJL's PyTorch engine loaded (loading the engine if needed). */
    static Aoti get() {
        Aoti a = instance;
        if (a == null) {
            synchronized (Aoti.class) {
                a = instance;
                if (a == null) {
                    a = instance = load();
                }
            }
        }
        return a;
    }

    private static Aoti load() {
        Path lib = Libtorch.locate();
        try {
            // dlopen of a library already loaded returns that same copy; the global arena never dlcloses it.
            return new Aoti(SymbolLookup.libraryLookup(lib, Arena.global()), lib);
        } catch (UnsupportedOperationException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cannot bind libtorch's C functions in " + lib + ": " + t, t);
        }
    }

    /** libtorch's code for {@code dtype}, or empty if it has none (block-quantized types). */
    Optional<Integer> dtype(DType dtype) {
        String torchName = TORCH_NAMES.get(dtype);
        if (torchName == null) {
            return Optional.empty();
        }
        synchronized (dtypes) {
            Optional<Integer> c = dtypes.get(dtype);
            if (c == null) {
                try {
                    c = code(linker, lookup, "aoti_torch_dtype_" + torchName);
                } catch (RuntimeException | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new IllegalStateException("cannot ask " + library + " for the code of " + torchName + ": " + t, t);
                }
                dtypes.put(dtype, c);
            }
            return c;
        }
    }

    /** Every dtype this libtorch has a code for, with the code. */
    Map<DType, Integer> dtypes() {
        Map<DType, Integer> all = new EnumMap<>(DType.class);
        for (DType d : TORCH_NAMES.keySet()) {
            dtype(d).ifPresent(c -> all.put(d, c));
        }
        return Collections.unmodifiableMap(all);
    }

    /**
     * A contiguous row-major CPU tensor over {@code data}, which libtorch neither copies nor frees.
     *
     * <p>{@code data} goes to the call as a segment, not as a raw address, so FFM checks that its
     * memory is still open and keeps it open for the duration of the call: a closed image gives an
     * {@link IllegalStateException}, never a tensor over unmapped memory.
     *
     * @return the {@code at::Tensor*} handle
     */
    long fromBlob(MemorySegment data, long[] shape, int dtypeCode, Scratch scratch) {
        int ndim = shape.length;
        // One buffer for sizes, strides and the result, reused from call to call: an allocation per
        // tensor (three, zeroed, each registered with the arena) was a visible share of a cold viewAll.
        MemorySegment buf = scratch.longs(2 * Math.max(1, ndim) + 1);
        long stridesAt = 8L * Math.max(1, ndim);
        long stride = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            buf.set(ValueLayout.JAVA_LONG, 8L * i, shape[i]);
            buf.set(ValueLayout.JAVA_LONG, stridesAt + 8L * i, stride);
            stride *= Math.max(1, shape[i]); // a 0 dimension leaves later strides as torch.empty makes them
        }
        MemorySegment sizes = buf.asSlice(0, stridesAt);
        MemorySegment strides = buf.asSlice(stridesAt, stridesAt);
        MemorySegment ret = buf.asSlice(2 * stridesAt, 8);
        int rc;
        try {
            rc = (int) createFromBlob.invokeExact(data, (long) ndim, sizes, strides, 0L, dtypeCode, deviceCpu, 0, ret);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        if (rc != 0) {
            throw new IllegalStateException("aoti_torch_create_tensor_from_blob failed (" + rc + "); libtorch printed why on stderr");
        }
        return ret.get(ValueLayout.ADDRESS, 0).address();
    }

    private MethodHandle getDataPtr() {
        MethodHandle h = getDataPtr;
        if (h == null) {
            getDataPtr = h = linker.downcallHandle(find(lookup, "aoti_torch_get_data_ptr"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
        }
        return h;
    }

    private MethodHandle deleteTensor() {
        MethodHandle h = deleteTensor;
        if (h == null) {
            deleteTensor = h = linker.downcallHandle(find(lookup, "aoti_torch_delete_tensor_object"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        }
        return h;
    }

    /** {@code tensor.data_ptr()} of an {@code at::Tensor*}. */
    long dataPtr(long handle) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ret = a.allocate(ValueLayout.ADDRESS);
            int rc = (int) getDataPtr().invokeExact(handle, ret);
            if (rc != 0) {
                throw new IllegalStateException("aoti_torch_get_data_ptr failed (" + rc + ")");
            }
            return ret.get(ValueLayout.ADDRESS, 0).address();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Frees a handle that never reached a {@code PtNDArray} (which would otherwise free it). */
    void delete(long handle) {
        try {
            int ignored = (int) deleteTensor().invokeExact(handle);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /**
     * Native memory for the arguments of {@link #fromBlob}, reused across calls on one thread (a
     * confined arena): the shape and strides of one tensor at a time.
     */
    static final class Scratch {
        private final Arena arena;
        private MemorySegment longs = MemorySegment.NULL;

        Scratch(Arena arena) {
            this.arena = arena;
        }

        /** At least {@code n} longs, not zeroed between calls. */
        MemorySegment longs(int n) {
            if (longs.byteSize() < 8L * n) {
                longs = arena.allocate(ValueLayout.JAVA_LONG, Math.max(n, 17)); // rank 8: 2 * 8 + 1
            }
            return longs;
        }
    }
}

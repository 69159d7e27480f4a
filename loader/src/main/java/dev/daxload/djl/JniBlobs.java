package dev.daxload.djl;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtDeviceType;
import dev.daxload.manifest.DType;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.LoggerFactory;

/**
 * Tensors over caller memory through DJL's own JNI binding of {@code torch::from_blob}, which the
 * PyTorch engine has loaded and bound already: in a fresh JVM this costs a few milliseconds, where the
 * first FFM downcall ({@link Aoti}) costs 40-100 ms of linker set-up (docs/benchmarks.md, "Cold open").
 * Since {@link NativeViews} makes every dtype in one JNI call, this binding is the fallback where that
 * library cannot load.
 *
 * <p>Used only where that binding is known to be a plain zero-copy view: the dtypes DJL's native code
 * has always mapped (F32 F64 F16 I64 I32 I8 U8 BOOL; it aborts the JVM for BF16, I16, U16 and U32), a
 * tensor under 2 GiB (a {@link ByteBuffer} cannot be larger) in native memory. Everything else goes
 * through {@link Aoti}. The binding, {@code PyTorchLibrary.torchFromBlob}, is not public DJL API: it is
 * reached through a private lookup, and if a DJL release renames it, {@link #get()} is empty and every
 * view goes through {@link Aoti} (logged once). DJL's public {@code PtNDManager.create(Buffer, ...)} calls
 * the same binding but wraps the handle in a plain {@code PtNDArray}, not the guarded one views need.
 */
final class JniBlobs {
    private static final Map<DType, DataType> DJL_TYPES = djlTypes();
    private static final Optional<JniBlobs> INSTANCE = bind();

    private final Object library;
    private final MethodHandle fromBlob;
    private final int[] cpu;

    private JniBlobs(Object library, MethodHandle fromBlob) {
        this.library = library;
        this.fromBlob = fromBlob;
        Device device = Device.cpu();
        this.cpu = new int[] {PtDeviceType.toDeviceType(device), device.getDeviceId()};
    }

    private static Map<DType, DataType> djlTypes() {
        Map<DType, DataType> m = new EnumMap<>(DType.class);
        m.put(DType.F32, DataType.FLOAT32);
        m.put(DType.F64, DataType.FLOAT64);
        m.put(DType.F16, DataType.FLOAT16);
        m.put(DType.I64, DataType.INT64);
        m.put(DType.I32, DataType.INT32);
        m.put(DType.I8, DataType.INT8);
        m.put(DType.U8, DataType.UINT8);
        m.put(DType.BOOL, DataType.BOOLEAN);
        return m;
    }

    private static Optional<JniBlobs> bind() {
        try {
            Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
            MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(lib, MethodHandles.lookup());
            Object instance = lookup.findStaticGetter(lib, "LIB", lib).invoke();
            MethodHandle h = lookup.findVirtual(lib, "torchFromBlob", MethodType.methodType(long.class,
                    ByteBuffer.class, long[].class, int.class, int.class, int[].class, boolean.class));
            // Typed once for invokeExact (the receiver as Object): a plain invoke adapts the call's type each
            // time, which in a fresh JVM is interpreted work per tensor.
            return Optional.of(new JniBlobs(instance, h.asType(h.type().changeParameterType(0, Object.class))));
        } catch (Throwable t) {
            LoggerFactory.getLogger(JniBlobs.class).info("DJL's torchFromBlob binding is not reachable ({}); views go through libtorch's C shim", t.toString());
            return Optional.empty();
        }
    }

    /** The binding, or empty if this DJL has none that can be reached (then {@link Aoti} does all). */
    static Optional<JniBlobs> get() {
        return INSTANCE;
    }

    /** True if {@code data} of {@code dtype} can be viewed through this binding. */
    static boolean fits(DType dtype, MemorySegment data) {
        return DJL_TYPES.containsKey(dtype) && data.isNative() && data.byteSize() > 0 && data.byteSize() <= Integer.MAX_VALUE;
    }

    /**
     * A contiguous row-major CPU tensor over {@code data}, which libtorch neither copies nor frees;
     * {@code data} must {@link #fits fit}. The caller keeps the memory mapped while the tensor lives.
     *
     * @return the {@code at::Tensor*} handle
     */
    long fromBlob(MemorySegment data, long[] shape, DType dtype) {
        DataType type = DJL_TYPES.get(dtype);
        if (type == null || !fits(dtype, data)) {
            throw new IllegalArgumentException(dtype + " tensor of " + data.byteSize() + " bytes does not fit DJL's from_blob binding");
        }
        try {
            // Layout 0: strided (dense), as the C shim makes them; DJL's native code reads the buffer's address only.
            return (long) fromBlob.invokeExact(library, data.asByteBuffer(), shape.clone(), type.ordinal(), 0, cpu.clone(), false);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("DJL's torchFromBlob failed: " + t, t);
        }
    }
}

package dev.daxload.bridge.cuda;

import dev.daxload.manifest.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/**
 * GPU views for DJL's PyTorch engine: what a CUDA tensor over a {@link DeviceImage} is made of,
 * and whether the engine in this JVM can make one at all.
 *
 * <p><b>The glue call</b> (for the session with a GPU and a CUDA libtorch; the CPU twin of it
 * lives in the loader's {@code dev.daxload.djl} package): libtorch 2.7.1 exports
 * <pre>
 * AOTITorchError aoti_torch_create_tensor_from_blob(
 *     void* data, int64_t ndim, const int64_t* sizes, const int64_t* strides, int64_t storage_offset,
 *     int32_t dtype, int32_t device_type, int32_t device_index, AtenTensorHandle* ret);
 * </pre>
 * Call it through FFM (look the symbol up in the loaded {@code libtorch_cpu.so}) with the fields
 * of a {@link Spec}: {@code data = spec.dataPointer()} (device memory: base + tensor offset),
 * {@code device_type = 1} (CUDA, as {@code aoti_torch_device_type_cuda()} returns),
 * {@code device_index = spec.deviceIndex()}, {@code storage_offset = 0}; then wrap the returned
 * handle with DJL's public {@code new PtNDArray(ptManager, handle)}. No copy is made; the tensor is
 * valid while the {@link DeviceImage} is open. In-place ops on it write the shared image: give
 * callers read-only use.
 */
public final class TorchCuda {
    /** {@code c10::DeviceType::CUDA}. */
    public static final int DEVICE_TYPE_CUDA = 1;

    /** The libtorch version DJL 0.36.0's pytorch-jni is built for. */
    public static final String LIBTORCH_VERSION = "2.7.1";

    /**
     * What {@code aoti_torch_create_tensor_from_blob} needs for one tensor.
     *
     * @param dataPointer device address of the first element
     * @param sizes the shape
     * @param strides contiguous (row-major) strides, in elements
     * @param scalarType the {@code c10::ScalarType} number
     * @param deviceType {@link #DEVICE_TYPE_CUDA}
     * @param deviceIndex the GPU ordinal
     */
    public record Spec(long dataPointer, long[] sizes, long[] strides, int scalarType, int deviceType, int deviceIndex) {
        @Override
        public String toString() {
            return "Spec[0x" + Long.toHexString(dataPointer) + ", sizes " + Arrays.toString(sizes) + ", strides "
                    + Arrays.toString(strides) + ", scalar type " + scalarType + ", cuda:" + deviceIndex + "]";
        }
    }

    private TorchCuda() {}

    /**
     * libtorch's view of a manifest dtype.
     *
     * @param torchName the name in libtorch's C shim ({@code aoti_torch_dtype_<torchName>()} returns {@code code})
     * @param code the {@code c10::ScalarType} number
     * @param bytes bytes per element
     */
    public record TorchDtype(String torchName, int code, int bytes) {}

    /**
     * The {@code c10::ScalarType} of a manifest dtype: PyTorch's name and the element size from
     * {@link DType}, the number from a fixed table (the loader's CPU views ask the loaded libtorch
     * instead; gpu/torch_views.py checked these against libtorch 2.11).
     *
     * @param dtype a safetensors dtype name (F32, BF16, ...)
     * @return libtorch's name, number and element size
     * @throws IllegalArgumentException for a dtype PyTorch has no tensor type for (GGUF blocks, F4, F8_E8M0)
     */
    public static TorchDtype torchDtype(String dtype) {
        DType d = DType.byName(dtype).orElseThrow(() -> new IllegalArgumentException("unknown dtype " + dtype));
        String name = d.torchName().orElseThrow(() -> new IllegalArgumentException("dtype " + dtype + " has no PyTorch tensor type"
                + " (block-quantized GGUF types, F4, F6 and F8_E8M0 stay raw bytes)"));
        return new TorchDtype(name, SCALAR_TYPES.get(name), d.blockBytes());
    }

    /**
     * {@code c10::ScalarType} numbers by PyTorch's dtype name: fixed by libtorch's ABI, listed here
     * because the process making the tensor may not be this one (the names and sizes are DType's).
     */
    private static final java.util.Map<String, Integer> SCALAR_TYPES = java.util.Map.ofEntries(
            java.util.Map.entry("uint8", 0), java.util.Map.entry("int8", 1), java.util.Map.entry("int16", 2),
            java.util.Map.entry("int32", 3), java.util.Map.entry("int64", 4), java.util.Map.entry("float16", 5),
            java.util.Map.entry("float32", 6), java.util.Map.entry("float64", 7), java.util.Map.entry("complex64", 9),
            java.util.Map.entry("bool", 11), java.util.Map.entry("bfloat16", 15), java.util.Map.entry("float8_e5m2", 23),
            java.util.Map.entry("float8_e4m3fn", 24), java.util.Map.entry("float8_e5m2fnuz", 25),
            java.util.Map.entry("float8_e4m3fnuz", 26), java.util.Map.entry("uint16", 27), java.util.Map.entry("uint32", 28),
            java.util.Map.entry("uint64", 29));

    static int[] scalarType(String dtype) {
        TorchDtype t = torchDtype(dtype);
        return new int[] {t.code(), t.bytes()};
    }

    /**
     * Describes a CUDA tensor over an image in device memory.
     *
     * @param image the device image
     * @param offset the tensor's absolute offset in the image (manifest {@code offset})
     * @param length the tensor's byte length (manifest {@code length}), checked against the shape
     * @param shape the shape
     * @param dtype the dtype name
     * @return the call's arguments
     */
    public static Spec spec(DeviceImage image, long offset, long length, long[] shape, String dtype) {
        return spec(image.base(), image.imageSize(), image.deviceOrdinal(), offset, length, shape, dtype);
    }

    /**
     * Describes a CUDA tensor over an image at {@code base} in some process's device address space.
     *
     * @param base the image's device address in the process that makes the tensor (0 for an
     *        offset-only description that another process adds its own base to)
     * @param imageSize the image's size
     * @param device the GPU ordinal
     * @param offset the tensor's absolute offset in the image
     * @param length the tensor's byte length, checked against the shape
     * @param shape the shape
     * @param dtype the dtype name
     * @return the call's arguments
     * @throws IllegalArgumentException for a dtype PyTorch has no tensor type for, a length that is not the shape's, or misalignment
     */
    public static Spec spec(long base, long imageSize, int device, long offset, long length, long[] shape, String dtype) {
        int[] st = scalarType(dtype);
        long elements = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            elements = Math.multiplyExact(elements, d);
        }
        if (Math.multiplyExact(elements, st[1]) != length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " of " + dtype + " is "
                    + elements * st[1] + " bytes, the tensor has " + length);
        }
        if (offset < 0 || offset + length > imageSize) {
            throw new IndexOutOfBoundsException("tensor [" + offset + ", +" + length + ") outside the image (" + imageSize + " bytes)");
        }
        if ((base + offset) % st[1] != 0) {
            throw new IllegalArgumentException("tensor at offset " + offset + " is not aligned to its " + st[1] + "-byte elements");
        }
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(1, shape[i]);
        }
        return new Spec(base + offset, shape.clone(), strides, st[0], DEVICE_TYPE_CUDA, device);
    }

    /**
     * Says why DJL's PyTorch engine in this JVM cannot hold CUDA tensors, if it cannot.
     *
     * @return empty when it has a GPU; else one message naming what to install
     */
    public static Optional<String> engineProblem() {
        int gpus;
        try {
            Class<?> engine = Class.forName("ai.djl.engine.Engine");
            Object pt = engine.getMethod("getEngine", String.class).invoke(null, "PyTorch");
            gpus = (int) engine.getMethod("getGpuCount").invoke(pt);
        } catch (ClassNotFoundException e) {
            return Optional.of(problem(false, false, 0, false));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            Throwable c = e instanceof java.lang.reflect.InvocationTargetException ite && ite.getCause() != null ? ite.getCause() : e;
            return Optional.of("DJL's PyTorch engine failed to start (" + c + "): " + installHint());
        }
        return Optional.ofNullable(problem(true, true, gpus, cudaLibtorchLoaded()));
    }

    /**
     * The message for each situation (pure, so it is tested everywhere).
     *
     * @param djlPresent DJL's API is on the class path
     * @param enginePresent the PyTorch engine loaded
     * @param gpuCount what the engine reports
     * @param cudaLibLoaded {@code libtorch_cuda.so} is mapped in this process
     * @return null when CUDA tensors can be made, else the message
     */
    static String problem(boolean djlPresent, boolean enginePresent, int gpuCount, boolean cudaLibLoaded) {
        if (!djlPresent || !enginePresent) {
            return "DJL's PyTorch engine is not on the class path: add ai.djl.pytorch:pytorch-engine:0.36.0 and "
                    + "ai.djl.pytorch:pytorch-jni:" + LIBTORCH_VERSION + "-0.36.0, then " + installHint();
        }
        if (gpuCount > 0) {
            return null;
        }
        if (!cudaLibLoaded) {
            return "DJL's PyTorch engine is CPU-only here (no libtorch_cuda.so loaded, 0 GPUs): " + installHint();
        }
        return "a CUDA libtorch is loaded but it sees no GPU: check nvidia-smi, CUDA_VISIBLE_DEVICES and that the "
                + "driver is new enough for the libtorch's CUDA version";
    }

    private static String installHint() {
        return "install a CUDA build of libtorch " + LIBTORCH_VERSION + " (the cu126 or cu128 libtorch archive from pytorch.org; "
                + "Maven Central has none) and point PYTORCH_LIBRARY_PATH at its lib folder, with PYTORCH_VERSION="
                + LIBTORCH_VERSION + " and PYTORCH_FLAVOR=cu128 (or cu126), and leave pytorch-native-cpu off the class path";
    }

    /** Whether a CUDA libtorch is mapped into this process. */
    static boolean cudaLibtorchLoaded() {
        try {
            return Files.readString(Path.of("/proc/self/maps")).contains("libtorch_cuda.so");
        } catch (IOException e) {
            return false;
        }
    }
}

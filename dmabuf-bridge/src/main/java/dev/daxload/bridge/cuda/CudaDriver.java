package dev.daxload.bridge.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The CUDA driver, found and opened safely. {@link #probe()} never crashes the JVM and never
 * throws an {@link Error} where there is no driver: it looks for {@code libcuda.so.1} first,
 * catches the {@link UnsatisfiedLinkError}/{@link NoClassDefFoundError} that the JNI binding
 * throws without its libraries, and says why CUDA is unavailable.
 *
 * <p>Which binding is used: javacpp-presets CUDA when its JNI library loads (it also needs
 * {@code libcudart.so.13}, from a CUDA 13 toolkit), else the driver library alone through FFM
 * ({@link FfmCuApi}). The system property {@code daxload.cuda.backend} ({@code javacpp},
 * {@code ffm}, {@code auto}) forces one.
 *
 * <p>{@link #open(int)} retains the device's primary context and makes it current on the calling
 * thread; {@link #close()} releases it. One open driver serves any number of {@link DeviceImage}s
 * and {@link HostImage}s on that device.
 */
public final class CudaDriver implements AutoCloseable {
    /** What one device offers daxload. */
    public record Device(int ordinal, String name, boolean virtualMemory, boolean posixFdHandles,
                         boolean dmaBuf, boolean hostRegister, boolean readOnlyHostRegister) {}

    /**
     * Device memory as the driver counts it, for every process on the device together.
     *
     * @param free bytes free
     * @param total bytes on the device
     */
    public record MemoryInfo(long free, long total) {
        /** @return bytes in use by anyone */
        public long used() {
            return total - free;
        }
    }

    /**
     * The result of looking for CUDA.
     *
     * @param available whether the driver works and sees at least one device
     * @param reason why not, when not; what was found, when it is
     * @param backend the binding in use, or null
     * @param driverVersion e.g. 13000 for 13.0, or 0
     * @param devices the devices, empty when not available
     */
    public record Probe(boolean available, String reason, String backend, int driverVersion, List<Device> devices) {
        /** @return e.g. "13.0" */
        public String driverVersionText() {
            return driverVersion / 1000 + "." + (driverVersion % 1000) / 10;
        }
    }

    /** Driver library directories, for a message that says where daxload looked. */
    private static final List<String> LIB_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib");

    private static volatile Probe cached;
    private static volatile CuApi cachedApi;

    private final CuApi api;
    private final int device;
    private final long context;
    private final Device info;
    private boolean closed;

    private CudaDriver(CuApi api, int device, long context, Device info) {
        this.api = api;
        this.device = device;
        this.context = context;
        this.info = info;
    }

    /**
     * Looks for a working CUDA driver, once per JVM (later calls return the same answer).
     *
     * @return what was found; never throws
     */
    public static Probe probe() {
        Probe p = cached;
        if (p == null) {
            synchronized (CudaDriver.class) {
                if (cached == null) {
                    cached = doProbe();
                }
                p = cached;
            }
        }
        return p;
    }

    /** The reason the tests and the CLI give when there is no driver here. */
    public static final String NO_DRIVER = "no CUDA driver (libcuda.so.1 not found)";

    private static Probe doProbe() {
        String want = System.getProperty("daxload.cuda.backend", "auto").toLowerCase(Locale.ROOT);
        // 1. The driver library itself. Loading it runs no GPU code, so this is safe anywhere.
        CuApi ffm;
        try {
            ffm = new FfmCuApi();
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return new Probe(false, NO_DRIVER + ": install the NVIDIA driver (looked in the loader path: "
                    + String.join(", ", LIB_DIRS.stream().filter(d -> Files.isDirectory(Path.of(d))).toList()) + ")",
                    null, 0, List.of());
        } catch (RuntimeException e) {
            return new Probe(false, "cannot open libcuda.so.1: " + e, null, 0, List.of());
        }
        // 2. The binding: javacpp when it loads (or is asked for), else the driver through FFM.
        CuApi api = ffm;
        String note = "";
        if (!want.equals("ffm")) {
            try {
                api = new JavaCppCuApi();
            } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
                if (want.equals("javacpp")) {
                    return new Probe(false, "javacpp-presets CUDA cannot load (" + firstLine(e)
                            + "): it needs libcudart.so.13 from a CUDA 13 toolkit on LD_LIBRARY_PATH", null, 0, List.of());
                }
                note = " (javacpp binding unavailable: " + firstLine(e) + ")";
            }
        }
        // 3. cuInit and the devices.
        int r = api.init();
        if (r != CuApi.CUDA_SUCCESS) {
            return new Probe(false, "cuInit failed: " + name(api, r) + " (" + r + ")"
                    + (r == CuApi.CUDA_ERROR_NO_DEVICE ? ": the driver sees no GPU (nvidia-smi; CUDA_VISIBLE_DEVICES)" : ""),
                    api.backendName(), 0, List.of());
        }
        int[] out = new int[1];
        int version = api.driverVersion(out) == CuApi.CUDA_SUCCESS ? out[0] : 0;
        if ((r = api.deviceCount(out)) != CuApi.CUDA_SUCCESS || out[0] == 0) {
            return new Probe(false, "the CUDA driver sees no device" + (r != 0 ? " (" + name(api, r) + ")" : ""),
                    api.backendName(), version, List.of());
        }
        List<Device> devices = new ArrayList<>();
        for (int i = 0; i < out[0]; i++) {
            devices.add(describe(api, i));
        }
        cachedApi = api;
        return new Probe(true, devices.size() + " device(s), driver " + version / 1000 + "." + (version % 1000) / 10
                + ", through " + api.backendName() + note, api.backendName(), version, List.copyOf(devices));
    }

    private static Device describe(CuApi api, int ordinal) {
        int[] dev = new int[1];
        api.deviceGet(dev, ordinal);
        String[] name = new String[1];
        api.deviceName(name, dev[0]);
        return new Device(ordinal, name[0], attr(api, CuApi.CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, dev[0]),
                attr(api, CuApi.CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, dev[0]),
                attr(api, CuApi.CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED, dev[0]),
                attr(api, CuApi.CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED, dev[0]),
                attr(api, CuApi.CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED, dev[0]));
    }

    private static boolean attr(CuApi api, int attribute, int dev) {
        int[] v = new int[1];
        return api.deviceAttribute(v, attribute, dev) == CuApi.CUDA_SUCCESS && v[0] != 0;
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static String name(CuApi api, int r) {
        String n = api.errorName(r);
        return n != null ? n : "CUresult " + r;
    }

    /**
     * Opens device {@code ordinal}: retains its primary context and makes it current here.
     *
     * @param ordinal 0 for the first GPU
     * @return the open driver
     * @throws CudaException if there is no usable driver or device (the message says why)
     */
    public static CudaDriver open(int ordinal) throws CudaException {
        Probe p = probe();
        if (!p.available()) {
            throw new CudaException("CudaDriver.open(" + ordinal + ")", CuApi.CUDA_ERROR_NO_DEVICE, null, p.reason());
        }
        if (ordinal < 0 || ordinal >= p.devices().size()) {
            throw new CudaException("CudaDriver.open(" + ordinal + ")", CuApi.CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_DEVICE",
                    "there are " + p.devices().size() + " devices (0.." + (p.devices().size() - 1) + ")");
        }
        return open(cachedApi, ordinal, p.devices().get(ordinal));
    }

    /** Opens a device through a given backend (the stand-in in tests). */
    static CudaDriver open(CuApi api, int ordinal, Device info) throws CudaException {
        int[] dev = new int[1];
        check(api, api.deviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        long[] ctx = new long[1];
        check(api, api.primaryCtxRetain(ctx, dev[0]), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        try {
            check(api, api.ctxSetCurrent(ctx[0]), "cuCtxSetCurrent");
        } catch (CudaException e) {
            api.primaryCtxRelease(dev[0]);
            throw e;
        }
        return new CudaDriver(api, dev[0], ctx[0], info);
    }

    /** @return the binding in use */
    CuApi api() {
        return api;
    }

    /** @return the device handle ({@code CUdevice}) */
    int device() {
        return device;
    }

    /** @return what the device offers */
    public Device info() {
        return info;
    }

    /** @return the binding's name */
    public String backend() {
        return api.backendName();
    }

    /**
     * Makes this device's context current on the calling thread (CUDA contexts are per thread).
     *
     * @throws CudaException if the driver refuses
     */
    public void makeCurrent() throws CudaException {
        if (closed) {
            throw new IllegalStateException("the CUDA driver handle for device " + info.ordinal() + " is closed");
        }
        check(api, api.ctxSetCurrent(context), "cuCtxSetCurrent");
    }

    /**
     * Reads the device's free and total memory ({@code cuMemGetInfo}).
     *
     * @return what the driver reports
     * @throws CudaException if the driver refuses
     */
    public MemoryInfo memoryInfo() throws CudaException {
        makeCurrent();
        long[] free = new long[1];
        long[] total = new long[1];
        check(api, api.memGetInfo(free, total), "cuMemGetInfo");
        return new MemoryInfo(free[0], total[0]);
    }

    /**
     * Throws for a failed result.
     *
     * @param api the binding, for the result's name
     * @param result the {@code CUresult}
     * @param call the call, for the message
     * @throws CudaException unless {@code result} is {@code CUDA_SUCCESS}
     */
    static void check(CuApi api, int result, String call) throws CudaException {
        check(api, result, call, null);
    }

    static void check(CuApi api, int result, String call, String hint) throws CudaException {
        if (result != CuApi.CUDA_SUCCESS) {
            throw new CudaException(call, result, api.errorName(result), hint != null ? hint : CudaException.commonHint(result));
        }
    }

    /** Releases the primary context (once); device memory made through it must be closed first. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            api.primaryCtxRelease(device);
        }
    }

    @Override
    public String toString() {
        return "CudaDriver[" + info.ordinal() + " " + info.name() + ", " + api.backendName() + "]";
    }
}

package dev.daxload.bridge.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * {@link CuApi} straight on the driver library {@code libcuda.so.1} through the FFM API: needs
 * nothing but the NVIDIA driver. Why it exists beside {@link JavaCppCuApi}: the javacpp-presets
 * JNI library for CUDA 13 also links {@code libcudart.so.13}, which only a CUDA toolkit installs
 * (Maven Central carries no redist jar for it), while a GPU machine always has the driver.
 *
 * <p>Symbol names are the ones {@code cuda.h} maps the API names to ({@code cuMemcpyHtoD} is
 * {@code cuMemcpyHtoD_v2}, and so on): the ABI the driver keeps stable.
 */
final class FfmCuApi implements CuApi {
    /** The driver library; loading it runs no GPU code. */
    static final String LIBRARY = "libcuda.so.1";

    // struct CUmemAllocationProp { int type; int requestedHandleTypes; struct { int type; int id; } location;
    //   void* win32HandleMetaData; struct { uchar compressionType, gpuDirectRDMACapable; ushort usage; uchar reserved[4]; } allocFlags; }
    private static final long PROP_SIZE = 32;
    // struct CUmemAccessDesc { struct { int type; int id; } location; int flags; }
    private static final long ACCESS_SIZE = 12;
    private static final int CU_MEM_ALLOCATION_TYPE_PINNED = 1;
    private static final int CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR = 1;
    private static final int CU_MEM_LOCATION_TYPE_DEVICE = 1;
    private static final int CU_MEM_ACCESS_FLAGS_PROT_READWRITE = 3;
    private static final int CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD = 1;
    private static final int CU_MEMHOSTALLOC_PORTABLE = 1;
    private static final int CU_STREAM_NON_BLOCKING = 1;

    private final Linker linker = Linker.nativeLinker();
    private final SymbolLookup lib;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName,
            cuDeviceGetAttribute, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent,
            cuMemGetAllocationGranularity, cuMemCreate, cuMemRelease, cuMemAddressReserve, cuMemAddressFree,
            cuMemMap, cuMemUnmap, cuMemSetAccess, cuMemExportToShareableHandle, cuMemImportFromShareableHandle,
            cuMemHostAlloc, cuMemFreeHost, cuMemHostRegister, cuMemHostUnregister, cuMemHostGetDevicePointer,
            cuStreamCreate, cuStreamDestroy, cuStreamSynchronize, cuMemcpyHtoDAsync, cuMemcpyHtoD, cuMemcpyDtoH,
            cuMemGetHandleForAddressRange, cuMemGetInfo, cuGetErrorName;

    /**
     * Opens {@code libcuda.so.1} for the life of the JVM.
     *
     * @throws IllegalArgumentException if the library is not there (no driver)
     */
    FfmCuApi() {
        lib = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
        cuInit = fn("cuInit", JAVA_INT);
        cuDriverGetVersion = fn("cuDriverGetVersion", ADDRESS);
        cuDeviceGetCount = fn("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = fn("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = fn("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = fn("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDevicePrimaryCtxRetain = fn("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = fn("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = fn("cuCtxSetCurrent", JAVA_LONG);
        cuMemGetAllocationGranularity = fn("cuMemGetAllocationGranularity", ADDRESS, ADDRESS, JAVA_INT);
        cuMemCreate = fn("cuMemCreate", ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemRelease = fn("cuMemRelease", JAVA_LONG);
        cuMemAddressReserve = fn("cuMemAddressReserve", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemAddressFree = fn("cuMemAddressFree", JAVA_LONG, JAVA_LONG);
        cuMemMap = fn("cuMemMap", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemUnmap = fn("cuMemUnmap", JAVA_LONG, JAVA_LONG);
        cuMemSetAccess = fn("cuMemSetAccess", JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemExportToShareableHandle = fn("cuMemExportToShareableHandle", ADDRESS, JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuMemImportFromShareableHandle = fn("cuMemImportFromShareableHandle", ADDRESS, JAVA_LONG, JAVA_INT);
        cuMemHostAlloc = fn("cuMemHostAlloc", ADDRESS, JAVA_LONG, JAVA_INT);
        cuMemFreeHost = fn("cuMemFreeHost", JAVA_LONG);
        cuMemHostRegister = fn("cuMemHostRegister_v2", JAVA_LONG, JAVA_LONG, JAVA_INT);
        cuMemHostUnregister = fn("cuMemHostUnregister", JAVA_LONG);
        cuMemHostGetDevicePointer = fn("cuMemHostGetDevicePointer_v2", ADDRESS, JAVA_LONG, JAVA_INT);
        cuStreamCreate = fn("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamDestroy = fn("cuStreamDestroy_v2", JAVA_LONG);
        cuStreamSynchronize = fn("cuStreamSynchronize", JAVA_LONG);
        cuMemcpyHtoDAsync = fn("cuMemcpyHtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemcpyHtoD = fn("cuMemcpyHtoD_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoH = fn("cuMemcpyDtoH_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemGetHandleForAddressRange = fn("cuMemGetHandleForAddressRange", ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuMemGetInfo = fn("cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuGetErrorName = fn("cuGetErrorName", JAVA_INT, ADDRESS);
    }

    /**
     * A handle for a driver function returning {@code CUresult}. Pointers that are really device
     * addresses or host addresses we already hold are passed as {@code long}: same ABI on x86-64.
     * A function this driver lacks (too old) gets a handle that reports CUDA_ERROR_NOT_SUPPORTED.
     */
    private MethodHandle fn(String name, MemoryLayout... args) {
        FunctionDescriptor d = FunctionDescriptor.of(JAVA_INT, args);
        return lib.find(name).map(a -> linker.downcallHandle(a, d)).orElse(null);
    }

    private static int call(MethodHandle h, Object... args) {
        if (h == null) {
            return CUDA_ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @Override
    public String backendName() {
        return "ffm (" + LIBRARY + ")";
    }

    @Override
    public int init() {
        return call(cuInit, 0);
    }

    private static int outInt(MethodHandle h, int[] out, Object... rest) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            Object[] args = prepend(p, rest);
            int r = call(h, args);
            out[0] = p.get(JAVA_INT, 0);
            return r;
        }
    }

    private static int outLong(MethodHandle h, long[] out, Object... rest) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            int r = call(h, prepend(p, rest));
            out[0] = p.get(JAVA_LONG, 0);
            return r;
        }
    }

    private static Object[] prepend(Object first, Object[] rest) {
        Object[] args = new Object[rest.length + 1];
        args[0] = first;
        System.arraycopy(rest, 0, args, 1, rest.length);
        return args;
    }

    @Override
    public int driverVersion(int[] out) {
        return outInt(cuDriverGetVersion, out);
    }

    @Override
    public int deviceCount(int[] out) {
        return outInt(cuDeviceGetCount, out);
    }

    @Override
    public int deviceGet(int[] out, int ordinal) {
        return outInt(cuDeviceGet, out, ordinal);
    }

    @Override
    public int deviceName(String[] out, int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256);
            int r = call(cuDeviceGetName, buf, 256, dev);
            out[0] = buf.getString(0);
            return r;
        }
    }

    @Override
    public int deviceAttribute(int[] out, int attribute, int dev) {
        return outInt(cuDeviceGetAttribute, out, attribute, dev);
    }

    @Override
    public int primaryCtxRetain(long[] ctx, int dev) {
        return outLong(cuDevicePrimaryCtxRetain, ctx, dev);
    }

    @Override
    public int primaryCtxRelease(int dev) {
        return call(cuDevicePrimaryCtxRelease, dev);
    }

    @Override
    public int ctxSetCurrent(long ctx) {
        return call(cuCtxSetCurrent, ctx);
    }

    private static MemorySegment prop(Arena a, int dev) {
        MemorySegment p = a.allocate(PROP_SIZE, 8); // zeroed: no compression, no RDMA flag, no metadata
        p.set(JAVA_INT, 0, CU_MEM_ALLOCATION_TYPE_PINNED);
        p.set(JAVA_INT, 4, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
        p.set(JAVA_INT, 8, CU_MEM_LOCATION_TYPE_DEVICE);
        p.set(JAVA_INT, 12, dev);
        return p;
    }

    @Override
    public int allocationGranularity(long[] out, int dev, int option) {
        try (Arena a = Arena.ofConfined()) {
            return outLong(cuMemGetAllocationGranularity, out, prop(a, dev), option);
        }
    }

    @Override
    public int memCreate(long[] handle, long size, int dev) {
        try (Arena a = Arena.ofConfined()) {
            return outLong(cuMemCreate, handle, size, prop(a, dev), 0L);
        }
    }

    @Override
    public int memRelease(long handle) {
        return call(cuMemRelease, handle);
    }

    @Override
    public int addressReserve(long[] ptr, long size, long alignment) {
        return outLong(cuMemAddressReserve, ptr, size, alignment, 0L, 0L);
    }

    @Override
    public int addressFree(long ptr, long size) {
        return call(cuMemAddressFree, ptr, size);
    }

    @Override
    public int memMap(long ptr, long size, long handle) {
        return call(cuMemMap, ptr, size, 0L, handle, 0L);
    }

    @Override
    public int memUnmap(long ptr, long size) {
        return call(cuMemUnmap, ptr, size);
    }

    @Override
    public int setAccess(long ptr, long size, int dev) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment d = a.allocate(ACCESS_SIZE, 4);
            d.set(JAVA_INT, 0, CU_MEM_LOCATION_TYPE_DEVICE);
            d.set(JAVA_INT, 4, dev);
            d.set(JAVA_INT, 8, CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
            return call(cuMemSetAccess, ptr, size, d, 1L);
        }
    }

    @Override
    public int exportFd(int[] fd, long handle) {
        return outInt(cuMemExportToShareableHandle, fd, handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0L);
    }

    @Override
    public int importFd(long[] handle, int fd) {
        // The POSIX fd travels in the pointer argument itself: (void*)(uintptr_t)fd.
        return outLong(cuMemImportFromShareableHandle, handle, (long) fd, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
    }

    @Override
    public int hostAlloc(long[] ptr, long size) {
        return outLong(cuMemHostAlloc, ptr, size, CU_MEMHOSTALLOC_PORTABLE);
    }

    @Override
    public int freeHost(long ptr) {
        return call(cuMemFreeHost, ptr);
    }

    @Override
    public int hostRegister(long ptr, long size, int flags) {
        return call(cuMemHostRegister, ptr, size, flags);
    }

    @Override
    public int hostUnregister(long ptr) {
        return call(cuMemHostUnregister, ptr);
    }

    @Override
    public int hostGetDevicePointer(long[] dptr, long hostPtr) {
        return outLong(cuMemHostGetDevicePointer, dptr, hostPtr, 0);
    }

    @Override
    public int streamCreate(long[] stream) {
        return outLong(cuStreamCreate, stream, CU_STREAM_NON_BLOCKING);
    }

    @Override
    public int streamDestroy(long stream) {
        return call(cuStreamDestroy, stream);
    }

    @Override
    public int streamSynchronize(long stream) {
        return call(cuStreamSynchronize, stream);
    }

    @Override
    public int memcpyHtoDAsync(long dst, long src, long bytes, long stream) {
        return call(cuMemcpyHtoDAsync, dst, src, bytes, stream);
    }

    @Override
    public int memcpyHtoD(long dst, long src, long bytes) {
        return call(cuMemcpyHtoD, dst, src, bytes);
    }

    @Override
    public int memcpyDtoH(long dst, long src, long bytes) {
        return call(cuMemcpyDtoH, dst, src, bytes);
    }

    @Override
    public int rangeDmaBufFd(int[] fd, long ptr, long size) {
        return outInt(cuMemGetHandleForAddressRange, fd, ptr, size, CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0L);
    }

    @Override
    public int memGetInfo(long[] free, long[] total) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG);
            MemorySegment t = a.allocate(JAVA_LONG);
            int r = call(cuMemGetInfo, f, t);
            free[0] = f.get(JAVA_LONG, 0);
            total[0] = t.get(JAVA_LONG, 0);
            return r;
        }
    }

    @Override
    public String errorName(int result) {
        if (cuGetErrorName == null) {
            return null;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            if (call(cuGetErrorName, result, p) != CUDA_SUCCESS) {
                return null;
            }
            MemorySegment s = p.get(ADDRESS, 0);
            return s.equals(MemorySegment.NULL) ? null : s.reinterpret(128).getString(0);
        }
    }
}

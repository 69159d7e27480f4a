package dev.daxload.bridge.cuda;

import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUmemAccessDesc_v1;
import org.bytedeco.cuda.cudart.CUmemAllocationProp_v1;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

import static org.bytedeco.cuda.global.cudart.*;

/**
 * {@link CuApi} through javacpp-presets CUDA ({@code org.bytedeco.cuda.global.cudart}), the
 * binding the design names. Its JNI library links {@code libcuda.so.1} and {@code libcudart.so.13};
 * constructing this class loads it, and throws {@link UnsatisfiedLinkError} (the first time) or
 * {@link NoClassDefFoundError} (after) where either is missing: {@link CudaDriver#probe()} catches
 * both.
 */
final class JavaCppCuApi implements CuApi {
    JavaCppCuApi() {
        Loader.load(org.bytedeco.cuda.global.cudart.class);
    }

    /** A JavaCPP pointer at a raw address we already hold (a host buffer, or an fd in a void*). */
    private static final class Raw extends Pointer {
        Raw(long address) {
            super((Pointer) null);
            this.address = address;
        }
    }

    private static CUstream_st stream(long s) {
        return new CUstream_st(new Raw(s));
    }

    private static CUmemAllocationProp_v1 prop(int dev) {
        CUmemAllocationProp_v1 p = new CUmemAllocationProp_v1();
        p.zero(); // no compression, no RDMA flag, no metadata
        p.type(CU_MEM_ALLOCATION_TYPE_PINNED);
        p.requestedHandleTypes(CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
        p.location().type(CU_MEM_LOCATION_TYPE_DEVICE).id(dev);
        return p;
    }

    @Override
    public String backendName() {
        return "javacpp (org.bytedeco cuda)";
    }

    @Override
    public int init() {
        return cuInit(0);
    }

    @Override
    public int driverVersion(int[] out) {
        return cuDriverGetVersion(out);
    }

    @Override
    public int deviceCount(int[] out) {
        return cuDeviceGetCount(out);
    }

    @Override
    public int deviceGet(int[] out, int ordinal) {
        return cuDeviceGet(out, ordinal);
    }

    @Override
    public int deviceName(String[] out, int dev) {
        byte[] buf = new byte[256];
        int r = cuDeviceGetName(buf, buf.length, dev);
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        out[0] = new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8);
        return r;
    }

    @Override
    public int deviceAttribute(int[] out, int attribute, int dev) {
        return cuDeviceGetAttribute(out, attribute, dev);
    }

    @Override
    public int primaryCtxRetain(long[] ctx, int dev) {
        CUctx_st c = new CUctx_st();
        int r = cuDevicePrimaryCtxRetain(c, dev);
        ctx[0] = c.address();
        return r;
    }

    @Override
    public int primaryCtxRelease(int dev) {
        return cuDevicePrimaryCtxRelease(dev);
    }

    @Override
    public int ctxSetCurrent(long ctx) {
        return cuCtxSetCurrent(new CUctx_st(new Raw(ctx)));
    }

    @Override
    public int allocationGranularity(long[] out, int dev, int option) {
        try (SizeTPointer g = new SizeTPointer(1); CUmemAllocationProp_v1 p = prop(dev)) {
            int r = cuMemGetAllocationGranularity(g, p, option);
            out[0] = g.get();
            return r;
        }
    }

    @Override
    public int memCreate(long[] handle, long size, int dev) {
        try (CUmemAllocationProp_v1 p = prop(dev)) {
            return cuMemCreate(handle, size, p, 0);
        }
    }

    @Override
    public int memRelease(long handle) {
        return cuMemRelease(handle);
    }

    @Override
    public int addressReserve(long[] ptr, long size, long alignment) {
        return cuMemAddressReserve(ptr, size, alignment, 0, 0);
    }

    @Override
    public int addressFree(long ptr, long size) {
        return cuMemAddressFree(ptr, size);
    }

    @Override
    public int memMap(long ptr, long size, long handle) {
        return cuMemMap(ptr, size, 0, handle, 0);
    }

    @Override
    public int memUnmap(long ptr, long size) {
        return cuMemUnmap(ptr, size);
    }

    @Override
    public int setAccess(long ptr, long size, int dev) {
        try (CUmemAccessDesc_v1 d = new CUmemAccessDesc_v1()) {
            d.zero();
            d.location().type(CU_MEM_LOCATION_TYPE_DEVICE).id(dev);
            d.flags(CU_MEM_ACCESS_FLAGS_PROT_READWRITE);
            return cuMemSetAccess(ptr, size, d, 1);
        }
    }

    @Override
    public int exportFd(int[] fd, long handle) {
        try (IntPointer p = new IntPointer(1)) {
            int r = cuMemExportToShareableHandle(p, handle, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0);
            fd[0] = p.get();
            return r;
        }
    }

    @Override
    public int importFd(long[] handle, int fd) {
        // The POSIX fd travels in the pointer argument itself: (void*)(uintptr_t)fd.
        return cuMemImportFromShareableHandle(handle, new Raw(fd), CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR);
    }

    @Override
    public int hostAlloc(long[] ptr, long size) {
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
            int r = cuMemHostAlloc(pp, size, CU_MEMHOSTALLOC_PORTABLE);
            Pointer p = pp.get(0);
            ptr[0] = p == null ? 0 : p.address();
            return r;
        }
    }

    @Override
    public int freeHost(long ptr) {
        return cuMemFreeHost(new Raw(ptr));
    }

    @Override
    public int hostRegister(long ptr, long size, int flags) {
        return cuMemHostRegister(new Raw(ptr), size, flags);
    }

    @Override
    public int hostUnregister(long ptr) {
        return cuMemHostUnregister(new Raw(ptr));
    }

    @Override
    public int hostGetDevicePointer(long[] dptr, long hostPtr) {
        return cuMemHostGetDevicePointer(dptr, new Raw(hostPtr), 0);
    }

    @Override
    public int streamCreate(long[] stream) {
        CUstream_st s = new CUstream_st();
        int r = cuStreamCreate(s, CU_STREAM_NON_BLOCKING);
        stream[0] = s.address();
        return r;
    }

    @Override
    public int streamDestroy(long stream) {
        return cuStreamDestroy(stream(stream));
    }

    @Override
    public int streamSynchronize(long stream) {
        return cuStreamSynchronize(stream(stream));
    }

    @Override
    public int memcpyHtoDAsync(long dst, long src, long bytes, long stream) {
        return cuMemcpyHtoDAsync(dst, new Raw(src), bytes, stream(stream));
    }

    @Override
    public int memcpyHtoD(long dst, long src, long bytes) {
        return cuMemcpyHtoD(dst, new Raw(src), bytes);
    }

    @Override
    public int memcpyDtoH(long dst, long src, long bytes) {
        return cuMemcpyDtoH(new Raw(dst), src, bytes);
    }

    @Override
    public int rangeDmaBufFd(int[] fd, long ptr, long size) {
        try (IntPointer p = new IntPointer(1)) {
            int r = cuMemGetHandleForAddressRange(p, ptr, size, CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD, 0);
            fd[0] = p.get();
            return r;
        }
    }

    @Override
    public int memGetInfo(long[] free, long[] total) {
        try (SizeTPointer f = new SizeTPointer(1); SizeTPointer t = new SizeTPointer(1)) {
            int r = cuMemGetInfo(f, t);
            free[0] = f.get();
            total[0] = t.get();
            return r;
        }
    }

    @Override
    public String errorName(int result) {
        try (PointerPointer<Pointer> pp = new PointerPointer<>(1)) {
            if (cuGetErrorName(result, pp) != CUDA_SUCCESS || pp.get(0) == null) {
                return null;
            }
            return pp.getString(0);
        }
    }
}

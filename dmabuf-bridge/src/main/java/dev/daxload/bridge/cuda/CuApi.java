package dev.daxload.bridge.cuda;

/**
 * The CUDA driver calls daxload makes, with every handle as a plain {@code long}, every result a
 * {@code CUresult} and every output in a one-element array. Two real backends implement it:
 * {@link JavaCppCuApi} (javacpp-presets CUDA, which also needs {@code libcudart.so.13}) and
 * {@link FfmCuApi} (the driver library {@code libcuda.so.1} alone, through the FFM API), so the
 * logic above it ({@link DeviceImage}, {@link HostImage}) is written once, and a stand-in can
 * test that logic where there is no GPU.
 *
 * <p>The fixed choices live in the backends, not in callers: device allocations are
 * {@code CU_MEM_ALLOCATION_TYPE_PINNED} on the device, shareable as POSIX fds; access is
 * read-write for the one device.
 */
interface CuApi {
    int CUDA_SUCCESS = 0;
    int CUDA_ERROR_INVALID_VALUE = 1;
    int CUDA_ERROR_OUT_OF_MEMORY = 2;
    int CUDA_ERROR_NOT_INITIALIZED = 3;
    int CUDA_ERROR_NOT_SUPPORTED = 801;
    int CUDA_ERROR_NO_DEVICE = 100;

    int CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED = 99;
    int CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED = 102;
    int CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED = 103;
    int CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED = 113;
    int CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED = 124;

    int CU_MEM_ALLOC_GRANULARITY_MINIMUM = 0;
    int CU_MEM_ALLOC_GRANULARITY_RECOMMENDED = 1;

    int CU_MEMHOSTREGISTER_PORTABLE = 1;
    int CU_MEMHOSTREGISTER_DEVICEMAP = 2;
    /** Pages the process may only read (a read-only file mapping): the device gets read access only. */
    int CU_MEMHOSTREGISTER_READ_ONLY = 8;

    /** @return a short name for messages ("javacpp", "ffm", "stand-in") */
    String backendName();

    int init();

    int driverVersion(int[] out);

    int deviceCount(int[] out);

    int deviceGet(int[] out, int ordinal);

    int deviceName(String[] out, int dev);

    int deviceAttribute(int[] out, int attribute, int dev);

    int primaryCtxRetain(long[] ctx, int dev);

    int primaryCtxRelease(int dev);

    int ctxSetCurrent(long ctx);

    /** Granularity for a pinned, POSIX-fd-shareable allocation on {@code dev}. */
    int allocationGranularity(long[] out, int dev, int option);

    /** {@code cuMemCreate}: pinned device memory on {@code dev}, shareable as a POSIX fd. */
    int memCreate(long[] handle, long size, int dev);

    int memRelease(long handle);

    int addressReserve(long[] ptr, long size, long alignment);

    int addressFree(long ptr, long size);

    int memMap(long ptr, long size, long handle);

    int memUnmap(long ptr, long size);

    /** {@code cuMemSetAccess}: read-write for {@code dev}. */
    int setAccess(long ptr, long size, int dev);

    /** {@code cuMemExportToShareableHandle} as {@code CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR}. */
    int exportFd(int[] fd, long handle);

    /** {@code cuMemImportFromShareableHandle} of a POSIX fd; the fd stays the caller's. */
    int importFd(long[] handle, int fd);

    /** {@code cuMemHostAlloc(PORTABLE)}: page-locked host memory the DMA engines read directly. */
    int hostAlloc(long[] ptr, long size);

    int freeHost(long ptr);

    int hostRegister(long ptr, long size, int flags);

    int hostUnregister(long ptr);

    int hostGetDevicePointer(long[] dptr, long hostPtr);

    /** {@code cuStreamCreate(CU_STREAM_NON_BLOCKING)}. */
    int streamCreate(long[] stream);

    int streamDestroy(long stream);

    int streamSynchronize(long stream);

    int memcpyHtoDAsync(long dst, long src, long bytes, long stream);

    int memcpyHtoD(long dst, long src, long bytes);

    int memcpyDtoH(long dst, long src, long bytes);

    /** {@code cuMemGetInfo}: free and total memory of the current context's device. */
    int memGetInfo(long[] free, long[] total);

    /** {@code cuMemGetHandleForAddressRange(CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD)}. */
    int rangeDmaBufFd(int[] fd, long ptr, long size);

    /** @return the result's name ("CUDA_ERROR_OUT_OF_MEMORY"), or null */
    String errorName(int result);
}

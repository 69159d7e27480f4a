package dev.daxload.bridge.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A stand-in for the CUDA driver, for the logic above {@link CuApi} only: "device memory" is host
 * memory, addresses are made up, and every live resource is counted so a test can prove that each
 * path releases what it acquired. {@link #failAt} makes the n-th call fail, to walk every error path.
 * It proves nothing about the real driver: that is what the GPU tests and gpu/run-gpu-checks.sh do.
 */
final class FakeCuApi implements CuApi {
    static final long GRANULARITY = 2 << 20;

    private final Arena arena = Arena.ofShared();
    private final Map<Long, MemorySegment> handles = new HashMap<>();      // handle -> backing memory
    private final TreeMap<Long, Long> reservations = new TreeMap<>();      // va -> size
    private final TreeMap<Long, Long> mappings = new TreeMap<>();          // va -> handle
    private final Map<Long, MemorySegment> pinned = new HashMap<>();
    private final Set<Long> streams = new HashSet<>();
    private final Set<Long> registered = new HashSet<>();
    private final Set<Integer> exportedFds = new HashSet<>();
    private int contexts;
    private long next = 0x7f00_0000_0000L;
    private int calls;
    private int failAt = -1;
    int asyncCopies;
    int maxInFlightPerStream; // never more than one unsynchronized copy per buffer

    private final Map<Long, Integer> inFlight = new HashMap<>();

    /** Makes call number {@code n} (1-based, counted from now) return CUDA_ERROR_OUT_OF_MEMORY. */
    void failAt(int n) {
        calls = 0;
        failAt = n;
    }

    int calls() {
        return calls;
    }

    private boolean fail() {
        return ++calls == failAt;
    }

    /** @return a description of everything still held, empty when nothing is */
    String live() {
        StringBuilder sb = new StringBuilder();
        if (!handles.isEmpty()) sb.append(handles.size()).append(" handles ");
        if (!reservations.isEmpty()) sb.append(reservations.size()).append(" reservations ");
        if (!mappings.isEmpty()) sb.append(mappings.size()).append(" mappings ");
        if (!pinned.isEmpty()) sb.append(pinned.size()).append(" pinned buffers ");
        if (!streams.isEmpty()) sb.append(streams.size()).append(" streams ");
        if (!registered.isEmpty()) sb.append(registered.size()).append(" host registrations ");
        if (contexts != 0) sb.append(contexts).append(" contexts ");
        return sb.toString().strip();
    }

    private MemorySegment device(long va, long n) {
        Map.Entry<Long, Long> m = mappings.floorEntry(va);
        if (m == null) {
            throw new IllegalStateException("device address 0x" + Long.toHexString(va) + " is not mapped");
        }
        MemorySegment backing = handles.get(m.getValue());
        long off = va - m.getKey();
        if (off + n > backing.byteSize()) {
            throw new IllegalStateException("copy past the mapping");
        }
        return backing.asSlice(off, n);
    }

    @Override public synchronized String backendName() { return "stand-in"; }
    @Override public synchronized int init() { return fail() ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS; }
    @Override public synchronized int driverVersion(int[] out) { out[0] = 13000; return CUDA_SUCCESS; }
    @Override public synchronized int deviceCount(int[] out) { out[0] = 1; return CUDA_SUCCESS; }
    @Override public synchronized int deviceGet(int[] out, int ordinal) { if (fail()) return CUDA_ERROR_INVALID_VALUE; out[0] = ordinal; return CUDA_SUCCESS; }
    @Override public synchronized int deviceName(String[] out, int dev) { out[0] = "stand-in GPU"; return CUDA_SUCCESS; }
    @Override public synchronized int deviceAttribute(int[] out, int attribute, int dev) { out[0] = 1; return CUDA_SUCCESS; }

    @Override public synchronized int primaryCtxRetain(long[] ctx, int dev) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        contexts++;
        ctx[0] = 0xc0ffee;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int primaryCtxRelease(int dev) { contexts--; return CUDA_SUCCESS; }
    @Override public synchronized int ctxSetCurrent(long ctx) { return fail() ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS; }

    @Override public synchronized int allocationGranularity(long[] out, int dev, int option) {
        if (fail()) return CUDA_ERROR_NOT_SUPPORTED;
        out[0] = GRANULARITY;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memCreate(long[] handle, long size, int dev) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        if (size % GRANULARITY != 0) return CUDA_ERROR_INVALID_VALUE;
        long h = next++;
        handles.put(h, arena.allocate(size, 4096));
        handle[0] = h;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memRelease(long handle) { return handles.remove(handle) != null ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

    @Override public synchronized int addressReserve(long[] ptr, long size, long alignment) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        long va = (next += 1L << 32) & ~(alignment - 1);
        reservations.put(va, size);
        ptr[0] = va;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int addressFree(long ptr, long size) {
        if (mappings.containsKey(ptr)) return CUDA_ERROR_INVALID_VALUE; // still mapped: wrong release order
        return reservations.remove(ptr) != null ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    }

    @Override public synchronized int memMap(long ptr, long size, long handle) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        if (!reservations.containsKey(ptr) || !handles.containsKey(handle) || handles.get(handle).byteSize() != size) {
            return CUDA_ERROR_INVALID_VALUE;
        }
        mappings.put(ptr, handle);
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memUnmap(long ptr, long size) { return mappings.remove(ptr) != null ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
    @Override public synchronized int setAccess(long ptr, long size, int dev) { return fail() ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS; }

    @Override public synchronized int exportFd(int[] fd, long handle) {
        if (fail()) return CUDA_ERROR_NOT_SUPPORTED;
        // A real fd (a memfd) stands for the export, so NativeFd can own and close it.
        int f = (int) dev.daxload.bridge.linux.LinuxNative.memfdCreate(dev.daxload.bridge.linux.LinuxNative.cString("fake-cuda-export"), 0, 0);
        exportedFds.add(f);
        exports.put(f, handle);
        fd[0] = f;
        return CUDA_SUCCESS;
    }

    private final Map<Integer, Long> exports = new HashMap<>();
    private final Map<Long, Long> importedFrom = new HashMap<>();

    @Override public synchronized int importFd(long[] handle, int fd) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        Long source = exports.get(fd);
        if (source == null || !handles.containsKey(source)) return CUDA_ERROR_INVALID_VALUE;
        // A second handle to the same memory, like the real import.
        long h = next++;
        handles.put(h, handles.get(source));
        handle[0] = h;
        return CUDA_SUCCESS;
    }

    /** Lets a test import an fd number it duplicated (the real driver resolves the file, not the number). */
    void aliasExport(int newFd, int exportedFd) {
        exports.put(newFd, exports.get(exportedFd));
    }

    @Override public synchronized int hostAlloc(long[] ptr, long size) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        MemorySegment s = arena.allocate(size, 4096);
        pinned.put(s.address(), s);
        ptr[0] = s.address();
        return CUDA_SUCCESS;
    }

    @Override public synchronized int freeHost(long ptr) { return pinned.remove(ptr) != null ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

    @Override public synchronized int hostRegister(long ptr, long size, int flags) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        registered.add(ptr);
        return CUDA_SUCCESS;
    }

    @Override public synchronized int hostUnregister(long ptr) { return registered.remove(ptr) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
    @Override public synchronized int hostGetDevicePointer(long[] dptr, long hostPtr) { dptr[0] = hostPtr; return CUDA_SUCCESS; }

    @Override public synchronized int streamCreate(long[] stream) {
        if (fail()) return CUDA_ERROR_OUT_OF_MEMORY;
        long s = next++;
        streams.add(s);
        stream[0] = s;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int streamDestroy(long stream) { inFlight.remove(stream); return streams.remove(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

    @Override public synchronized int streamSynchronize(long stream) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        inFlight.put(stream, 0);
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memcpyHtoDAsync(long dst, long src, long bytes, long stream) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        if (!streams.contains(stream) || !(pinned.containsKey(src) || registered.contains(src))) return CUDA_ERROR_INVALID_VALUE; // only from pinned memory
        int n = inFlight.merge(stream, 1, Integer::sum);
        maxInFlightPerStream = Math.max(maxInFlightPerStream, n);
        asyncCopies++;
        MemorySegment.copy(MemorySegment.ofAddress(src).reinterpret(bytes), 0, device(dst, bytes), 0, bytes);
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memcpyHtoD(long dst, long src, long bytes) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        MemorySegment.copy(MemorySegment.ofAddress(src).reinterpret(bytes), 0, device(dst, bytes), 0, bytes);
        return CUDA_SUCCESS;
    }

    @Override public synchronized int memcpyDtoH(long dst, long src, long bytes) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        if (registered.contains(src) || mappings.floorEntry(src) == null) {
            // host-registered memory: the "device pointer" is the host address
            MemorySegment.copy(MemorySegment.ofAddress(src).reinterpret(bytes), 0, MemorySegment.ofAddress(dst).reinterpret(bytes), 0, bytes);
        } else {
            MemorySegment.copy(device(src, bytes), 0, MemorySegment.ofAddress(dst).reinterpret(bytes), 0, bytes);
        }
        return CUDA_SUCCESS;
    }

    static final long TOTAL = 80L << 30;

    @Override public synchronized int memGetInfo(long[] free, long[] total) {
        if (fail()) return CUDA_ERROR_INVALID_VALUE;
        long used = handles.values().stream().mapToLong(MemorySegment::byteSize).sum();
        free[0] = TOTAL - used;
        total[0] = TOTAL;
        return CUDA_SUCCESS;
    }

    @Override public synchronized int rangeDmaBufFd(int[] fd, long ptr, long size) { return CUDA_ERROR_NOT_SUPPORTED; }

    @Override public synchronized String errorName(int result) {
        return switch (result) {
            case CUDA_ERROR_OUT_OF_MEMORY -> "CUDA_ERROR_OUT_OF_MEMORY";
            case CUDA_ERROR_INVALID_VALUE -> "CUDA_ERROR_INVALID_VALUE";
            case CUDA_ERROR_NOT_SUPPORTED -> "CUDA_ERROR_NOT_SUPPORTED";
            default -> null;
        };
    }
}

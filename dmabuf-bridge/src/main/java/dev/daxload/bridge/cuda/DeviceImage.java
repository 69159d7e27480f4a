package dev.daxload.bridge.cuda;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.image.DaxImage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A DAXFS image in GPU memory: copied in once, shared with other processes by fd, never copied
 * again. The memory is a CUDA VMM allocation ({@code cuMemCreate} with a POSIX-fd shareable
 * handle, {@code cuMemAddressReserve}, {@code cuMemMap}, {@code cuMemSetAccess}), so
 * {@link #exportFd()} gives an fd that another process turns into the same device memory with
 * {@link #attach} (NVIDIA's {@code memMapIPCDrv} pattern; unlike legacy IPC handles it needs no
 * shared PID namespace).
 *
 * <p>A tensor's device pointer is {@link #pointer(long) base + its offset in the image}: the
 * layout in device memory is the image's own.
 *
 * <p>{@link #close()} unmaps, frees the address range and releases the handle, in that order; the
 * physical memory lives on while another process still maps it. Every error path releases what
 * it acquired.
 */
public final class DeviceImage implements AutoCloseable {
    /**
     * How an upload went.
     *
     * @param bytes the image bytes copied
     * @param nanos wall time of the copy (pinned staging included)
     * @param chunks pieces copied
     * @param chunkSize the piece size
     */
    public record UploadStats(long bytes, long nanos, int chunks, long chunkSize) {
        /** @return GB/s (10^9 bytes/s) */
        public double gbPerSecond() {
            return ChunkPlan.gbPerSecond(bytes, nanos);
        }
    }

    /**
     * What the attempt to mount the device memory as DAXFS gave.
     *
     * @param mounted whether the kernel accepted it (not expected with NVIDIA's exporter)
     * @param report one line: what happened and why
     */
    public record MountAttempt(boolean mounted, String report) {}

    private final CudaDriver cu;
    private final long handle;
    private final long base;
    private final long allocationSize;
    private final long imageSize;
    private final String source;
    private final boolean imported;
    private final Undo release;
    private final UploadStats stats;
    private volatile boolean closed;

    private DeviceImage(CudaDriver cu, long handle, long base, long allocationSize, long imageSize, String source,
                        boolean imported, Undo release, UploadStats stats) {
        this.cu = cu;
        this.handle = handle;
        this.base = base;
        this.allocationSize = allocationSize;
        this.imageSize = imageSize;
        this.source = source;
        this.imported = imported;
        this.release = release;
        this.stats = stats;
    }

    /**
     * Copies an open image to the device.
     *
     * @param cu the open driver
     * @param image the image
     * @return the device copy
     * @throws CudaException if an allocation or copy fails (nothing is left allocated)
     */
    public static DeviceImage upload(CudaDriver cu, DaxImage image) throws CudaException {
        return upload(cu, image.segment(), image.source(), ChunkPlan.DEFAULT_CHUNK);
    }

    /**
     * Maps an image file read-only and copies it to the device; the file mapping is gone when
     * this returns.
     *
     * @param cu the open driver
     * @param file the image file
     * @return the device copy
     * @throws IOException if the file cannot be mapped, or a {@link CudaException}
     */
    public static DeviceImage upload(CudaDriver cu, Path file) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return upload(cu, ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena), file.toString(), ChunkPlan.DEFAULT_CHUNK);
        }
    }

    /**
     * Copies {@code image} to a new VMM allocation on the driver's device: pieces of
     * {@code chunkSize} go through two pinned buffers on two streams, so the CPU's copy of one
     * piece overlaps the DMA of the previous.
     *
     * @param cu the open driver
     * @param image the bytes (any host memory)
     * @param source a name for messages
     * @param chunkSize the piece size
     * @return the device copy
     * @throws CudaException if an allocation or copy fails (nothing is left allocated)
     */
    public static DeviceImage upload(CudaDriver cu, MemorySegment image, String source, long chunkSize) throws CudaException {
        long size = image.byteSize();
        if (size == 0) {
            throw new IllegalArgumentException(source + ": empty image");
        }
        cu.makeCurrent();
        CuApi api = cu.api();
        Undo undo = new Undo(api);
        try {
            Mapped m = allocateAndMap(cu, undo, size, null);
            long t0 = System.nanoTime();
            List<ChunkPlan.Chunk> plan = copyIn(api, m.base, image, ChunkPlan.chunkFor(size, chunkSize));
            long nanos = System.nanoTime() - t0;
            UploadStats stats = new UploadStats(size, nanos, plan.size(), ChunkPlan.chunkFor(size, chunkSize));
            return new DeviceImage(cu, m.handle, m.base, m.size, size, source, false, undo, stats);
        } catch (CudaException | RuntimeException | Error e) {
            undo.runAll(e);
            throw e;
        }
    }

    /**
     * Maps device memory that another process exported ({@link #exportFd()}): no copy.
     *
     * @param cu the open driver (same GPU as the exporter's)
     * @param fd the exported fd; stays the caller's (the import takes its own reference)
     * @param allocationSize the exporter's {@link #allocationSize()}
     * @param imageSize the image's size within it
     * @return the attached image
     * @throws CudaException if import or mapping fails (nothing is left allocated)
     */
    public static DeviceImage attach(CudaDriver cu, NativeFd fd, long allocationSize, long imageSize) throws CudaException {
        if (imageSize <= 0 || imageSize > allocationSize) {
            throw new IllegalArgumentException("image size " + imageSize + " does not fit allocation " + allocationSize);
        }
        cu.makeCurrent();
        Undo undo = new Undo(cu.api());
        try {
            Mapped m = allocateAndMap(cu, undo, allocationSize, fd);
            return new DeviceImage(cu, m.handle, m.base, m.size, imageSize, "attached fd " + fd.what(), true, undo, null);
        } catch (CudaException | RuntimeException | Error e) {
            undo.runAll(e);
            throw e;
        }
    }

    private record Mapped(long handle, long base, long size) {}

    /** Creates (or imports) the physical memory, reserves a range, maps it, grants access. */
    private static Mapped allocateAndMap(CudaDriver cu, Undo undo, long size, NativeFd importFrom) throws CudaException {
        CuApi api = cu.api();
        int dev = cu.device();
        long[] out = new long[1];
        CudaDriver.check(api, api.allocationGranularity(out, dev, CuApi.CU_MEM_ALLOC_GRANULARITY_MINIMUM),
                "cuMemGetAllocationGranularity", "this device or driver has no virtual memory management (VMM): a newer driver is needed");
        long granularity = out[0];
        long alloc = ChunkPlan.roundUp(size, granularity);
        if (importFrom != null && alloc != size) {
            throw new IllegalArgumentException("allocation size " + size + " is not a multiple of the granularity " + granularity);
        }
        long handle;
        if (importFrom == null) {
            CudaDriver.check(api, api.memCreate(out, alloc, dev), "cuMemCreate(" + alloc + " bytes, POSIX fd shareable)",
                    "the device has no " + alloc + " bytes free, or does not support POSIX fd handles");
        } else {
            CudaDriver.check(api, api.importFd(out, importFrom.fd()), "cuMemImportFromShareableHandle(" + importFrom.what() + ")",
                    "the fd is not a CUDA VMM export (or comes from another GPU)");
        }
        handle = out[0];
        undo.push("cuMemRelease", () -> api.memRelease(handle));
        CudaDriver.check(api, api.addressReserve(out, alloc, granularity), "cuMemAddressReserve(" + alloc + ")");
        long base = out[0];
        undo.push("cuMemAddressFree", () -> api.addressFree(base, alloc));
        CudaDriver.check(api, api.memMap(base, alloc, handle), "cuMemMap(" + alloc + ")");
        undo.push("cuMemUnmap", () -> api.memUnmap(base, alloc));
        CudaDriver.check(api, api.setAccess(base, alloc, dev), "cuMemSetAccess(read-write)");
        return new Mapped(handle, base, alloc);
    }

    /** The pipelined copy; its pinned buffers and streams are released before it returns. */
    private static List<ChunkPlan.Chunk> copyIn(CuApi api, long dst, MemorySegment src, long chunk) throws CudaException {
        List<ChunkPlan.Chunk> plan = ChunkPlan.of(src.byteSize(), chunk);
        int n = ChunkPlan.buffersFor(plan.size());
        long[] pinned = new long[n];
        long[] streams = new long[n];
        Undo local = new Undo(api);
        try {
            long[] out = new long[1];
            for (int b = 0; b < n; b++) {
                CudaDriver.check(api, api.hostAlloc(out, chunk), "cuMemHostAlloc(" + chunk + ")",
                        "cannot pin " + chunk + " bytes of host memory (ulimit -l?)");
                long p = out[0];
                pinned[b] = p;
                local.push("cuMemFreeHost", () -> api.freeHost(p));
                CudaDriver.check(api, api.streamCreate(out), "cuStreamCreate");
                long s = out[0];
                streams[b] = s;
                // A stream is drained before its buffer is freed (releases run newest first).
                local.push("cuStreamSynchronize+cuStreamDestroy", () -> {
                    // Destroy even when the drain fails, but report the failure: a copy that
                    // did not finish means the device image is not whole.
                    int drained = api.streamSynchronize(s);
                    int destroyed = api.streamDestroy(s);
                    return drained != CuApi.CUDA_SUCCESS ? drained : destroyed;
                });
            }
            for (ChunkPlan.Chunk c : plan) {
                int b = c.index() % n;
                if (c.index() >= n) {
                    // Buffer b's previous piece must have left before we overwrite it.
                    CudaDriver.check(api, api.streamSynchronize(streams[b]), "cuStreamSynchronize");
                }
                MemorySegment.copy(src, c.offset(), MemorySegment.ofAddress(pinned[b]).reinterpret(chunk), 0, c.length());
                CudaDriver.check(api, api.memcpyHtoDAsync(dst + c.offset(), pinned[b], c.length(), streams[b]),
                        "cuMemcpyHtoDAsync(piece " + c.index() + ", " + c.length() + " bytes)");
            }
            for (long s : streams) {
                CudaDriver.check(api, api.streamSynchronize(s), "cuStreamSynchronize");
            }
        } catch (CudaException | RuntimeException | Error e) {
            local.runAll(e);
            throw e;
        }
        local.runAll();
        return plan;
    }

    /**
     * Measures a plain {@code cuMemcpyHtoD} of the same bytes from one pinned buffer as large as
     * the image, into this image's memory (the bytes are the same, so the image stays intact):
     * the reference the chunked upload is judged against. Pinning the buffer and filling it are
     * not timed.
     *
     * @param image the same bytes that were uploaded
     * @return the plain copy's stats (one chunk)
     * @throws CudaException if the host memory cannot be pinned or the copy fails
     */
    public UploadStats measurePlainCopy(MemorySegment image) throws CudaException {
        ensureOpen();
        if (image.byteSize() != imageSize) {
            throw new IllegalArgumentException("the bytes given are not this image's (" + image.byteSize() + " != " + imageSize + ")");
        }
        cu.makeCurrent();
        CuApi api = cu.api();
        long[] out = new long[1];
        CudaDriver.check(api, api.hostAlloc(out, imageSize), "cuMemHostAlloc(" + imageSize + ")",
                "cannot pin " + imageSize + " bytes of host memory for the reference copy");
        long pinned = out[0];
        try {
            MemorySegment.copy(image, 0, MemorySegment.ofAddress(pinned).reinterpret(imageSize), 0, imageSize);
            long t0 = System.nanoTime();
            CudaDriver.check(api, api.memcpyHtoD(base, pinned, imageSize), "cuMemcpyHtoD(" + imageSize + ")");
            return new UploadStats(imageSize, System.nanoTime() - t0, 1, imageSize);
        } finally {
            api.freeHost(pinned);
        }
    }

    /**
     * Exports the allocation as a POSIX fd for {@link #attach} in another process (send it with
     * {@code UnixSocket.sendFds}).
     *
     * @return a new fd, the caller's to close
     * @throws CudaException if the driver refuses
     */
    public NativeFd exportFd() throws CudaException {
        ensureOpen();
        cu.makeCurrent();
        int[] fd = new int[1];
        CudaDriver.check(cu.api(), cu.api().exportFd(fd, handle), "cuMemExportToShareableHandle(POSIX fd)");
        return NativeFd.adopt(fd[0], "CUDA VMM export of " + source);
    }

    /**
     * Exports the device range as a dma-buf ({@code cuMemGetHandleForAddressRange} with
     * {@code CU_MEM_RANGE_HANDLE_TYPE_DMA_BUF_FD}).
     *
     * @return the dma-buf, the caller's to close
     * @throws CudaException where the driver cannot (needs the open kernel modules and
     *         {@code CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED})
     */
    public NativeFd dmaBufFd() throws CudaException {
        ensureOpen();
        cu.makeCurrent();
        int[] fd = new int[1];
        CudaDriver.check(cu.api(), cu.api().rangeDmaBufFd(fd, base, allocationSize),
                "cuMemGetHandleForAddressRange(DMA_BUF_FD, " + allocationSize + ")",
                cu.info().dmaBuf() ? null : "this device/driver reports no dma-buf support (CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED=0; needs NVIDIA's open kernel modules)");
        return NativeFd.adopt(fd[0], "CUDA dma-buf of " + source);
    }

    /**
     * Tries to mount the device memory itself as DAXFS through its dma-buf, and says what the
     * kernel answered. With NVIDIA's exporter the expected answer is a refusal: its dma-bufs have
     * no kernel vmap, which daxfs needs (see daxfs-format.md), so the working shapes are this
     * device copy for GPU reads and a {@link HostImage} for the mount.
     *
     * @param dir an existing directory
     * @return whether it mounted (then it was unmounted again) and one line saying why or why not
     */
    public MountAttempt tryMountDaxfs(Path dir) {
        NativeFd buf;
        try {
            buf = dmaBufFd();
        } catch (CudaException e) {
            return new MountAttempt(false, "no dma-buf to mount: " + e.getMessage());
        }
        try (buf; DaxfsMount m = DaxfsMount.mountDmaBuf(buf, dir, false)) {
            return new MountAttempt(true, "the kernel mounted the GPU dma-buf as daxfs at " + dir + " (unmounted again)");
        } catch (LinuxException e) {
            String why = switch (e.errno()) {
                case Errno.EINVAL -> "the kernel refused the GPU dma-buf (EINVAL): NVIDIA's dma-buf exporter has no kernel vmap, "
                        + "which daxfs needs to read the image; mount a HostImage's udmabuf instead. Kernel: " + e.getMessage();
                case Errno.ENODEV -> "no daxfs filesystem in this kernel: " + e.getMessage();
                default -> "the mount failed: " + e.getMessage();
            };
            return new MountAttempt(false, why);
        }
    }

    /**
     * Copies bytes back from the device (to prove what is there; not a fast path).
     *
     * @param offset the offset in the image
     * @param length how many bytes
     * @return the bytes
     * @throws CudaException if the copy fails
     */
    public byte[] read(long offset, int length) throws CudaException {
        ensureOpen();
        if (offset < 0 || length < 0 || offset + length > allocationSize) {
            throw new IndexOutOfBoundsException("[" + offset + ", +" + length + ") outside " + allocationSize);
        }
        cu.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, length));
            CudaDriver.check(cu.api(), cu.api().memcpyDtoH(host.address(), base + offset, length), "cuMemcpyDtoH(" + length + ")");
            return host.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * @param offset an offset in the image (a tensor's {@code offset} from the manifest)
     * @return the device pointer to it
     */
    public long pointer(long offset) {
        ensureOpen();
        if (offset < 0 || offset >= imageSize) {
            throw new IndexOutOfBoundsException("offset " + offset + " outside the image (" + imageSize + " bytes)");
        }
        return base + offset;
    }

    /** @return the device address of the image's first byte */
    public long base() {
        return base;
    }

    /** @return the image's size */
    public long imageSize() {
        return imageSize;
    }

    /** @return the allocation's size: the image's, rounded up to the device's granularity */
    public long allocationSize() {
        return allocationSize;
    }

    /** @return the device ordinal */
    public int deviceOrdinal() {
        return cu.info().ordinal();
    }

    /** @return whether this process imported the memory rather than copying it in */
    public boolean isAttached() {
        return imported;
    }

    /** @return the upload's stats, or null for an attached image */
    public UploadStats uploadStats() {
        return stats;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device image " + source + " is closed");
        }
    }

    /**
     * Unmaps and releases, once.
     *
     * @throws UncheckedIOException wrapping the first {@link CudaException}, after every release ran
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            try {
                cu.makeCurrent();
            } catch (CudaException | IllegalStateException e) {
                // Release anyway: the calls name their memory explicitly; a stale current
                // context only matters for stream work, of which there is none here.
            }
            release.runAll();
        } catch (CudaException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return "DeviceImage[" + source + ", device " + cu.info().ordinal() + ", 0x" + Long.toHexString(base) + ", "
                + imageSize + " bytes" + (imported ? ", attached" : "") + (closed ? ", closed]" : "]");
    }
}

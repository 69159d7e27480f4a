package dev.daxload.bridge.cuda;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.image.DaxImage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

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
     * How the bytes travel from host memory to the device.
     *
     * <p>{@link Staged}: the CPU copies pieces into page-locked buffers and the DMA engines copy
     * those to the device; with several workers the CPU copies run in parallel, which is what it
     * takes to keep up with the bus when the source is pageable (page cache, a memfd).
     * {@link Registered}: the source's own pages are pinned in place ({@code cuMemHostRegister})
     * and copied by DMA with no CPU copy at all; pinning costs time per page and needs a driver
     * that can pin the kind of memory the source is (read-only file pages need
     * {@code CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED}).
     */
    public sealed interface UploadMethod permits Staged, Registered {
        /** @return a short name for reports */
        String describe();
    }

    /**
     * Pinned staging buffers.
     *
     * @param chunkSize the piece size
     * @param threads CPU workers, each with two pinned buffers on two streams
     */
    public record Staged(long chunkSize, int threads) implements UploadMethod {
        public Staged {
            if (chunkSize <= 0 || threads <= 0) {
                throw new IllegalArgumentException("chunk size and threads must be positive: " + chunkSize + ", " + threads);
            }
        }

        /**
         * @return 4 MiB pieces (pinning larger buffers costs more than it saves: see
         *         docs/benchmarks.md), {@link #defaultThreads()} workers
         */
        public static Staged defaults() {
            return new Staged(4L << 20, defaultThreads());
        }

        /** @return half the CPUs, 1 to 8: enough CPU copies to fill a PCIe 5 link, leaving CPUs for the rest */
        public static int defaultThreads() {
            return Math.clamp(Runtime.getRuntime().availableProcessors() / 2, 1, 8);
        }

        @Override
        public String describe() {
            return "staged " + (chunkSize >> 20) + " MiB x " + threads + " thread" + (threads == 1 ? "" : "s");
        }
    }

    /**
     * The source pinned in place for the copy, then unpinned.
     *
     * <p>With a {@code pieceSize}, {@code threads} workers pin pieces side by side, each piece's DMA
     * starts as soon as it is pinned and it is unpinned once its DMA is done, so pinning, copying and
     * unpinning overlap.
     *
     * @param readOnly the source mapping is read-only (registers with {@code CU_MEMHOSTREGISTER_READ_ONLY})
     * @param pieceSize bytes pinned at a time (a multiple of 4 KiB), or 0 for the whole source at once
     * @param threads workers pinning pieces
     */
    public record Registered(boolean readOnly, long pieceSize, int threads) implements UploadMethod {
        public Registered {
            if (pieceSize < 0 || threads < 1) {
                throw new IllegalArgumentException("piece size must be >= 0 and threads >= 1: " + pieceSize + ", " + threads);
            }
        }

        /**
         * The whole source pinned at once by one thread, then one DMA.
         *
         * @param readOnly the source mapping is read-only
         */
        public Registered(boolean readOnly) {
            this(readOnly, 0, 1);
        }

        @Override
        public String describe() {
            return "registered" + (readOnly ? " read-only" : "")
                    + (pieceSize > 0 ? " " + (pieceSize >> 20) + " MiB x " + threads + " threads" : "");
        }
    }

    /**
     * How an upload went.
     *
     * @param bytes the image bytes copied
     * @param nanos wall time of the whole copy: pinning or staging buffers included
     * @param chunks pieces copied
     * @param chunkSize the piece size
     * @param method how the bytes travelled
     * @param setupNanos the part of {@code nanos} spent pinning and unpinning the source (registered), or
     *        allocating the staging buffers and streams (staged: the slowest worker's)
     */
    public record UploadStats(long bytes, long nanos, int chunks, long chunkSize, String method, long setupNanos) {
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
    private volatile UploadStats stats;
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
        return upload(cu, image.segment(), image.source(), Staged.defaults());
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
        return upload(cu, file, Staged.defaults());
    }

    /**
     * Maps an image file read-only and copies it to the device by {@code method}; the file
     * mapping is gone when this returns.
     *
     * @param cu the open driver
     * @param file the image file
     * @param method staged or registered ({@link Registered} should say {@code readOnly})
     * @return the device copy
     * @throws IOException if the file cannot be mapped, or a {@link CudaException}
     */
    public static DeviceImage upload(CudaDriver cu, Path file, UploadMethod method) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return filled(allocate(cu, ch.size(), file.toString()), d -> d.copyFrom(ch, method));
        }
    }

    /** What fills a new device image. */
    @FunctionalInterface
    private interface Fill<E extends IOException> {
        void into(DeviceImage d) throws E;
    }

    /** Fills {@code d}; on failure releases it, so an upload that fails leaves nothing allocated. */
    private static <E extends IOException> DeviceImage filled(DeviceImage d, Fill<E> fill) throws E {
        try {
            fill.into(d);
            return d;
        } catch (IOException | RuntimeException | Error e) {
            try {
                d.close();
            } catch (RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    /**
     * Copies {@code image} to a new VMM allocation on the driver's device through two staging
     * buffers on two streams, from the calling thread alone (see {@link Staged} for more workers).
     *
     * @param cu the open driver
     * @param image the bytes (any host memory)
     * @param source a name for messages
     * @param chunkSize the piece size
     * @return the device copy
     * @throws CudaException if an allocation or copy fails (nothing is left allocated)
     */
    public static DeviceImage upload(CudaDriver cu, MemorySegment image, String source, long chunkSize) throws CudaException {
        return upload(cu, image, source, new Staged(chunkSize, 1));
    }

    /**
     * Copies {@code image} to a new VMM allocation on the driver's device.
     *
     * @param cu the open driver
     * @param image the bytes (any host memory; with several {@link Staged} workers, a segment
     *        other threads may read: a shared or global arena's)
     * @param source a name for messages
     * @param method how the bytes travel
     * @return the device copy
     * @throws CudaException if an allocation or copy fails (nothing is left allocated)
     */
    public static DeviceImage upload(CudaDriver cu, MemorySegment image, String source, UploadMethod method) throws CudaException {
        return DeviceImage.<CudaException>filled(allocate(cu, image.byteSize(), source), d -> d.copyFrom(image, method));
    }

    /**
     * Allocates device memory for an image of {@code size} bytes without filling it (fill it with
     * {@link #copyFrom}): a benchmark copies into one allocation many times.
     *
     * @param cu the open driver
     * @param size the image's size
     * @param source a name for messages
     * @return the empty device image
     * @throws CudaException if the allocation fails (nothing is left allocated)
     */
    public static DeviceImage allocate(CudaDriver cu, long size, String source) throws CudaException {
        if (size <= 0) {
            throw new IllegalArgumentException(source + ": empty image");
        }
        cu.makeCurrent();
        Undo undo = new Undo(cu.api());
        try {
            Mapped m = allocateAndMap(cu, undo, size, null);
            return new DeviceImage(cu, m.handle, m.base, m.size, size, source, false, undo, null);
        } catch (CudaException | RuntimeException | Error e) {
            undo.runAll(e);
            throw e;
        }
    }

    /**
     * Copies {@code image} (exactly this image's size) into this device memory.
     *
     * @param image the bytes
     * @param method how the bytes travel
     * @return how it went (also kept as {@link #uploadStats()})
     * @throws CudaException if a copy fails; the device content is then undefined
     */
    public UploadStats copyFrom(MemorySegment image, UploadMethod method) throws CudaException {
        ensureWritable();
        if (image.byteSize() != imageSize) {
            throw new IllegalArgumentException("the bytes given are not this image's size (" + image.byteSize() + " != " + imageSize + ")");
        }
        cu.makeCurrent();
        UploadStats s = switch (method) {
            case Staged st -> {
                try {
                    yield copyStaged(cu, base, imageSize, st,
                            (c, pinned) -> MemorySegment.copy(image, c.offset(), pinned, 0, c.length()));
                } catch (CudaException e) {
                    throw e;
                } catch (IOException e) {
                    throw new UncheckedIOException(e); // a memory copy does no I/O
                }
            }
            case Registered r -> copyRegistered(cu, base, image, r);
        };
        stats = s;
        return s;
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

    /**
     * Copies the first {@link #imageSize()} bytes of {@code file} into this device memory. A
     * {@link Staged} copy reads the file straight into the pinned buffers ({@code pread}: the
     * kernel copies from the page cache, and no page of the file is mapped or faulted here); a
     * {@link Registered} copy maps the file read-only and pins that mapping.
     *
     * @param file an open channel on the image (a file, or a memfd through {@code /proc/self/fd})
     * @param method how the bytes travel
     * @return how it went (also kept as {@link #uploadStats()})
     * @throws IOException if reading fails or the file is shorter than the image; a {@link CudaException} if a copy fails
     */
    public UploadStats copyFrom(FileChannel file, UploadMethod method) throws IOException {
        ensureWritable();
        if (file.size() < imageSize) {
            throw new IOException(source + ": the file holds " + file.size() + " bytes, the image " + imageSize);
        }
        cu.makeCurrent();
        UploadStats s = switch (method) {
            case Staged st -> copyStaged(cu, base, imageSize, st, (c, pinned) -> {
                ByteBuffer dst = pinned.asSlice(0, c.length()).asByteBuffer();
                while (dst.hasRemaining()) {
                    int n = file.read(dst, c.offset() + dst.position());
                    if (n < 0) {
                        throw new IOException(source + ": end of file at " + (c.offset() + dst.position()) + ", the image is " + imageSize + " bytes");
                    }
                }
            });
            case Registered r -> {
                try (Arena arena = Arena.ofShared()) {
                    yield copyRegistered(cu, base, file.map(FileChannel.MapMode.READ_ONLY, 0, imageSize, arena), r);
                }
            }
        };
        stats = s;
        return s;
    }

    /** Fills a pinned buffer with one piece of the image. */
    @FunctionalInterface
    private interface PieceSource {
        void fill(ChunkPlan.Chunk piece, MemorySegment pinned) throws IOException;
    }

    /**
     * The staged copy: worker {@code w} of {@code n} takes pieces {@code w, w+n, w+2n, ...}, so the
     * workers read the source in one sweep together; each has its own buffers and streams.
     */
    private static UploadStats copyStaged(CudaDriver cu, long dst, long size, Staged how, PieceSource src) throws IOException {
        long chunk = ChunkPlan.chunkFor(size, how.chunkSize());
        List<ChunkPlan.Chunk> plan = ChunkPlan.of(size, chunk);
        int workers = Math.min(how.threads(), plan.size());
        long t0 = System.nanoTime();
        AtomicLong setup = new AtomicLong(); // the slowest worker's buffer set-up: they run side by side
        if (workers == 1) {
            copyIn(cu.api(), dst, src, plan, chunk, () -> false, setup);
        } else {
            onWorkers(cu, plan, workers, "daxload-upload-", (mine, stop) -> copyIn(cu.api(), dst, src, mine, chunk, stop, setup));
        }
        return new UploadStats(size, System.nanoTime() - t0, plan.size(), chunk, how.describe(), setup.get());
    }

    /** One worker's job over its share of the pieces; {@code stop} turns true when another worker failed. */
    @FunctionalInterface
    private interface WorkerJob {
        void run(List<ChunkPlan.Chunk> mine, BooleanSupplier stop) throws IOException;
    }

    /**
     * Runs {@code job} on {@code workers} threads, worker {@code w} taking pieces {@code w, w+n, w+2n, ...}
     * so the workers sweep the source together; waits for all of them (they hold pinned memory) and
     * rethrows the first failure.
     */
    private static void onWorkers(CudaDriver cu, List<ChunkPlan.Chunk> plan, int workers, String name, WorkerJob job) throws IOException {
        AtomicBoolean failed = new AtomicBoolean();
        AtomicReference<Throwable> first = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(workers);
        for (int w = 0; w < workers; w++) {
            List<ChunkPlan.Chunk> mine = new ArrayList<>();
            for (int i = w; i < plan.size(); i += workers) {
                mine.add(plan.get(i));
            }
            threads.add(Thread.ofPlatform().name(name + w).start(() -> {
                try {
                    cu.makeCurrent(); // contexts are per thread
                    job.run(mine, failed::get);
                } catch (Throwable e) {
                    failed.set(true);
                    first.compareAndSet(null, e);
                }
            }));
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the workers hold pinned memory: wait for them regardless
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        switch (first.get()) {
            case null -> { }
            case IOException e -> throw e;
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            case Throwable e -> throw new IllegalStateException(e);
        }
    }

    /** The pipelined copy of some pieces; its pinned buffers and streams are released before it returns. */
    private static void copyIn(CuApi api, long dst, PieceSource src, List<ChunkPlan.Chunk> pieces, long chunk,
                               BooleanSupplier stop, AtomicLong setupNanos) throws IOException {
        long t0 = System.nanoTime();
        int n = ChunkPlan.buffersFor(pieces.size());
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
            long took = System.nanoTime() - t0;
            setupNanos.accumulateAndGet(took, Math::max);
            for (int i = 0; i < pieces.size() && !stop.getAsBoolean(); i++) {
                ChunkPlan.Chunk c = pieces.get(i);
                int b = i % n;
                if (i >= n) {
                    // Buffer b's previous piece must have left before we overwrite it.
                    CudaDriver.check(api, api.streamSynchronize(streams[b]), "cuStreamSynchronize");
                }
                src.fill(c, MemorySegment.ofAddress(pinned[b]).reinterpret(chunk));
                CudaDriver.check(api, api.memcpyHtoDAsync(dst + c.offset(), pinned[b], c.length(), streams[b]),
                        "cuMemcpyHtoDAsync(piece " + c.index() + ", " + c.length() + " bytes)");
            }
            for (long s : streams) {
                CudaDriver.check(api, api.streamSynchronize(s), "cuStreamSynchronize");
            }
        } catch (IOException | RuntimeException | Error e) {
            local.runAll(e);
            throw e;
        }
        local.runAll();
    }

    /** Pins the source's pages in place, copies them by DMA, unpins them. */
    private static UploadStats copyRegistered(CudaDriver cu, long dst, MemorySegment src, Registered how) throws CudaException {
        CuApi api = cu.api();
        long size = src.byteSize();
        int flags = CuApi.CU_MEMHOSTREGISTER_PORTABLE | (how.readOnly() ? CuApi.CU_MEMHOSTREGISTER_READ_ONLY : 0);
        String hint = how.readOnly() && !cu.info().readOnlyHostRegister()
                ? "this device cannot pin read-only pages (CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED=0): use the staged upload"
                : "the driver cannot pin these pages in place (ulimit -l, or a kind of memory it cannot pin): use the staged upload";
        if (how.pieceSize() > 0) {
            return copyRegisteredPieces(cu, dst, src, how, flags, hint);
        }
        // The driver pins whole pages; the mapping owns the whole last page.
        long span = ChunkPlan.roundUp(size, 4096);
        long t0 = System.nanoTime();
        CudaDriver.check(api, api.hostRegister(src.address(), span, flags), "cuMemHostRegister(" + span + " bytes, flags " + flags + ")", hint);
        long t1 = System.nanoTime();
        int copied = api.memcpyHtoD(dst, src.address(), size);
        long t2 = System.nanoTime();
        int unregistered = api.hostUnregister(src.address());
        long t3 = System.nanoTime();
        CudaDriver.check(api, copied, "cuMemcpyHtoD(" + size + " bytes from registered memory)");
        CudaDriver.check(api, unregistered, "cuMemHostUnregister");
        return new UploadStats(size, t3 - t0, 1, size, how.describe(), (t1 - t0) + (t3 - t2));
    }

    private static UploadStats copyRegisteredPieces(CudaDriver cu, long dst, MemorySegment src, Registered how, int flags, String hint)
            throws CudaException {
        long size = src.byteSize();
        long piece = ChunkPlan.roundUp(how.pieceSize(), 4096);
        List<ChunkPlan.Chunk> plan = ChunkPlan.of(size, piece);
        int workers = Math.min(how.threads(), plan.size());
        long t0 = System.nanoTime();
        try {
            onWorkers(cu, plan, workers, "daxload-pin-", (mine, stop) -> pinAndCopy(cu.api(), dst, src.address(), mine, flags, hint, stop));
        } catch (CudaException e) {
            throw e;
        } catch (IOException e) {
            throw new UncheckedIOException(e); // pinning does no I/O
        }
        return new UploadStats(size, System.nanoTime() - t0, plan.size(), piece, how.describe(), 0);
    }

    /** One worker: pin a piece, start its DMA, unpin the piece before last once its DMA is done; two streams. */
    private static void pinAndCopy(CuApi api, long dst, long src, List<ChunkPlan.Chunk> pieces, int flags, String hint,
                                   BooleanSupplier stop) throws CudaException {
        long[] streams = new long[2];
        long[] pinnedOn = {-1, -1}; // host address pinned and in flight on each stream, or -1
        Undo local = new Undo(api);
        try {
            long[] out = new long[1];
            for (int b = 0; b < 2; b++) {
                CudaDriver.check(api, api.streamCreate(out), "cuStreamCreate");
                long s = out[0];
                streams[b] = s;
                int slot = b;
                // Drained, then the piece on it unpinned, then destroyed (releases run newest first).
                local.push("cuStreamDestroy", () -> api.streamDestroy(s));
                local.push("cuStreamSynchronize+cuMemHostUnregister", () -> {
                    int drained = api.streamSynchronize(s);
                    int unpinned = pinnedOn[slot] >= 0 ? api.hostUnregister(pinnedOn[slot]) : CuApi.CUDA_SUCCESS;
                    pinnedOn[slot] = -1;
                    return drained != CuApi.CUDA_SUCCESS ? drained : unpinned;
                });
            }
            for (int i = 0; i < pieces.size() && !stop.getAsBoolean(); i++) {
                ChunkPlan.Chunk c = pieces.get(i);
                int b = i % 2;
                if (pinnedOn[b] >= 0) {
                    CudaDriver.check(api, api.streamSynchronize(streams[b]), "cuStreamSynchronize");
                    long done = pinnedOn[b];
                    pinnedOn[b] = -1;
                    CudaDriver.check(api, api.hostUnregister(done), "cuMemHostUnregister");
                }
                long span = ChunkPlan.roundUp(c.length(), 4096);
                CudaDriver.check(api, api.hostRegister(src + c.offset(), span, flags),
                        "cuMemHostRegister(piece " + c.index() + ", " + span + " bytes, flags " + flags + ")", hint);
                pinnedOn[b] = src + c.offset();
                CudaDriver.check(api, api.memcpyHtoDAsync(dst + c.offset(), src + c.offset(), c.length(), streams[b]),
                        "cuMemcpyHtoDAsync(piece " + c.index() + ", " + c.length() + " bytes, registered)");
            }
        } catch (CudaException | RuntimeException | Error e) {
            local.runAll(e);
            throw e;
        }
        local.runAll();
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
        long pinned = pinnedCopyOf(cu, image);
        try {
            return timePlainCopy(pinned);
        } finally {
            cu.api().freeHost(pinned);
        }
    }

    /**
     * A page-locked copy of {@code bytes}, the plain copy's source: pinned and filled here, not timed.
     *
     * @return the pinned buffer, the caller's to free with {@code cuMemFreeHost}
     */
    static long pinnedCopyOf(CudaDriver cu, MemorySegment bytes) throws CudaException {
        cu.makeCurrent();
        long size = bytes.byteSize();
        long[] out = new long[1];
        CudaDriver.check(cu.api(), cu.api().hostAlloc(out, size), "cuMemHostAlloc(" + size + ")",
                "cannot pin " + size + " bytes of host memory for the reference copy");
        try {
            MemorySegment.copy(bytes, 0, MemorySegment.ofAddress(out[0]).reinterpret(size), 0, size);
        } catch (RuntimeException | Error e) {
            cu.api().freeHost(out[0]);
            throw e;
        }
        return out[0];
    }

    /** Times one {@code cuMemcpyHtoD} of this image's size from {@code pinned} into this memory. */
    UploadStats timePlainCopy(long pinned) throws CudaException {
        ensureOpen();
        cu.makeCurrent();
        long t0 = System.nanoTime();
        CudaDriver.check(cu.api(), cu.api().memcpyHtoD(base, pinned, imageSize), "cuMemcpyHtoD(" + imageSize + ")");
        return new UploadStats(imageSize, System.nanoTime() - t0, 1, imageSize, "plain cuMemcpyHtoD from pinned memory", 0);
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

    /** A copy into device memory needs an open image of this process's own, not one attached from another. */
    private void ensureWritable() {
        ensureOpen();
        if (imported) {
            throw new IllegalStateException("device image " + source + " is attached from another process: it is read, not written");
        }
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

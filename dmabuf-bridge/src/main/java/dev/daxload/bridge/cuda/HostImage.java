package dev.daxload.bridge.cuda;

import dev.daxload.bridge.dmabuf.Udmabuf;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.bridge.mount.StagedImage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * The host-memory shape of a GPU-visible image: the image in a memfd, its pages registered for
 * device access ({@code cuMemHostRegister}), and the very same pages exported as a udmabuf that
 * DAXFS can mount. One copy in host memory serves the mount (files, mmap) and GPU kernels (reads
 * over the bus), where NVIDIA's dma-bufs cannot be mounted at all.
 *
 * <p>{@link #close()} unregisters, unmaps and closes the memfd; a mount of the udmabuf keeps the
 * pages until it is unmounted.
 */
public final class HostImage implements AutoCloseable {
    private final CudaDriver cu;
    private final Memfd memfd;
    private final Mapping mapping;
    private final long devicePointer;
    private final long imageSize;
    private boolean closed;

    private HostImage(CudaDriver cu, Memfd memfd, Mapping mapping, long devicePointer, long imageSize) {
        this.cu = cu;
        this.memfd = memfd;
        this.mapping = mapping;
        this.devicePointer = devicePointer;
        this.imageSize = imageSize;
    }

    /**
     * Copies the image into a memfd and registers its pages with the device.
     *
     * @param cu the open driver
     * @param image the image file
     * @return the host image
     * @throws IOException if the copy, the mapping or the registration fails (nothing is left behind)
     */
    public static HostImage create(CudaDriver cu, Path image) throws IOException {
        cu.makeCurrent();
        long size = java.nio.file.Files.size(image);
        Memfd m = StagedImage.copyToMemfd(image, null);
        Mapping map = null;
        try {
            long len = m.size();
            map = Mapping.map(m.fd(), 0, len, Mapping.Access.READ_WRITE, Mapping.Option.POPULATE);
            CuApi api = cu.api();
            CudaDriver.check(api, api.hostRegister(map.address(), len, CuApi.CU_MEMHOSTREGISTER_PORTABLE | CuApi.CU_MEMHOSTREGISTER_DEVICEMAP),
                    "cuMemHostRegister(" + len + " bytes of " + m.name() + ")",
                    cu.info().hostRegister() ? "cannot pin the memfd's pages (ulimit -l?)" : "this device cannot register host memory");
            long[] out = new long[1];
            int r = api.hostGetDevicePointer(out, map.address());
            if (r != CuApi.CUDA_SUCCESS) {
                api.hostUnregister(map.address());
                CudaDriver.check(api, r, "cuMemHostGetDevicePointer");
            }
            return new HostImage(cu, m, map, out[0], size);
        } catch (IOException | RuntimeException | Error e) {
            if (map != null) {
                try {
                    map.close();
                } catch (RuntimeException c) {
                    e.addSuppressed(c);
                }
            }
            m.close();
            throw e;
        }
    }

    /**
     * Exports the same pages as a udmabuf (for {@link DaxfsMount#mountDmaBuf}).
     *
     * @return a new dma-buf, the caller's to close
     * @throws LinuxException if {@code /dev/udmabuf} is missing or refuses (size_limit_mb)
     */
    public NativeFd udmabuf() throws LinuxException {
        return Udmabuf.create(memfd, 0, mapping.length());
    }

    /**
     * Mounts the same pages as DAXFS.
     *
     * @param dir an existing directory
     * @return the mount
     * @throws LinuxException if the udmabuf or the mount fails
     */
    public DaxfsMount mount(Path dir) throws LinuxException {
        try (NativeFd buf = udmabuf()) {
            return DaxfsMount.mountDmaBuf(buf, dir, false);
        }
    }

    /** @return the device pointer at the image's first byte (host memory, read over the bus) */
    public long devicePointer() {
        return devicePointer;
    }

    /** @return the host mapping of the image */
    public MemorySegment segment() {
        return mapping.segment().asSlice(0, imageSize);
    }

    /** @return the image's size */
    public long imageSize() {
        return imageSize;
    }

    /**
     * Reads bytes through the device pointer: proves the GPU sees the memfd's pages.
     *
     * @param offset the offset in the image
     * @param length how many bytes
     * @return the bytes as the device read them
     * @throws CudaException if the copy fails
     */
    public byte[] readThroughDevice(long offset, int length) throws CudaException {
        cu.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, length));
            CudaDriver.check(cu.api(), cu.api().memcpyDtoH(host.address(), devicePointer + offset, length), "cuMemcpyDtoH");
            return host.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Unregisters, unmaps and closes, once. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        int r = cu.api().hostUnregister(mapping.address());
        try {
            mapping.close();
        } finally {
            memfd.close();
        }
        if (r != CuApi.CUDA_SUCCESS) {
            throw new UncheckedIOException(new CudaException("cuMemHostUnregister", r, cu.api().errorName(r), null));
        }
    }
}

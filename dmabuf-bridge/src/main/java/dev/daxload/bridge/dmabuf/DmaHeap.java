package dev.daxload.bridge.dmabuf;

import dev.daxload.bridge.linux.Errno;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;

import java.nio.file.Path;

/**
 * Allocation from a DMA heap ({@code /dev/dma_heap/*}, {@code DMA_HEAP_IOCTL_ALLOC}). The system
 * heap's buffers support kernel vmap, so a DAXFS image in one can be mounted.
 */
public final class DmaHeap {
    /** The system heap: ordinary pages, present when the kernel has CONFIG_DMABUF_HEAPS_SYSTEM. */
    public static final Path SYSTEM = Path.of("/dev/dma_heap/system");

    private DmaHeap() {}

    /**
     * Allocates a dma-buf of {@code size} bytes; the heap device is opened and closed inside the
     * call, so only the returned fd stays open.
     *
     * @param heap the heap device, for example {@link #SYSTEM}
     * @param size the size in bytes (the heap rounds up to pages)
     * @return the dma-buf fd (read-write, close-on-exec)
     * @throws LinuxException if the heap is missing or the allocation fails
     */
    public static NativeFd allocate(Path heap, long size) throws LinuxException {
        int rc = LinuxNative.dmaHeapAlloc(LinuxNative.cString(heap.toString()), size);
        LinuxException.check(rc, "DMA_HEAP_IOCTL_ALLOC(" + heap + ", " + size + ")", err -> switch (err) {
            case Errno.ENOENT -> "no DMA heap at " + heap
                    + ": the kernel needs CONFIG_DMABUF_HEAPS_SYSTEM (Debian's 6.12 kernel has it; see the QEMU harness) or use --via udmabuf";
            case Errno.EINVAL -> "the heap rejected the size " + size + " (0, or larger than it can serve)";
            case Errno.ENOMEM -> "the heap has no " + size + " bytes to give";
            case Errno.ENOTTY -> heap + " is not a DMA heap";
            default -> null;
        });
        return NativeFd.adopt(rc, "dma-buf " + heap.getFileName() + " " + size);
    }
}

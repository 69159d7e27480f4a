package dev.daxload.bridge.source;

import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.mount.DaxfsMount;
import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import dev.daxload.image.internal.Mmap;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Opens a {@link DaxImage} from the memory sources that are not plain files: a dma-buf (system
 * heap, udmabuf, or the one a DAXFS mount hands out) and a mounted DAXFS directory. The loader
 * cannot depend on the bridge, so this glue lives here and returns the loader's own type.
 *
 * <p>Each image owns one mapping, made with the loader's {@link Mmap#map(int, String, long,
 * MapOptions, Arena)}: closing the image unmaps it. The mapping holds its own reference to the
 * dma-buf, so the caller may close the fd as soon as this returns.
 *
 * <p>No {@code DMA_BUF_IOCTL_SYNC} brackets the reads: the exporters that can hold an image (the
 * system heap, udmabuf, daxfs) give cache-coherent CPU mappings on x86-64, and an image is never
 * written after it is placed. Exporters that need explicit syncs (device memory behind a
 * non-coherent bus) cannot be mounted as DAXFS anyway.
 */
public final class ImageSources {
    private ImageSources() {}

    /**
     * Opens the image held in a dma-buf (or any mappable fd: a memfd works too).
     *
     * @param dmaBuf the fd; stays owned by the caller
     * @param options how to map; {@link MapOptions#copyOnWrite()} falls back to read-only shared
     *                where the exporter refuses private mappings
     * @return the image, owning its mapping
     * @throws IOException if the fd cannot be mapped or does not hold a readable image
     */
    public static DaxImage fromDmaBuf(NativeFd dmaBuf, MapOptions options) throws IOException {
        long size = dmaBuf.size();
        Arena arena = Arena.ofShared();
        MemorySegment seg;
        try {
            seg = Mmap.map(dmaBuf.fd(), dmaBuf.what(), size, options, arena);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        // adopt closes the arena (so unmaps) if the memory is not a readable image.
        return DaxImage.adopt(seg, arena, dmaBuf.what());
    }

    /**
     * Opens the image behind a mounted DAXFS directory: asks any file of the mount for the dma-buf
     * of the whole image ({@code DAXFS_IOC_GET_DMABUF}) and maps it. One mapping of the whole
     * image, shared with the mount: nothing is copied.
     *
     * @param mountDir the mount point (or any directory inside the mount)
     * @param options how to map
     * @return the image, owning its mapping; the dma-buf fd is already closed
     * @throws IOException if nothing there is a daxfs mount ({@code ENOTTY}) or mapping fails
     */
    public static DaxImage fromMount(Path mountDir, MapOptions options) throws IOException {
        Path probe = anyFileOf(mountDir).orElse(mountDir);
        try (NativeFd buf = DaxfsMount.getDmaBuf(probe)) {
            return fromDmaBuf(buf, options);
        } catch (LinuxException e) {
            Optional<String> type = DaxfsMount.fsTypeAt(mountDir);
            if (type.isPresent() && !DaxfsMount.FS_TYPE.equals(type.get())) {
                throw new IOException(mountDir + " is a " + type.get() + " mount, not daxfs: " + e.getMessage(), e);
            }
            throw e;
        }
    }

    /** The first regular file under {@code dir}: the ioctl is defined on files of the mount. */
    private static Optional<Path> anyFileOf(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NotDirectoryException(dir.toString());
        }
        try (Stream<Path> s = Files.walk(dir, 8)) {
            return s.filter(Files::isRegularFile).findFirst();
        }
    }
}

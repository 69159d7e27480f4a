package dev.daxload.bridge.mount;

import dev.daxload.bridge.dmabuf.DmaBufSync;
import dev.daxload.bridge.dmabuf.DmaHeap;
import dev.daxload.bridge.dmabuf.Udmabuf;
import dev.daxload.bridge.linux.LinuxConstants;
import dev.daxload.bridge.linux.LinuxException;
import dev.daxload.bridge.linux.LinuxNative;
import dev.daxload.bridge.linux.NativeFd;
import dev.daxload.bridge.memfd.Memfd;
import dev.daxload.bridge.memfd.Seal;
import dev.daxload.bridge.mmap.Mapping;
import dev.daxload.image.ImageProblem;
import dev.daxload.image.internal.ImageValidator;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An image file copied into a dma-buf, ready to be mounted as DAXFS: the first half of
 * {@code daxload mount}. Two homes:
 * <ul>
 * <li>{@link #inHeap}: a buffer from a DMA heap ({@code /dev/dma_heap/system}); the image is read
 *     by the kernel straight into the buffer's mapping ({@code pread} into the mapped pages, no
 *     bounce buffer), bracketed by {@code DMA_BUF_IOCTL_SYNC}.</li>
 * <li>{@link #inUdmabuf}: a memfd filled by the kernel ({@code FileChannel.transferTo}, which uses
 *     {@code copy_file_range}/{@code sendfile} where the kernel allows), sealed against shrinking,
 *     and exported as a udmabuf: the dma-buf <em>is</em> the memfd's pages.</li>
 * </ul>
 * Both check the image with the project's {@link ImageValidator} before anything is allocated and
 * refuse an unsound one; {@link #verifyCopy()} checks the copy itself.
 *
 * <p>{@link #close()} closes the dma-buf fd (and the memfd). A mount made with {@link #mount}
 * keeps its own reference, so the image stays in memory until it is unmounted, after this
 * object and even this process are gone.
 */
public final class StagedImage implements AutoCloseable {
    /** What kind of dma-buf holds the image. */
    public enum Via {
        /** The system DMA heap. */
        HEAP,
        /** A udmabuf over a memfd. */
        UDMABUF
    }

    /** Copy in pieces of this size: each is one kernel call, small enough to stay interruptible. */
    static final int CHUNK = 64 << 20;

    private final Via via;
    private final NativeFd dmaBuf;
    private final Memfd memfd; // null for the heap
    private final long imageSize;
    private final long bufferSize;
    private final String source;

    private StagedImage(Via via, NativeFd dmaBuf, Memfd memfd, long imageSize, long bufferSize, String source) {
        this.via = via;
        this.dmaBuf = dmaBuf;
        this.memfd = memfd;
        this.imageSize = imageSize;
        this.bufferSize = bufferSize;
        this.source = source;
    }

    /**
     * Checks an image file with the project's validator, without copying it.
     *
     * @param image the image file
     * @return the result; {@link ImageValidator.Result#sound()} says whether it may be mounted
     * @throws IOException if the file cannot be read
     */
    public static ImageValidator.Result validateFile(Path image) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            if (ch.size() == 0) {
                throw new IOException(image + ": is empty; an image has at least 8192 bytes");
            }
            return ImageValidator.validate(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena));
        }
    }

    /**
     * Throws unless the image file is sound.
     *
     * @param image the image file
     * @return its size
     * @throws IOException naming the first problem when it is not sound
     */
    static long requireSound(Path image) throws IOException {
        ImageValidator.Result r = validateFile(image);
        if (!r.sound()) {
            ImageProblem first = r.problems().stream().filter(p -> p.severity() == ImageProblem.Severity.ERROR)
                    .findFirst().orElse(r.problems().isEmpty() ? null : r.problems().getFirst());
            throw new IOException(image + ": refusing to mount an unsound image (" + r.errorCount() + " errors; first: "
                    + first + "): run `daxload verify " + image + "` for all of them");
        }
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            return ch.size();
        }
    }

    /** @return {@code n} rounded up to whole pages */
    public static long pageAlign(long n) {
        long page = LinuxConstants.PAGE_SIZE;
        return (n + page - 1) / page * page;
    }

    /**
     * Copies the image into a buffer of a DMA heap.
     *
     * @param image the image file (validated first)
     * @param heap the heap device, usually {@link DmaHeap#SYSTEM}
     * @param name a name for the dma-buf (shown in fdinfo), or null
     * @return the staged image
     * @throws IOException if the image is unsound or unreadable, or a call fails (nothing is left open)
     */
    public static StagedImage inHeap(Path image, Path heap, String name) throws IOException {
        long size = requireSound(image);
        long bufSize = pageAlign(size);
        NativeFd buf = DmaHeap.allocate(heap, bufSize);
        try {
            setName(buf, name);
            try (Mapping map = Mapping.map(buf, 0, bufSize, Mapping.Access.READ_WRITE);
                 FileChannel in = FileChannel.open(image, StandardOpenOption.READ);
                 DmaBufSync s = DmaBufSync.access(buf, DmaBufSync.Access.WRITE)) {
                readFully(in, map.segment(), size, image);
            }
            return new StagedImage(Via.HEAP, buf, null, size, bufSize, image.toString());
        } catch (IOException | RuntimeException | Error e) {
            NativeFd.closeQuietly(buf, e);
            throw e;
        }
    }

    /**
     * Copies the image into a memfd and makes a udmabuf of its pages.
     *
     * @param image the image file (validated first)
     * @param device the udmabuf device, usually {@link Udmabuf#DEVICE}
     * @param name the memfd's name (shown as {@code /memfd:NAME}), or null for one made from the file name
     * @return the staged image
     * @throws IOException if the image is unsound or larger than udmabuf's {@code size_limit_mb}, or a
     *         call fails (nothing is left open)
     */
    public static StagedImage inUdmabuf(Path image, Path device, String name) throws IOException {
        long size = requireSound(image);
        long bufSize = pageAlign(size);
        // Say so before copying gigabytes: the kernel would only answer EINVAL afterwards.
        long limit = Udmabuf.sizeLimit();
        if (limit > 0 && bufSize > limit) {
            long mib = (bufSize + (1 << 20) - 1) >> 20;
            throw new IOException(image + ": " + bufSize + " bytes exceed udmabuf's per-buffer limit size_limit_mb="
                    + (limit >> 20) + " (MiB): raise the udmabuf module parameter (modprobe -r udmabuf; modprobe udmabuf size_limit_mb="
                    + mib + ", or udmabuf.size_limit_mb=" + mib + " on the kernel command line when built in), or use --via heap");
        }
        Memfd m = copyToMemfd(image, size, name);
        NativeFd buf = null;
        try {
            buf = Udmabuf.create(device, m, 0, bufSize);
            setName(buf, name);
            return new StagedImage(Via.UDMABUF, buf, m, size, bufSize, image.toString());
        } catch (IOException | RuntimeException | Error e) {
            NativeFd.closeQuietly(buf, e);
            try {
                m.close();
            } catch (RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    /**
     * Copies an image file into a new memfd, page-aligned and sealed against shrinking and
     * growing (what udmabuf needs). The kernel does the copy ({@code FileChannel.transferTo} uses
     * {@code copy_file_range} or {@code sendfile}); no Java buffer is involved.
     *
     * @param image the image file (not validated here)
     * @param name the memfd's name, or null for one made from the file name
     * @return the memfd, the caller's to close
     * @throws IOException if reading or a call fails (the memfd is closed then)
     */
    public static Memfd copyToMemfd(Path image, String name) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            return copyToMemfd(image, ch.size(), name);
        }
    }

    private static Memfd copyToMemfd(Path image, long size, String name) throws IOException {
        String memfdName = name != null ? name : "daxload:" + image.getFileName();
        Memfd m = Memfd.create(memfdName.length() > 200 ? memfdName.substring(0, 200) : memfdName, pageAlign(size));
        try {
            // Reopen the memfd through /proc so that the JDK's transferTo can use the kernel's own
            // copy (copy_file_range or sendfile) instead of a loop through a Java buffer.
            try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ);
                 FileChannel out = FileChannel.open(Path.of("/proc/self/fd/" + m.fd().fd()), StandardOpenOption.WRITE)) {
                long done = 0;
                while (done < size) {
                    long n = in.transferTo(done, Math.min(CHUNK, size - done), out.position(done));
                    if (n <= 0) {
                        throw new IOException(image + ": shrank while it was copied (" + done + " of " + size + " bytes)");
                    }
                    done += n;
                }
            }
            m.addSeals(Seal.SHRINK, Seal.GROW);
            return m;
        } catch (IOException | RuntimeException | Error e) {
            try {
                m.close();
            } catch (RuntimeException c) {
                e.addSuppressed(c);
            }
            throw e;
        }
    }

    private static void readFully(FileChannel in, MemorySegment dst, long size, Path image) throws IOException {
        long done = 0;
        while (done < size) {
            // A direct ByteBuffer over the mapping: FileChannel.read does pread(2) into it, so the
            // kernel copies page cache -> dma-buf pages in one step.
            ByteBuffer bb = dst.asSlice(done, Math.min(CHUNK, size - done)).asByteBuffer();
            while (bb.hasRemaining()) {
                int n = in.read(bb, done + bb.position());
                if (n < 0) {
                    throw new IOException(image + ": shrank while it was copied (" + (done + bb.position()) + " of " + size + " bytes)");
                }
            }
            done += bb.capacity();
        }
    }

    /** Best effort: an old kernel without DMA_BUF_SET_NAME still mounts. */
    private static void setName(NativeFd buf, String name) {
        if (name != null && !name.isEmpty()) {
            String n = name.length() > 31 ? name.substring(0, 31) : name;
            LinuxNative.dmaBufSetName(buf.fd(), LinuxNative.cString(n));
        }
    }

    /**
     * Maps the copy read-only and runs the validator over it: proves that what will be mounted
     * is the image, whatever happened on the way.
     *
     * @return the validator's result over the dma-buf's contents
     * @throws LinuxException if mapping or syncing fails
     */
    public ImageValidator.Result verifyCopy() throws LinuxException {
        try (Mapping map = Mapping.map(dmaBuf, 0, bufferSize, Mapping.Access.READ);
             DmaBufSync s = DmaBufSync.access(dmaBuf, DmaBufSync.Access.READ)) {
            return ImageValidator.validate(map.segment().asSlice(0, imageSize));
        }
    }

    /**
     * Mounts the staged image as DAXFS at {@code dir} (read-only). This object may be closed
     * right after: the mount holds the buffer.
     *
     * @param dir an existing directory
     * @param kernelValidate have the kernel check the image too ({@code -o validate})
     * @return the mount
     * @throws LinuxException naming the step that failed and what to do
     */
    public DaxfsMount mount(Path dir, boolean kernelValidate) throws LinuxException {
        return DaxfsMount.mountDmaBuf(dmaBuf, dir, kernelValidate);
    }

    /** @return where the image lies */
    public Via via() {
        return via;
    }

    /** @return the dma-buf (owned by this object) */
    public NativeFd dmaBuf() {
        return dmaBuf;
    }

    /** @return the image's size in bytes */
    public long imageSize() {
        return imageSize;
    }

    /** @return the buffer's size: the image's, rounded up to pages */
    public long bufferSize() {
        return bufferSize;
    }

    /** Closes the dma-buf and the memfd; a mount of them stays. */
    @Override
    public void close() {
        try {
            dmaBuf.close();
        } finally {
            if (memfd != null) {
                memfd.close();
            }
        }
    }

    @Override
    public String toString() {
        return "StagedImage[" + source + " in " + via + ", " + imageSize + " bytes]";
    }
}

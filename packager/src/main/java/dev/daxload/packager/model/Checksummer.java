package dev.daxload.packager.model;

import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.image.ImageWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;

/**
 * CRC32C of files as the image writer writes them, computed on a background thread over the bytes
 * just written (mapped from the image, so the checksum covers what the image holds, conversions
 * included), while the writer copies the next file.
 */
final class Checksummer implements ImageWriter.FileWrittenListener, AutoCloseable {
    private final ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "daxload-crc32c");
        t.setDaemon(true);
        return t;
    });
    private final Map<RegularFile, Future<Integer>> results = new IdentityHashMap<>();
    private final Map<RegularFile, Boolean> wanted;

    /** @param wanted the files to checksum; others are ignored */
    Checksummer(Map<RegularFile, Boolean> wanted) {
        this.wanted = wanted;
    }

    @Override
    public synchronized void written(RegularFile file, FileChannel image, long offset, long size) {
        if (wanted.containsKey(file)) {
            results.put(file, pool.submit(() -> crc32c(image, offset, size)));
        }
    }

    /** CRC32C of a file; 0 for an empty one, which is never written. */
    synchronized int crcOf(RegularFile file) throws IOException {
        Future<Integer> f = results.get(file);
        if (f == null) {
            return 0;
        }
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while checksumming");
        } catch (ExecutionException e) {
            throw new IOException("checksumming the image failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /**
     * CRC32C of bytes just written, read back through the page cache into one reused direct buffer:
     * reading costs a memcpy, where mapping the fresh range would cost a page fault per 4 KiB.
     */
    static int crc32c(FileChannel image, long offset, long size) throws IOException {
        ByteBuffer buf = BUFFER.get().clear();
        CRC32C crc = new CRC32C();
        long done = 0;
        while (done < size) {
            buf.clear().limit((int) Math.min(buf.capacity(), size - done));
            int n = image.read(buf, offset + done);
            if (n <= 0) {
                throw new IOException("image ended at " + (offset + done) + " while checksumming " + size + " bytes from " + offset);
            }
            crc.update(buf.flip());
            done += n;
        }
        return (int) crc.getValue();
    }

    private static final ThreadLocal<ByteBuffer> BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(4 << 20));

    @Override
    public void close() {
        pool.shutdownNow();
    }
}

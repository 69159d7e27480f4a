package dev.daxload.packager.image;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.zip.CRC32C;

/**
 * Moves file data into an image and checksums it on the way: the calling thread reads each source range
 * into one of a few direct buffers and takes its CRC32C while the bytes are in cache, a second thread
 * writes the filled buffers into the image.
 *
 * <p>Why not {@code copy_file_range} (what {@link FileChannel#transferTo} does): image files start on
 * 4 KiB boundaries and tensors inside a safetensors, GGUF or ONNX file do not, and the kernel's splice
 * path copies a misaligned range about 1.5x slower than an aligned one (bge-small-en-v1.5's 197
 * initializers: 61-68 ms against 41-48 ms for the whole file). Reading and writing on two threads runs
 * the two copies side by side and costs about what the aligned kernel copy does (35-42 ms) with the
 * checksum included, where a checksum read back from the image afterwards would cost a third pass. How
 * much one write call takes is chosen as it goes ({@link WriteSize}).
 * Ranges that are aligned and need no checksum still go to the kernel, which may share the blocks
 * (reflinks) where the filesystem can.
 *
 * <p>Writes are positional, so the writer thread and other writes on the calling thread (metadata)
 * never depend on each other's order; {@link #finish} waits until every queued chunk is in the image.
 */
final class DataCopier implements AutoCloseable {
    private static final int CHUNK = 1 << 20;
    private static final int CHUNKS = 32;

    private record Chunk(ByteBuffer buffer, long position) {}

    private static final Chunk END = new Chunk(null, -1);

    private final FileChannel image;
    private final Arena arena = Arena.ofShared();
    private final BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(CHUNKS);
    // One place more than there are buffers, so that END always fits.
    private final BlockingQueue<Chunk> full = new ArrayBlockingQueue<>(CHUNKS + 1);
    private final Thread writer;
    private final WriteSize writeSize = new WriteSize();
    private volatile IOException failure;
    /**
     * Runs on the copying thread right after each chunk is queued: a seam where a test lets the writer
     * get ahead deterministically (the race fixed in 4ccfac0 lived exactly here); a no-op otherwise.
     */
    Runnable afterQueued = () -> {};
    private boolean ended;
    private Path openPath;
    private FileChannel openSource;

    DataCopier(FileChannel image) {
        this.image = image;
        for (int i = 0; i < CHUNKS; i++) {
            free.add(arena.allocate(CHUNK, 4096).asByteBuffer());
        }
        this.writer = Thread.ofPlatform().daemon().name("daxload-image-writer").start(this::drain);
    }

    /** The writer thread: writes chunks until END; after a failure it only recycles buffers. */
    private void drain() {
        while (true) {
            Chunk c;
            try {
                c = full.take();
            } catch (InterruptedException e) {
                // Nobody interrupts this thread (an interrupt would close the image channel); keep draining.
                continue;
            }
            if (c == END) {
                return;
            }
            if (failure == null) {
                try {
                    writeInPieces(c);
                } catch (IOException | RuntimeException e) {
                    failure = e instanceof IOException io ? io : new IOException("writing the image failed: " + e, e);
                }
            }
            free.add(c.buffer);
        }
    }

    /** Writes a chunk with pwrite calls of the size {@link WriteSize} picks, and tells it what that cost. */
    private void writeInPieces(Chunk c) throws IOException {
        ByteBuffer b = c.buffer;
        int end = b.limit();
        int size = writeSize.next();
        long t0 = System.nanoTime();
        long at = c.position;
        while (b.position() < end) {
            b.limit(Math.min(end, b.position() + size));
            while (b.hasRemaining()) {
                at += image.write(b, at);
            }
        }
        writeSize.took(size, end, System.nanoTime() - t0);
    }

    /**
     * Copies a source range to {@code position}.
     *
     * @param checksum whether the CRC32C is needed; without it an aligned range goes to the kernel
     * @return the CRC32C of the bytes copied, or 0 when not asked for
     */
    int copy(FileContent.FileRange range, long position, boolean checksum) throws IOException {
        if (range.length() == 0) {
            return 0;
        }
        FileChannel src = source(range);
        if (!checksum && (range.offset() - position) % 4096 == 0) {
            range.transfer(src, image, position);
            return 0;
        }
        CRC32C crc = new CRC32C();
        long done = 0;
        while (done < range.length()) {
            ByteBuffer buf = takeFree();
            try {
                buf.clear().limit((int) Math.min(CHUNK, range.length() - done));
                while (buf.hasRemaining()) {
                    if (src.read(buf, range.offset() + done + buf.position()) < 0) {
                        throw new IOException(range.file() + ": ended at byte " + (range.offset() + done + buf.position())
                                + " while " + (range.offset() + range.length()) + " were planned (changed while packing?)");
                    }
                }
            } catch (IOException | RuntimeException e) {
                free.add(buf);
                throw e;
            }
            buf.flip();
            int n = buf.limit();
            if (checksum) {
                crc.update(buf);
                buf.rewind();
            }
            // Once queued the buffer is the writer's, which moves its limit while it writes in pieces.
            put(new Chunk(buf, position + done));
            afterQueued.run();
            done += n;
        }
        return checksum ? (int) crc.getValue() : 0;
    }

    /**
     * The range's file, opened once for all the ranges of it that come in a row (the tensors of one
     * safetensors or ONNX file): opening it per tensor cost a tenth of bge-small's packing time.
     */
    private FileChannel source(FileContent.FileRange range) throws IOException {
        if (openSource != null && openPath.equals(range.file())) {
            range.checkHeldBy(openSource);
            return openSource;
        }
        closeSource();
        openSource = range.open();
        openPath = range.file();
        return openSource;
    }

    private void closeSource() throws IOException {
        FileChannel c = openSource;
        openSource = null;
        openPath = null;
        if (c != null) {
            c.close();
        }
    }

    /** Writes {@code content} by its own means, then reads it back for the checksum if one is asked for. */
    int write(FileContent content, long position, boolean checksum) throws IOException {
        content.writeTo(image, position);
        return checksum ? checksum(position, content.size()) : 0;
    }

    /** CRC32C of bytes already in the image, read through one of the buffers. */
    private int checksum(long position, long size) throws IOException {
        ByteBuffer buf = takeFree();
        try {
            CRC32C crc = new CRC32C();
            long done = 0;
            while (done < size) {
                buf.clear().limit((int) Math.min(CHUNK, size - done));
                int n = image.read(buf, position + done);
                if (n <= 0) {
                    throw new IOException("image ended at " + (position + done) + " while checksumming " + size
                            + " bytes from " + position);
                }
                crc.update(buf.flip());
                done += n;
            }
            return (int) crc.getValue();
        } finally {
            free.add(buf);
        }
    }

    private ByteBuffer takeFree() throws IOException {
        checkFailure();
        try {
            return free.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing the image");
        }
    }

    private void put(Chunk c) throws IOException {
        try {
            full.put(c);
        } catch (InterruptedException e) {
            free.add(c.buffer);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while writing the image");
        }
        checkFailure();
    }

    private void checkFailure() throws IOException {
        IOException f = failure;
        if (f != null) {
            throw new IOException("writing the image failed: " + f.getMessage(), f);
        }
    }

    /** Waits until everything queued is in the image; throws what the writer met. */
    void finish() throws IOException {
        end();
        closeSource();
        checkFailure();
    }

    private void end() {
        if (ended) {
            return;
        }
        ended = true;
        // full has room for END: at most CHUNKS chunks are ever queued.
        full.add(END);
        boolean interrupted = false;
        while (writer.isAlive()) {
            try {
                writer.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the writer (after what is queued) and frees the buffers; the writer is gone before they are. */
    @Override
    public void close() {
        end();
        try {
            closeSource();
        } catch (IOException ignored) {
            // a read-only source: nothing was lost; the error that led here is the one to report
        }
        arena.close();
    }
}

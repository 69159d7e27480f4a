package dev.daxload.registry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which bytes of a blob a partial file holds, when several ranges of it arrive at once: the blob is cut into chunks,
 * and a small file beside the partial file keeps, per chunk, the position its bytes have reached. A chunk's slot is
 * rewritten (one 8-byte {@code pwrite}) only after the bytes it counts were written to the partial file, so after a
 * {@code kill -9} the journal never claims a byte the file lacks; what it misses is at most what was in flight.
 * (After a power cut it may: the page holding the slot can reach the disk before the data's pages. The pull's final
 * sha256 then fails and the partial file is dropped, so nothing wrong is ever published.)
 *
 * <p>A partial file without a journal is one a single stream wrote: its bytes are a prefix of the blob.
 *
 * <p>Layout (little-endian): {@code "DAXPULL1"}, blob size, chunk size, the blob's sha256 (32 bytes), chunk count
 * (int), 4 bytes of padding, then per chunk the absolute position reached (long).
 */
final class RangeJournal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RangeJournal.class);
    private static final long MAGIC = ByteBuffer.wrap("DAXPULL1".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
            .order(ByteOrder.LITTLE_ENDIAN).getLong();
    private static final int HEADER = 8 + 8 + 8 + 32 + 8;

    private final Path path;
    private final FileChannel file;
    private final long size;
    private final long chunkBytes;
    private final AtomicLongArray reached;
    private final java.util.concurrent.atomic.AtomicLong present = new java.util.concurrent.atomic.AtomicLong();
    private final ByteBuffer slot = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

    private RangeJournal(Path path, FileChannel file, long size, long chunkBytes, long[] reached) {
        this.path = path;
        this.file = file;
        this.size = size;
        this.chunkBytes = chunkBytes;
        this.reached = new AtomicLongArray(reached);
        for (int i = 0; i < reached.length; i++) {
            present.addAndGet(reached[i] - start(i));
        }
    }

    /**
     * The journal at {@code path} for blob {@code digest} of {@code size} bytes, read when it is there and describes
     * that blob, otherwise made: chunks of {@code chunkBytes}, of which the first {@code prefix} bytes (what a single
     * stream left in the partial file) count as present.
     */
    static RangeJournal open(Path path, String digest, long size, long chunkBytes, long prefix) throws IOException {
        byte[] sha = HexFormat.of().parseHex(digest.substring("sha256:".length()));
        if (Files.isRegularFile(path)) {
            RangeJournal read = read(path, sha, size);
            if (read != null) {
                return read;
            }
            LOG.info("{}: not a journal of this blob; starting it again", path);
        }
        chunkBytes = Math.max(1, Math.min(chunkBytes, size));
        int count = (int) Math.max(1, (size + chunkBytes - 1) / chunkBytes);
        long[] reached = new long[count];
        for (int i = 0; i < count; i++) {
            long start = i * chunkBytes;
            reached[i] = Math.max(start, Math.min(prefix, Math.min(size, start + chunkBytes)));
        }
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        ByteBuffer b = ByteBuffer.allocate(HEADER + 8 * count).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MAGIC).putLong(size).putLong(chunkBytes).put(sha).putInt(count).putInt(0);
        for (long r : reached) {
            b.putLong(r);
        }
        b.flip();
        try (FileChannel t = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            while (b.hasRemaining()) {
                t.write(b);
            }
        }
        // renamed into place whole, so a journal is never seen half-made
        Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        FileChannel f = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new RangeJournal(path, f, size, chunkBytes, reached);
    }

    /**
     * A journal kept in memory only: one chunk, the whole blob, fetched by one stream from the first {@code prefix}
     * bytes on (a single stream writes in order, so the partial file's size says what it holds).
     */
    static RangeJournal inMemory(long size, long prefix) {
        return new RangeJournal(null, null, size, Math.max(1, size), new long[] {Math.min(prefix, size)});
    }

    private static RangeJournal read(Path path, byte[] sha, long size) throws IOException {
        FileChannel f = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long length = f.size();
            if (length < HEADER || length > HEADER + 8L * (1 << 24)) {
                f.close();
                return null;
            }
            ByteBuffer b = ByteBuffer.allocate((int) length).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && f.read(b, b.position()) > 0) {
                // read it whole
            }
            b.flip();
            byte[] digest = new byte[32];
            long magic = b.getLong();
            long blobSize = b.getLong();
            long chunk = b.getLong();
            b.get(digest);
            int count = b.getInt();
            b.getInt();
            if (magic != MAGIC || blobSize != size || !Arrays.equals(digest, sha) || chunk <= 0 || count <= 0
                    || count != (size + chunk - 1) / chunk && !(size == 0 && count == 1) || b.remaining() != 8L * count) {
                f.close();
                return null;
            }
            long[] reached = new long[count];
            for (int i = 0; i < count; i++) {
                long start = i * chunk;
                long r = b.getLong();
                if (r < start || r > Math.min(size, start + chunk)) {
                    f.close();
                    return null;
                }
                reached[i] = r;
            }
            return new RangeJournal(path, f, size, chunk, reached);
        } catch (IOException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    int chunks() {
        return reached.length();
    }

    long start(int chunk) {
        return chunk * chunkBytes;
    }

    /** One past the chunk's last byte. */
    long end(int chunk) {
        return Math.min(size, (chunk + 1) * chunkBytes);
    }

    long reached(int chunk) {
        return reached.get(chunk);
    }

    /** Records that the bytes from {@code from} to {@code to} (one write, within one chunk or across several) are in the partial file. */
    void wrote(long from, long to) throws IOException {
        if (to <= from) {
            return;
        }
        for (int k = (int) (from / chunkBytes); k <= (int) ((to - 1) / chunkBytes); k++) {
            long r = Math.min(end(k), to);
            if (r > reached.get(k)) {
                advance(k, r);
            }
        }
    }

    private void advance(int chunk, long position) throws IOException {
        present.addAndGet(position - reached.getAndSet(chunk, position));
        if (file == null) {
            return;
        }
        synchronized (slot) {
            slot.clear();
            slot.putLong(position).flip();
            file.write(slot, HEADER + 8L * chunk);
        }
    }

    /** How many bytes from 0 on are present without a gap. */
    long contiguous() {
        for (int i = 0; i < reached.length(); i++) {
            if (reached.get(i) < end(i)) {
                return reached.get(i);
            }
        }
        return size;
    }

    /** One past the last byte any chunk claims (0 when none claims any). */
    long claimedEnd() {
        long end = 0;
        for (int i = 0; i < reached.length(); i++) {
            if (reached.get(i) > start(i)) {
                end = reached.get(i);
            }
        }
        return end;
    }

    /** How many bytes are present in all. */
    long present() {
        return present.get();
    }

    /** Forgets every chunk (the registry ignored a range: the blob comes again from byte 0, in one stream). */
    void restart() throws IOException {
        for (int i = 0; i < reached.length(); i++) {
            advance(i, start(i));
        }
    }

    /** The journal's file; empty for one {@link #inMemory} only. */
    java.util.Optional<Path> path() {
        return java.util.Optional.ofNullable(path);
    }

    @Override
    public void close() throws IOException {
        if (file != null) {
            file.close();
        }
    }

    /** Closes it and deletes its file (the pull is complete, or what it holds is not worth keeping). */
    void delete() throws IOException {
        close();
        if (path != null) {
            Files.deleteIfExists(path);
        }
    }
}

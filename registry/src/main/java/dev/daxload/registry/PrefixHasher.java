package dev.daxload.registry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * SHA-256 of a file that is being written out of order, computed while it is written: sha256 is sequential, so a
 * thread of its own follows the end of the part written without a gap and hashes up to it, reading the bytes back
 * from the page cache (they were just written, and the gap-free end is never more than the chunks in flight behind,
 * so they have not left it: the disk is not read). Writers call {@link #poke} after they write.
 */
final class PrefixHasher {
    private static final int PIECE = 1 << 20;

    private final FileChannel file;
    private final long size;
    private final LongSupplier contiguous;
    private final MessageDigest md = Digests.sha256();
    private volatile Thread thread;
    private volatile boolean stopped;
    private volatile long hashed;
    private IOException failure;

    /**
     * @param contiguous how many bytes from 0 on are written without a gap, now
     */
    PrefixHasher(FileChannel file, long size, LongSupplier contiguous) {
        this.file = file;
        this.size = size;
        this.contiguous = contiguous;
    }

    void start() {
        thread = Thread.ofPlatform().name("daxload-sha256").daemon().start(this::run);
    }

    /** More bytes were written. */
    void poke() {
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Bytes hashed so far. */
    long hashed() {
        return hashed;
    }

    /** Stops early (the transfer failed). */
    void stop() {
        stopped = true;
        poke();
    }

    /** Waits until every byte of the file is hashed and returns the digest ({@code sha256:<hex>}). */
    String finish() throws IOException {
        poke();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while hashing", e);
        }
        if (failure != null) {
            throw failure;
        }
        if (hashed != size) {
            throw new IOException("hashing stopped at byte " + hashed + " of " + size);
        }
        return Digests.of(md);
    }

    private void run() {
        byte[] piece = new byte[PIECE];
        ByteBuffer buf = ByteBuffer.wrap(piece);
        long pos = 0;
        try {
            while (pos < size && !stopped) {
                long upTo = contiguous.getAsLong();
                if (upTo <= pos) {
                    LockSupport.parkNanos(20_000_000L);
                    continue;
                }
                while (pos < upTo && !stopped) {
                    int n = (int) Math.min(PIECE, upTo - pos);
                    buf.clear().limit(n);
                    while (buf.hasRemaining()) {
                        if (file.read(buf, pos + buf.position()) < 0) {
                            throw new IOException("the file ended at byte " + (pos + buf.position()) + " while hashing it");
                        }
                    }
                    md.update(piece, 0, n);
                    pos += n;
                    hashed = pos;
                }
            }
        } catch (IOException e) {
            failure = e;
        }
    }
}

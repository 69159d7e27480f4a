package dev.daxload.registry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * SHA-256 of a file that is being written out of order, computed while it is written. sha256 is sequential, so the
 * bytes are hashed strictly in order, two ways: a stream whose bytes are the next ones to hash hands them over from
 * its receive buffer ({@link #offer}: with one stream, every byte, and the file is never read back); bytes that were
 * written ahead of that point (other streams' chunks, a resumed pull's earlier bytes) are hashed by a thread of its
 * own once the part written without a gap reaches past them, read back from the page cache (they were just written,
 * and the gap-free end trails the fastest stream by a few chunks, so they are still in memory: the disk is not read).
 */
final class PrefixHasher {
    private static final int PIECE = 1 << 20;

    private final FileChannel file;
    private final long size;
    private final LongSupplier contiguous;
    private final MessageDigest md = Digests.sha256();
    /** Guards {@link #md} and {@link #hashed}: both ways of feeding the digest take it. */
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Thread thread;
    private volatile boolean stopped;
    private volatile long hashed;
    private IOException failure;

    /** @param contiguous how many bytes from 0 on are in the file without a gap, now */
    PrefixHasher(FileChannel file, long size, LongSupplier contiguous) {
        this.file = file;
        this.size = size;
        this.contiguous = contiguous;
    }

    void start() {
        thread = Thread.ofPlatform().name("daxload-sha256").daemon().start(this::run);
    }

    /**
     * Hashes bytes {@code position} to {@code position + n} from {@code bytes} if they are the next ones to hash;
     * otherwise leaves them to be read back from the file once the gap before them closes.
     */
    void offer(long position, byte[] bytes, int n) {
        if (position != hashed) {
            return;
        }
        lock.lock();
        try {
            if (position == hashed) {
                md.update(bytes, 0, n);
                hashed = position + n;
            }
        } finally {
            lock.unlock();
        }
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
        try {
            while (hashed < size && !stopped) {
                if (contiguous.getAsLong() <= hashed) {
                    LockSupport.parkNanos(20_000_000L);
                    continue;
                }
                lock.lock();
                try {
                    long pos = hashed;
                    int n = (int) Math.min(PIECE, contiguous.getAsLong() - pos);
                    if (n <= 0) {
                        continue;
                    }
                    buf.clear().limit(n);
                    while (buf.hasRemaining()) {
                        if (file.read(buf, pos + buf.position()) < 0) {
                            throw new IOException("the file ended at byte " + (pos + buf.position()) + " while hashing it");
                        }
                    }
                    md.update(piece, 0, n);
                    hashed = pos + n;
                } finally {
                    lock.unlock();
                }
            }
        } catch (IOException e) {
            failure = e;
        }
    }
}

package dev.daxload.bridge.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * How an upload is cut into pieces: pure arithmetic, kept apart so it is tested without a GPU.
 *
 * <p>Why chunks: the copy engine reads only page-locked memory; a mapped image is pageable, so
 * each piece is copied (by the CPU) into one of two pinned buffers while the other buffer's piece
 * is in flight to the device on its own stream. Two buffers of {@link #DEFAULT_CHUNK} keep the
 * PCIe link busy without pinning gigabytes of host memory.
 */
public final class ChunkPlan {
    /** 32 MiB: large enough that per-copy overhead is noise, small enough to pin cheaply. */
    public static final long DEFAULT_CHUNK = 32L << 20;

    /** One piece: bytes {@code [offset, offset+length)} of the image. */
    public record Chunk(int index, long offset, long length) {}

    private ChunkPlan() {}

    /**
     * Cuts {@code size} bytes into pieces of {@code chunk} bytes (the last may be shorter).
     *
     * @param size the bytes to copy, 0 or more
     * @param chunk the piece size, more than 0
     * @return the pieces in order; empty for size 0
     */
    public static List<Chunk> of(long size, long chunk) {
        if (size < 0 || chunk <= 0) {
            throw new IllegalArgumentException("size " + size + ", chunk " + chunk);
        }
        long n = (size + chunk - 1) / chunk;
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(size + " bytes in " + chunk + "-byte chunks are too many pieces");
        }
        List<Chunk> out = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            long off = i * chunk;
            out.add(new Chunk(i, off, Math.min(chunk, size - off)));
        }
        return out;
    }

    /**
     * @param n a size
     * @param multiple the granularity, more than 0
     * @return {@code n} rounded up to a multiple of {@code multiple}
     */
    public static long roundUp(long n, long multiple) {
        if (multiple <= 0) {
            throw new IllegalArgumentException("granularity " + multiple);
        }
        return Math.ceilDiv(n, multiple) * multiple;
    }

    /**
     * The pinned buffer size for an upload: the requested chunk, but never more than the image
     * (a 5 MB image needs no 32 MiB buffers).
     *
     * @param size the image size
     * @param requested the requested chunk size
     * @return the chunk size to use, at least 1
     */
    public static long chunkFor(long size, long requested) {
        return Math.max(1, Math.min(size, requested));
    }

    /**
     * How many pinned buffers (and streams) to use: two, so one fills while the other flies,
     * or one when there is only one piece.
     *
     * @param chunks the number of pieces
     * @return 1 or 2 (0 for nothing to copy)
     */
    public static int buffersFor(int chunks) {
        return Math.min(2, chunks);
    }

    /**
     * @param bytes bytes moved
     * @param nanos time taken
     * @return GB/s (10^9 bytes per second), 0 when no time passed
     */
    public static double gbPerSecond(long bytes, long nanos) {
        return nanos <= 0 ? 0 : bytes / (double) nanos;
    }
}

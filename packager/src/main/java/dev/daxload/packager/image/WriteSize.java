package dev.daxload.packager.image;

/**
 * Chooses how much of a 1 MiB chunk one pwrite call writes into the image: the whole chunk, or 64 KiB
 * at a time, whichever has recently cost fewer nanoseconds a byte.
 *
 * <p>Why it cannot be fixed: the page cache sizes its folios by the write, and the best size depends on
 * where the memory comes from. Where free memory is plainly there, 1 MiB writes (large folios, 16 times
 * fewer calls) are faster: bge-small-en-v1.5 packs in 38-39 ms against 53 ms with 64 KiB writes (the
 * kernel's copy of the same file: 35-38 ms). On a VM that reports free pages to its host (Firecracker,
 * virtio-balloon free page reporting), memory freed a moment ago has gone back to the host, the
 * high-order blocks that large folios take are exactly those, and 1 MiB writes become 2-3 times slower
 * than 64 KiB ones, which is what the kernel's own copy_file_range writes at a time (a splice pipe of
 * 16 pages): 3.2 GB of misaligned ranges, same run, 2.4-3.4 s against 1.3-1.5 s (copy_file_range of
 * the whole file 1.2-1.4 s); 16 KiB and 256 KiB were both slower than 64 KiB there. Which case holds
 * can change within one image, as the memory that was not yet handed back runs out.
 *
 * <p>So the size in use keeps a moving average of its cost, every {@value #PROBE_EVERY}th chunk goes
 * the other way and its cost replaces that size's figure (the only fresh one; a wrong one is corrected
 * by the chunks that follow if it wins), and the cheaper is used. Only the writer thread calls this.
 */
final class WriteSize {
    static final int LARGE = 1 << 20;
    static final int SMALL = 64 << 10;
    static final int PROBE_EVERY = 32;
    /** Weight of the newest measurement in the moving averages. */
    private static final double ALPHA = 0.25;

    private double largeCost = Double.NaN;
    private double smallCost = Double.NaN;
    private long chunks;
    private boolean probing;

    /** The write size for the next chunk. */
    int next() {
        chunks++;
        if (Double.isNaN(largeCost)) {
            probing = false;
            return LARGE;
        }
        int better = smallCost < largeCost ? SMALL : LARGE; // false while small is unmeasured (NaN)
        probing = Double.isNaN(smallCost) || chunks % PROBE_EVERY == 0;
        return probing ? (better == LARGE ? SMALL : LARGE) : better;
    }

    /** Records that writing {@code bytes} with {@code size}-byte calls took {@code nanos}. */
    void took(int size, long bytes, long nanos) {
        if (bytes <= 0) {
            return;
        }
        double cost = (double) nanos / bytes;
        double old = size == LARGE ? largeCost : smallCost;
        double updated = probing || Double.isNaN(old) ? cost : old + ALPHA * (cost - old);
        if (size == LARGE) {
            largeCost = updated;
        } else {
            smallCost = updated;
        }
    }
}

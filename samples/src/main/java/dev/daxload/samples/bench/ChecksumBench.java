package dev.daxload.samples.bench;

import dev.daxload.image.MapOptions;
import dev.daxload.image.internal.Mmap;
import dev.daxload.tensor.internal.Checksums;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * CRC32C of a mapped file, the two ways {@link Checksums} reads: directly (memory that cannot shrink:
 * a device, a sealed memfd) and through the guarded copy (a plain file, which may be truncated under
 * the mapping: the direct read would kill the JVM with SIGBUS). One thread, the file mapped once and
 * populated, rounds alternating which goes first; prints each round and the medians' ratio.
 *
 * <pre>usage: ChecksumBench FILE [ROUNDS]   (default 9)</pre>
 */
public final class ChecksumBench {
    private ChecksumBench() {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = Mmap.map(file, MapOptions.readOnly().withPopulate(true), arena);
            double gb = seg.byteSize() / 1e9;
            for (int w = 0; w < 3; w++) { // JIT warm-up of both paths
                Checksums.crc32c(seg, null, true);
                Checksums.crc32c(seg, null, false);
            }
            List<Double> direct = new ArrayList<>();
            List<Double> guarded = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                boolean directFirst = r % 2 == 0;
                for (int k = 0; k < 2; k++) {
                    boolean d = directFirst == (k == 0);
                    long t0 = System.nanoTime();
                    int crc = Checksums.crc32c(seg, null, d);
                    double rate = gb / ((System.nanoTime() - t0) / 1e9);
                    (d ? direct : guarded).add(rate);
                    System.out.printf("round %d %-7s %6.2f GB/s (crc %08x)%n", r, d ? "direct" : "guarded", rate, crc);
                }
            }
            double md = median(direct);
            double mg = median(guarded);
            System.out.printf("median: direct %.2f GB/s, guarded %.2f GB/s, guarded/direct %.2f%n", md, mg, mg / md);
        }
    }

    private static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        return s.get(s.size() / 2);
    }
}

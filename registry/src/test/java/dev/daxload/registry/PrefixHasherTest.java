package dev.daxload.registry;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The digest of a file written out of order, fed from receive buffers and from the file, is the file's sha256. */
class PrefixHasherTest {
    @TempDir
    Path dir;

    @Test
    void piecesWrittenOutOfOrderHashToTheWholeFilesDigest() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        int size = 5 * (1 << 20) + 12345;
        byte[] content = new byte[size];
        random.nextBytes(content);
        int piece = 256 << 10;
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i * piece < size; i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        try (FileChannel file = FileChannel.open(dir.resolve("f"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            boolean[] written = new boolean[order.size()];
            AtomicLong gapFree = new AtomicLong();
            PrefixHasher hasher = new PrefixHasher(file, size, gapFree::get);
            hasher.start();
            for (int i : order) {
                int from = i * piece;
                int n = Math.min(piece, size - from);
                byte[] buf = java.util.Arrays.copyOfRange(content, from, from + n);
                hasher.offer(from, buf, n);
                file.write(ByteBuffer.wrap(buf), from);
                written[i] = true;
                int k = 0;
                while (k < written.length && written[k]) {
                    k++;
                }
                gapFree.set(Math.min(size, (long) k * piece));
                hasher.poke();
            }
            assertEquals(Digests.of(content), hasher.finish(), "seed " + seed);
        }
    }

    @Test
    void oneStreamInOrderIsHashedFromItsBuffersAlone() throws Exception {
        byte[] content = new byte[3 << 20];
        new Random(7).nextBytes(content);
        try (FileChannel file = FileChannel.open(dir.resolve("g"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            // the file stays empty and the gap-free end at 0: only the offers can make the digest
            PrefixHasher hasher = new PrefixHasher(file, content.length, () -> 0L);
            hasher.start();
            for (int from = 0; from < content.length; from += 1 << 20) {
                hasher.offer(from, java.util.Arrays.copyOfRange(content, from, from + (1 << 20)), 1 << 20);
            }
            assertEquals(Digests.of(content), hasher.finish());
        }
    }
}

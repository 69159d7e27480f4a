package dev.daxload.reliability;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.3 and 13.4 (the path index): sound images at the edges of the format's own limits, read
 * by the command line in a child JVM with a 64 MB heap.
 */
class DeepTreeTest {
    static final ImageTree.Attributes DIR = new ImageTree.Attributes(0755, 0, 0);
    static final ImageTree.Attributes FILE = new ImageTree.Attributes(0644, 0, 0);
    @TempDir Path tmp;

    /** A chain of {@code depth} directories named "d", a file at the bottom. */
    Path chain(int depth) throws Exception {
        ImageTree tree = new ImageTree();
        ImageTree.Directory d = tree.root();
        for (int i = 0; i < depth; i++) {
            d = d.directory("d", DIR);
        }
        d.file("bottom", FileContent.of(new byte[] {42}), FILE);
        Path img = tmp.resolve("chain" + depth + ".daxfs");
        new ImageWriter().write(tree, img);
        return img;
    }

    @Test
    void lsRecursiveOfA2040DeepChainIsLinear() throws Exception {
        Path img = chain(2040);
        // Before: 87 s (13 s for 1,000: cubic in the depth). Now the work is the output itself.
        ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(30), "ls", "-R", img.toString());
        assertEquals(0, r.code(), r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.out().contains("bottom"), "the deepest file is listed");
        assertEquals(2041, r.out().lines().filter(l -> l.endsWith(":")).count());
        assertTrue(r.millis() < 5000, "ls -R took " + r.millis() + " ms");
        try (DaxImage image = DaxImage.open(img)) {
            String deepest = "d/".repeat(2040) + "bottom";
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                assertEquals(1, image.resolve(deepest).size());
                assertTrue(image.lookup(deepest).isPresent());
            }
            assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "100 resolves of a 2,040-deep path took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
    }

    @Test
    void anIndexOverTheBudgetIsAClearErrorNotAnOutOfMemoryError() throws Exception {
        ImageTree tree = new ImageTree();
        ImageTree.Directory d = tree.root().directory("many", DIR);
        for (int i = 0; i < 100_000; i++) {
            d.file(Integer.toString(i), FileContent.of(new byte[0]), FILE);
        }
        Path img = tmp.resolve("many.daxfs");
        new ImageWriter().write(tree, img);
        for (String cmd : new String[] {"ls", "verify"}) {
            ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(20), cmd, img.toString());
            assertEquals(1, r.code(), cmd + ": " + r.out() + r.err());
            assertFalse(r.crashedOrLeaked(), r.err());
            assertTrue(r.err().contains("dir.entries") && r.err().contains("100001 entries") && r.err().contains("-Xmx"), r.err());
        }
    }

    @Test
    void twentyThousandNamesUnderFifteen255ByteDirectoriesIn64MB() throws Exception {
        ImageTree tree = new ImageTree();
        ImageTree.Directory d = tree.root();
        for (int i = 0; i < 15; i++) {
            d = d.directory(Character.toString('a' + i).repeat(255), DIR);
        }
        for (int i = 0; i < 20_000; i++) {
            d.file(String.format("%06d", i) + "x".repeat(200), FileContent.of(new byte[0]), FILE);
        }
        Path img = tmp.resolve("wide.daxfs");
        new ImageWriter().write(tree, img);
        String dir = "/" + String.join("/", java.util.stream.IntStream.range(0, 15).mapToObj(i -> Character.toString('a' + i).repeat(255)).toList());
        for (String[] args : new String[][] {{"verify", img.toString()}, {"ls", img.toString(), dir}, {"ls", "-R", img.toString()}}) {
            ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(20), args);
            assertEquals(0, r.code(), args[0] + ": " + r.err());
            assertFalse(r.crashedOrLeaked(), r.err());
            assertTrue(r.millis() < 5000, args[0] + " took " + r.millis() + " ms");
        }
    }
}

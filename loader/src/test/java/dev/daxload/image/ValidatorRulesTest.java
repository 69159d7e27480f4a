package dev.daxload.image;

import dev.daxload.image.internal.ImageValidator;
import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.TestImageBuilder.Dir;
import dev.daxload.image.TestImageBuilder.Style;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Targeted rules of {@link ImageValidator} that random mutation reaches rarely or not at all. */
class ValidatorRulesTest {

    /**
     * A chain of {@code n} directories, each holding the next under a name of {@code nameLen} bytes,
     * packed as tightly as the validator allows (dirent arrays 272 bytes apart, not 4096-aligned):
     * about 336 bytes of image per directory.
     */
    static byte[] packedChain(int n, int nameLen) {
        long dataStart = TestImageBuilder.align(4096 + 64L * n);
        long baseSize = dataStart + 272L * (n - 1) + 4096;
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(4096 + baseSize)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0x64617835).putInt(4, 5).putInt(12, 4096).putLong(16, 4096 + baseSize).putLong(24, 4096).putLong(32, baseSize).putLong(64, n + 1L);
        b.putInt(4096, 0x64646135).putInt(4100, 5).putInt(4108, 4096).putLong(4112, baseSize).putLong(4120, 4096).putInt(4128, n).putInt(4132, 1).putLong(4136, dataStart);
        byte[] name = "n".repeat(nameLen).getBytes();
        for (int i = 1; i <= n; i++) {
            int at = 8192 + 64 * (i - 1);
            boolean last = i == n;
            long data = dataStart + 272L * (i - 1);
            b.putInt(at, i).putInt(at + 4, 040755).putLong(at + 16, last ? 0 : 271).putLong(at + 24, last ? 0 : data).putInt(at + 32, last ? 2 : 3);
            if (!last) {
                int d = (int) (4096 + data);
                b.putInt(d, i + 1).putInt(d + 4, 040755).putShort(d + 8, (short) nameLen).put(d + 16, name);
            }
        }
        return b.array();
    }

    @Test
    void aTightlyPackedChainIsSoundAndReadable() throws Exception {
        MemorySegment seg = MemorySegment.ofArray(packedChain(500, 7));
        var result = ImageValidator.validate(seg);
        assertTrue(result.sound(), result.problems()::toString);
        try (DaxImage img = DaxImage.of(seg, "chain")) {
            String deepest = String.join("/", java.util.Collections.nCopies(499, "nnnnnnn"));
            assertEquals(500, img.lookup(deepest).orElseThrow().ino());
            int[] count = {0};
            img.walk(e -> count[0]++);
            assertEquals(499, count[0]);
        }
    }

    /**
     * The validator indexes full paths. A 7 MB hostile image, a chain of 20000 directories with
     * 255-byte names, would need 256 * 20000^2 / 2 = 51 GB of path strings: an OutOfMemoryError
     * from a few megabytes of input. Paths longer than Linux's PATH_MAX are refused instead, which
     * bounds the index to a small multiple of the image.
     */
    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS)
    void deepLongNamedChainIsRefusedNotAMemoryBomb() {
        MemorySegment seg = MemorySegment.ofArray(packedChain(20_000, 255));
        var result = ImageValidator.validate(seg);
        assertFalse(result.readable());
        List<String> errors = result.problems().stream().filter(p -> p.severity() == ImageProblem.Severity.ERROR).map(ImageProblem::rule).toList();
        assertEquals(List.of("path.length"), errors, result.problems()::toString);
        ImageProblem p = result.problems().get(0);
        // directory k's entry has a path of k names: 16 * 256 - 1 = 4095 bytes fit, 17 names do not
        assertEquals(17, p.inode());
        assertThrows(DaxFormatException.class, () -> DaxImage.of(seg, "bomb"));
    }

    @Test
    void pathsUpToPathMaxAreFine() throws Exception {
        // 16 names of 255 bytes and 15 slashes: 4095 bytes, the longest path Linux accepts
        MemorySegment seg = MemorySegment.ofArray(packedChain(17, 255));
        var result = ImageValidator.validate(seg);
        assertTrue(result.sound(), result.problems()::toString);
        MemorySegment longer = MemorySegment.ofArray(packedChain(18, 255));
        assertEquals(List.of("path.length"), ImageValidator.validate(longer).problems().stream().map(ImageProblem::rule).toList());
    }

    /**
     * More than {@value ImageValidator#MAX_PROBLEMS} warnings first and one error last: the error must
     * still make the image unreadable (it used to fall past the cap, and the image opened).
     */
    @Test
    void anErrorAfterTheProblemCapStillRefusesTheImage() {
        Dir root = new Dir(0755);
        int files = ImageValidator.MAX_PROBLEMS + 5;
        for (int i = 0; i < files; i++) root.file(String.format("f%05d", i), new byte[] {(byte) i}, 0644);
        var built = TestImageBuilder.build(root, Style.SORTED_BFS);
        ByteBuffer b = ByteBuffer.wrap(built.image()).order(ByteOrder.LITTLE_ENDIAN);
        for (int ino = 2; ino <= files + 1; ino++) {
            int at = (int) (built.inodeTable() + 64L * (ino - 1));
            b.putLong(at + 24, b.getLong(at + 24) + 1); // misaligned but inside its slot: a warning each
        }
        int last = (int) (built.inodeTable() + 64L * files);
        b.putInt(last + 4, 0020644); // a character device: an error, found after every warning
        var result = ImageValidator.validate(MemorySegment.ofArray(built.image()));
        assertTrue(result.droppedProblems() > 0);
        assertFalse(result.readable(), "the one error was dropped past the cap");
        assertEquals(1, result.errorCount());
        assertThrows(DaxFormatException.class, () -> DaxImage.of(MemorySegment.ofArray(built.image()), "capped"));
    }

    /** A base superblock that would lie past the end of a truncated image is an error, not an out-of-bounds read. */
    @Test
    void baseSuperblockPastTheEndIsAnError() {
        byte[] img = TestImageBuilder.build(ReferenceLayoutReadTest.referenceTree(), Style.SORTED_BFS).image();
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(24, img.length).putLong(32, 0);
        var result = ImageValidator.validate(MemorySegment.ofArray(img));
        assertEquals(List.of("super.base_size"), result.problems().stream().map(ImageProblem::rule).toList());
    }

    @Test
    void directoryReachableTwiceAndCyclesAreErrors() {
        Dir root = new Dir(0755);
        Dir a = root.dir("a", 0755);
        a.dir("b", 0755);
        root.add("again", a);
        var result = ImageValidator.validate(MemorySegment.ofArray(TestImageBuilder.build(root, Style.SORTED_BFS).image()));
        assertEquals(List.of("dir.parents"), result.problems().stream().map(ImageProblem::rule).toList());

        Dir r2 = new Dir(0755);
        Dir loop = r2.dir("loop", 0755);
        loop.add("back", r2);
        var cyc = ImageValidator.validate(MemorySegment.ofArray(TestImageBuilder.build(r2, Style.MKDAXFS).image()));
        assertEquals(List.of("dir.parents"), cyc.problems().stream().map(ImageProblem::rule).toList(), cyc.problems()::toString);
    }
}

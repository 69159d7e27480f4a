package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.internal.FileCopy;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FileCopy}, which the loader's side files and the packer's sources go through: ranges of a file on an
 * ordinary file system and, where the machine has one, on hugetlbfs, where the JDK's own {@code transferTo}
 * fails (an IOException at most offsets; at those whose 4 KiB page starts a huge page, its cleaner calls
 * System.exit(1): this test's JVM would end).
 */
class FileCopyTest {
    @TempDir Path tmp;
    static final byte[] DATA = new byte[5 << 20];

    static {
        new Random(42).nextBytes(DATA);
    }

    /** Offsets and lengths that cover both of FileCopy's ways: huge-page-aligned starts and others. */
    static final long[][] RANGES = {{0, DATA.length}, {2 << 20, 3 << 20}, {4096, 9000}, {123, (2 << 20) + 77}, {(4 << 20) + 5, 100}};

    private void copiesEveryRange(Path source) throws Exception {
        try (FileChannel src = FileChannel.open(source)) {
            for (long[] r : RANGES) {
                Path out = tmp.resolve("out-" + r[0] + "-" + r[1]);
                try (FileChannel to = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    assertEquals(r[1], FileCopy.copy(src, r[0], r[1], to), "bytes copied from " + r[0]);
                }
                assertArrayEquals(Arrays.copyOfRange(DATA, (int) r[0], (int) (r[0] + r[1])), Files.readAllBytes(out), "range from " + r[0]);
            }
            Path past = tmp.resolve("past-the-end");
            try (FileChannel to = FileChannel.open(past, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                assertEquals(1000, FileCopy.copy(src, src.size() - 1000, 5000, to), "a copy stops where the file ends");
            }
        }
    }

    @Test
    void rangesOfAnOrdinaryFileAreCopiedWhole() throws Exception {
        copiesEveryRange(Files.write(tmp.resolve("source.bin"), DATA));
    }

    @Test
    void rangesOfAHugetlbfsFileAreCopiedWhole() throws Exception {
        Path dir = Hugetlbfs.directory(3);
        try {
            Path source = dir.resolve("source.bin");
            Files.createFile(source);
            try (RandomAccessFile f = new RandomAccessFile(source.toFile(), "rw")) {
                f.setLength(6 << 20); // whole huge pages; the data is the first 5 MiB
            }
            FileCalls.copyThroughMapping(MemorySegment.ofArray(DATA), source, 6 << 20);
            copiesEveryRange(source);
        } finally {
            Hugetlbfs.delete(dir);
        }
    }
}

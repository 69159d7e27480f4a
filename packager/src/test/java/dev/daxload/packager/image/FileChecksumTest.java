package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.RegularFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a file's bytes reach the image (a misaligned range through the buffers, an aligned one,
 * bytes in memory, a content that writes itself, a late file) lands byte for byte, and the CRC32C the
 * listener is told is that of the bytes in the image.
 */
class FileChecksumTest {
    @TempDir
    Path tmp;

    /** Writes itself in odd-sized pieces, as the byte-swapping and inflating contents do. */
    record SelfWritten(byte[] bytes) implements FileContent {
        @Override
        public long size() {
            return bytes.length;
        }

        @Override
        public void writeTo(FileChannel image, long position) throws IOException {
            for (int at = 0; at < bytes.length; at += 777) {
                image.write(ByteBuffer.wrap(bytes, at, Math.min(777, bytes.length - at)), position + at);
            }
        }

        @Override
        public String describe() {
            return "self-written";
        }
    }

    private record Seen(long offset, long size, int crc) {}

    @Test
    void everyPathLandsExactlyAndIsChecksummedAsItLanded() throws IOException {
        Random rnd = new Random(7);
        byte[] source = new byte[5 << 20];
        rnd.nextBytes(source);
        Path src = Files.write(tmp.resolve("weights.bin"), source);
        byte[] inMemory = new byte[100_003];
        rnd.nextBytes(inMemory);
        byte[] selfWritten = new byte[1_500_001];
        rnd.nextBytes(selfWritten);
        byte[] late = "{\"late\": true}".getBytes();

        ImageTree tree = new ImageTree();
        Attributes a = new Attributes(0644, 0, 0);
        Map<String, byte[]> expect = Map.of(
                "misaligned-multichunk", Arrays.copyOfRange(source, 7, 7 + (3 << 20) + 5),
                "aligned", Arrays.copyOfRange(source, 4096, 4096 + (1 << 20) + 1),
                "tiny", Arrays.copyOfRange(source, 1, 2),
                "in-memory", inMemory,
                "self-written", selfWritten,
                "late", late);
        tree.root().file("misaligned-multichunk", FileContent.range(src, 7, (3 << 20) + 5), a);
        tree.root().file("aligned", FileContent.range(src, 4096, (1 << 20) + 1), a);
        tree.root().file("tiny", FileContent.range(src, 1, 1), a);
        tree.root().file("in-memory", FileContent.of(inMemory), a);
        tree.root().file("self-written", new SelfWritten(selfWritten), a);
        tree.root().file("late", FileContent.late(layout -> late), a);
        tree.root().file("empty", FileContent.of(new byte[0]), a);

        Map<RegularFile, Seen> seen = new IdentityHashMap<>();
        Path image = tmp.resolve("image.daxfs");
        new ImageWriter().onFileWritten((file, offset, size, crc) -> seen.put(file, new Seen(offset, size, crc)))
                .write(tree, image);

        byte[] img = Files.readAllBytes(image);
        assertEquals(expect.size(), seen.size(), "one call per non-empty file");
        for (var e : expect.entrySet()) {
            RegularFile f = (RegularFile) tree.root().get(e.getKey());
            Seen s = seen.get(f);
            assertEquals(0, s.offset % 4096, e.getKey());
            byte[] landed = Arrays.copyOfRange(img, (int) s.offset, (int) (s.offset + s.size));
            assertArrayEquals(e.getValue(), landed, e.getKey());
            assertEquals(crc32c(e.getValue()), s.crc, e.getKey());
        }
    }

    @Test
    void filesNobodyWantsAChecksumOfGetNone() throws IOException {
        byte[] source = new byte[3 << 20];
        new Random(8).nextBytes(source);
        Path src = Files.write(tmp.resolve("w.bin"), source);
        ImageTree tree = new ImageTree();
        tree.root().file("aligned", FileContent.range(src, 8192, 2 << 20), new Attributes(0644, 0, 0));
        tree.root().file("misaligned", FileContent.range(src, 3, 2 << 20), new Attributes(0644, 0, 0));
        Map<String, Integer> crcs = new java.util.HashMap<>();
        new ImageWriter().onFileWritten(new ImageWriter.FileWrittenListener() {
            @Override
            public boolean wantsChecksum(RegularFile file) {
                return false;
            }

            @Override
            public void written(RegularFile file, long offset, long size, int crc32c) {
                crcs.put(file == tree.root().get("aligned") ? "aligned" : "misaligned", crc32c);
            }
        }).write(tree, tmp.resolve("i.daxfs"));
        assertEquals(Map.of("aligned", 0, "misaligned", 0), crcs);
        byte[] img = Files.readAllBytes(tmp.resolve("i.daxfs"));
        assertTrue(indexOf(img, Arrays.copyOfRange(source, 8192, 8192 + 4096)) >= 0);
        assertTrue(indexOf(img, Arrays.copyOfRange(source, 3, 3 + 4096)) >= 0);
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i += 4096) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static int crc32c(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }
}

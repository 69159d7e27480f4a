package dev.daxload.packager.ort;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.RegularFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ORT's data file reduced to what ORT changed or made; unchanged initializers read from the model's tensors. */
class OrtDataCompactorTest {
    @TempDir Path tmp;

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    @Test
    void sharesEqualTensorsAndKeepsTheRestAtTheirOffsetWithinAPage() throws Exception {
        // ORT's data file: "same" (equal to the model's tensor), "changed" (same name, other bytes),
        // "made" (no tensor of that name), and one prepacked blob at an offset that is not page-aligned.
        byte[] same = random(8192, 1);
        byte[] changed = random(4096, 2);
        byte[] made = random(1000, 3);
        byte[] blob = random(5000, 4);
        Path data = tmp.resolve("model.data");
        byte[] file = new byte[40960];
        System.arraycopy(same, 0, file, 0, same.length);
        System.arraycopy(changed, 0, file, 8192, changed.length);
        System.arraycopy(made, 0, file, 16384 + 100, made.length);
        System.arraycopy(blob, 0, file, 20480 + 64, blob.length);
        Files.write(data, file);
        byte[] graph = OrtGraphRelocatorTest.model(
                OrtGraphRelocatorTest.external("same", "model.data", 0, same.length, "MatMul+1|" + (20480 + 64) + ";" + blob.length + ";0"),
                OrtGraphRelocatorTest.external("changed", "model.data", 8192, changed.length, null),
                OrtGraphRelocatorTest.external("made", "model.data", 16384 + 100, made.length, null));
        // The model's tensors as the packager holds them: ranges of a source file, and bytes in memory.
        Path source = tmp.resolve("source.bin");
        Files.write(source, same);
        ImageTree tree = new ImageTree();
        ImageTree.Attributes a = new ImageTree.Attributes(0444, 0, 0);
        Map<String, RegularFile> tensors = Map.of(
                "same", tree.root().file("same", FileContent.of(source, same.length), a),
                "changed", tree.root().file("changed", FileContent.of(random(4096, 99)), a));

        OrtDataCompactor.Compaction c = OrtDataCompactor.compact(graph, data, tensors::get, "g.onnx");

        assertEquals(Map.of(OrtDataCompactor.key("same", 0), tensors.get("same")), c.shared());
        assertEquals(same.length, c.sharedBytes());
        assertEquals(file.length, c.originalSize());
        assertEquals(3, c.kept().size(), "changed, made and the blob stay: " + c.kept());
        try (FileChannel out = FileChannel.open(c.data())) {
            assertEquals(c.size(), out.size());
            assertTrue(c.size() < file.length - same.length + 4096, "kept file is " + c.size() + " bytes");
            for (OrtDataCompactor.Kept k : c.kept()) {
                assertEquals(k.from() % 4096, k.to() % 4096, "offset within a page kept for " + k);
                ByteBuffer got = ByteBuffer.allocate((int) k.length());
                out.read(got, k.to());
                assertEquals(ByteBuffer.wrap(file, (int) k.from(), (int) k.length()), got.flip(), "bytes of " + k);
            }
        }
    }
}

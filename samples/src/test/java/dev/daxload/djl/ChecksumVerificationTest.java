package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import dev.daxload.model.ModelWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CRC32C of tensors: on demand, in the background, and as a load option of daxfs: URLs. */
class ChecksumVerificationTest {
    @TempDir Path tmp;

    Path imageWithFlippedByte(boolean flip) throws Exception {
        byte[] big = new byte[8 << 20];
        new java.util.Random(1).nextBytes(big);
        Path image = TestImages.write(tmp, "v.daxfs", List.of(
                TestImages.tensor("big", "U8", new long[] {big.length}, big),
                TestImages.tensor("small", "U8", new long[] {4}, new byte[] {1, 2, 3, 4})));
        if (flip) {
            long offset;
            try (ModelWeights w = ModelWeights.open(image, TestImages.MODEL)) {
                offset = w.tensor("small").entry().offset();
            }
            byte[] bytes = Files.readAllBytes(image);
            bytes[(int) offset + 2] ^= 1;
            Files.write(image, bytes);
        }
        return image;
    }

    @Test
    void soundWeightsPassEagerAndBackgroundChecks() throws Exception {
        try (ModelWeights w = ModelWeights.open(imageWithFlippedByte(false), TestImages.MODEL)) {
            assertEquals(List.of(), w.verify());
            AtomicLong progress = new AtomicLong();
            assertEquals(List.of(), w.verifyInBackground(progress).get(30, TimeUnit.SECONDS));
            assertEquals((8 << 20) + 4, progress.get());
        }
    }

    @Test
    void aFlippedBitIsFoundAndNamed() throws Exception {
        try (ModelWeights w = ModelWeights.open(imageWithFlippedByte(true), TestImages.MODEL)) {
            var small = w.tensor("small");
            var pending = w.verifyInBackground(new AtomicLong());
            // The tensor is usable at once: the check runs beside it.
            assertEquals(1, small.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            List<String> bad = pending.get(30, TimeUnit.SECONDS);
            assertEquals(1, bad.size());
            assertTrue(bad.get(0).contains("'small'"), bad.get(0));
            assertEquals(bad, w.verify());
            // Issue 9, integrity: weights that failed the check are not served any more.
            var refused = assertThrows(dev.daxload.model.CorruptWeightsException.class, () -> w.tensor("big"));
            assertTrue(refused.getMessage().contains("'small'") && refused.getMessage().contains("checksum"), refused.getMessage());
            assertThrows(dev.daxload.model.CorruptWeightsException.class, w::tensors);
        }
    }

    @Test
    void eagerVerificationRefusesTheLoad() throws Exception {
        Path image = imageWithFlippedByte(true);
        Criteria<NDList, NDList> criteria = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL + "&verify=eager")
                .optEngine("PyTorch").optArgument("daxfs.block", new DaxfsPyTorchTest.Mlp()).build();
        Exception e = assertThrows(Exception.class, criteria::loadModel);
        assertTrue(e.getMessage().contains("checksum") && e.getMessage().contains("'small'"), e.getMessage());
        assertEquals(0, SharedImages.openCount());
    }
}

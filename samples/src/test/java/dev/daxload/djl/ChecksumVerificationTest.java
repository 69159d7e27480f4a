package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
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
            var small = w.tensor("small").segment();
            var pending = w.verifyInBackground(new AtomicLong());
            // The tensor is usable at once: the check runs beside it (and may already have finished).
            assertEquals(1, small.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
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

    /**
     * Issue 9, integrity: a model loaded with verify=background whose check then finds a tensor
     * overwritten in place refuses further predictions with an exception naming the tensor, instead of
     * serving what the corrupt bytes compute.
     */
    @Test
    void aFailedBackgroundCheckMakesTheModelRefusePredictions() throws Exception {
        java.util.Random r = new java.util.Random(3);
        float[] w1 = DaxfsPyTorchTest.random(r, 64 * 32), b1 = DaxfsPyTorchTest.random(r, 64);
        float[] w2 = DaxfsPyTorchTest.random(r, 8 * 64), b2 = DaxfsPyTorchTest.random(r, 8);
        Path image = TestImages.write(tmp, "mlp.daxfs", List.of(
                TestImages.tensor("fc1.weight", "F32", new long[] {64, 32}, DaxfsPyTorchTest.floats(w1)),
                TestImages.tensor("fc1.bias", "F32", new long[] {64}, DaxfsPyTorchTest.floats(b1)),
                TestImages.tensor("fc2.weight", "F32", new long[] {8, 64}, DaxfsPyTorchTest.floats(w2)),
                TestImages.tensor("fc2.bias", "F32", new long[] {8}, DaxfsPyTorchTest.floats(b2))));
        long offset;
        try (ModelWeights w = ModelWeights.open(image, TestImages.MODEL)) {
            offset = w.tensor("fc2.bias").entry().offset();
        }
        byte[] bytes = Files.readAllBytes(image);
        bytes[(int) offset + 3] = (byte) 0x7f; // a NaN-ish float, as an overwrite in place would leave
        Files.write(image, bytes);
        Criteria<NDList, NDList> criteria = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL + "&verify=background")
                .optEngine("PyTorch").optArgument("daxfs.block", new DaxfsPyTorchTest.Mlp())
                .optArgument("daxfs.names", java.util.Map.of("01Linear_weight", "fc1.weight", "01Linear_bias", "fc1.bias",
                        "03Linear_weight", "fc2.weight", "03Linear_bias", "fc2.bias"))
                .optTranslator(new ai.djl.translate.NoopTranslator()).build();
        Exception refused = null;
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
            var x = manager.create(DaxfsPyTorchTest.random(r, 32), new ai.djl.ndarray.types.Shape(1, 32));
            // The check may end before the load binds the weights (the load is refused) or after (the
            // next predictions are): either way nothing is served from the corrupt bytes once it has.
            try (var model = criteria.loadModel(); var predictor = model.newPredictor()) {
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (System.nanoTime() < deadline) {
                    predictor.predict(new NDList(x)).close();
                    Thread.sleep(5);
                }
            } catch (Exception e) {
                refused = e;
            }
        }
        assertNotNull(refused, "the model kept serving after its check failed");
        Exception seen = refused;
        Throwable cause = refused;
        while (cause != null && !(cause instanceof dev.daxload.model.CorruptWeightsException)) {
            cause = cause.getCause();
        }
        assertNotNull(cause, () -> "expected CorruptWeightsException, got " + seen);
        assertTrue(cause.getMessage().contains("'fc2.bias'"), cause.getMessage());
        assertEquals(0, SharedImages.openCount(), "the refused model still closes and unmaps");
    }

    @Test
    void viewsMadeBeforeAFailedCheckRefuseOpsAfterIt() throws Exception {
        try (ModelWeights w = ModelWeights.open(imageWithFlippedByte(true), TestImages.MODEL);
             ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
            ai.djl.ndarray.NDArray big = PtTensorViews.view(manager, w.tensor("big"));
            assertEquals(big.sum().getLong(), big.sum().getLong(), "usable before the check");
            assertEquals(1, w.verifyInBackground(new AtomicLong()).get(30, TimeUnit.SECONDS).size());
            var e = assertThrows(dev.daxload.model.CorruptWeightsException.class, () -> big.sum());
            assertTrue(e.getMessage().contains("'small'"), e.getMessage());
        } // the refused array is still freed with its manager, and the image unmapped
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

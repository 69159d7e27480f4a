package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.image.DaxFormatException;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.internal.ManifestPrefetch;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.model.ModelWeights;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manifest read ahead on another thread while the image is validated ({@link ManifestPrefetch}) is
 * speculation: it is used only for the bytes the validated image holds, and a file that is no image
 * still fails as before.
 */
class ManifestPrefetchTest {
    @TempDir Path tmp;

    @Test
    void aPrefetchOfAnotherFileIsNotTaken() throws Exception {
        Path a = TestImages.write(tmp, "a.daxfs", List.of(TestImages.tensor("x", "F32", new long[] {2}, PtTensorViewsTest.f32(1, 2))));
        Path b = TestImages.write(tmp, "b.daxfs", List.of(
                TestImages.tensor("y", "F32", new long[] {3}, PtTensorViewsTest.f32(1, 2, 3)),
                TestImages.tensor("z", "F32", new long[] {1}, PtTensorViewsTest.f32(4))));
        ManifestPrefetch ofA = ManifestPrefetch.start(a, TestImages.MODEL);
        try (DaxImage image = DaxImage.open(b)) {
            // Same model name, other bytes: what the validated image b holds must win.
            assertEquals(describe(ModelCatalog.load(image, TestImages.MODEL)), describe(ModelCatalog.load(image, TestImages.MODEL, ofA)));
            assertEquals(List.of("y", "z"), ModelCatalog.load(image, TestImages.MODEL, ofA).tensors().stream().map(TensorEntry::name).toList());
        }
    }

    @Test
    void aPrefetchOfTheSameFileGivesTheSameManifest() throws Exception {
        Path a = TestImages.write(tmp, "a.daxfs", List.of(
                TestImages.tensor("x", "F32", new long[] {2}, PtTensorViewsTest.f32(1, 2)),
                TestImages.tensor("w", "F32", new long[] {2, 1}, PtTensorViewsTest.f32(3, 4))));
        ManifestPrefetch p = ManifestPrefetch.start(a, TestImages.MODEL);
        try (DaxImage image = DaxImage.open(a)) {
            assertEquals(describe(ModelCatalog.load(image, TestImages.MODEL)), describe(ModelCatalog.load(image, TestImages.MODEL, p)));
        }
        try (ModelWeights w = ModelWeights.open(a, TestImages.MODEL)) { // the prefetch inside open
            assertEquals(List.of("x", "w"), List.copyOf(w.tensors().keySet()));
            assertEquals(4f, w.tensor("w").segment().get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 4));
        }
    }

    @Test
    void aFileThatIsNoImageFailsAsBeforeWithThePrefetchRunning() throws Exception {
        Path good = TestImages.write(tmp, "a.daxfs", List.of(TestImages.tensor("x", "F32", new long[] {2}, PtTensorViewsTest.f32(1, 2))));
        byte[] bytes = Files.readAllBytes(good);
        Path truncated = Files.write(tmp.resolve("truncated.daxfs"), Arrays.copyOf(bytes, 6000));
        Path noise = Files.write(tmp.resolve("noise.daxfs"), new java.util.Random(11).ints(40_000).collect(
                java.io.ByteArrayOutputStream::new, (o, i) -> o.write(i), (x, y) -> x.writeBytes(y.toByteArray())).toByteArray());
        for (Path bad : List.of(truncated, noise)) {
            DaxFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(30),
                    () -> assertThrows(DaxFormatException.class, () -> ModelWeights.open(bad, TestImages.MODEL)));
            assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
        }
    }

    private static List<String> describe(ModelManifest m) {
        return m.tensors().stream().map(t -> t.name() + " " + t.dtype() + Arrays.toString(t.shape()) + " @" + t.offset() + "+" + t.length()).toList();
    }
}

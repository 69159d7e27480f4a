package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.translator.TextEmbeddingTranslatorFactory;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.model.CorruptWeightsException;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.tensor.TensorView;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, integrity, ONNX Runtime route: a tensor overwritten in place in the image, a load with
 * {@code verify=background}; once the background check has found it, predictions throw the
 * {@link CorruptWeightsException} naming the tensor (the first ones may answer; a check that ends
 * before the weights reach ONNX Runtime refuses the load instead), and the refused model still closes
 * and unmaps the image. Real all-MiniLM-L6-v2, real ONNX Runtime engine.
 */
class OrtCorruptWeightsTest {
    static final Path MODEL_DIR = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir Path tmp;

    @Test
    void aFailedBackgroundCheckMakesTheOrtModelRefusePredictionsNamingTheTensor() throws Exception {
        Path image = tmp.resolve("minilm.daxfs");
        Path tok = MODEL_DIR.resolve("all-minilm-l6-v2-tokenizer.json");
        ModelPackager p = new ModelPackager();
        p.model("minilm").add(new OnnxReader().read(MODEL_DIR.resolve("all-minilm-l6-v2.onnx")))
                .sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), image);

        String victim;
        long offset;
        try (ModelWeights w = ModelWeights.open(image, "minilm")) {
            TensorView t = w.tensors().values().stream().filter(v -> v.entry().dtype().name().equals("F32")
                    && v.entry().length() >= 4096).reduce((a, b) -> b).orElseThrow(); // the last big F32 tensor
            victim = t.entry().name();
            offset = t.entry().offset();
        }
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            // In place, as a stray writer would: same file, same inode, 4 KiB of NaN.
            java.nio.ByteBuffer nan = java.nio.ByteBuffer.allocate(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            while (nan.hasRemaining()) {
                nan.putFloat(Float.NaN);
            }
            ch.write(nan.flip(), offset);
        }

        Criteria<String, float[]> criteria = Criteria.builder().setTypes(String.class, float[].class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=minilm&verify=background")
                .optEngine("OnnxRuntime").optTranslatorFactory(new TextEmbeddingTranslatorFactory())
                .optArgument("includeTokenTypes", "true").build();
        Exception refused = null;
        int answered = 0;
        boolean loaded = false;
        // The check may end before the load hands the weights to ONNX Runtime (the load is refused) or
        // after (the next predictions are): either way nothing is served from the corrupt bytes once it has.
        try (ZooModel<String, float[]> model = criteria.loadModel()) {
            loaded = true;
            try (Predictor<String, float[]> predictor = model.newPredictor()) {
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (System.nanoTime() < deadline) {
                    predictor.predict("a sentence to embed");
                    answered++;
                    Thread.sleep(5);
                }
            }
        } catch (Exception e) {
            refused = e;
        }
        assertNotNull(refused, "the model kept serving for 20 s (" + answered + " answers) after its check should have failed");
        Throwable cause = refused;
        while (cause != null && !(cause instanceof CorruptWeightsException)) {
            cause = cause.getCause();
        }
        Exception seen = refused;
        assertNotNull(cause, () -> "expected CorruptWeightsException, got " + seen);
        assertTrue(cause.getMessage().contains("'" + victim + "'"), cause.getMessage());
        System.out.printf("ORT refused %s after %d answers: %s%n", loaded ? "a prediction" : "the load", answered, cause.getMessage());
        assertEquals(0, SharedImages.openCount(), "the refused model still closes and unmaps");
    }
}

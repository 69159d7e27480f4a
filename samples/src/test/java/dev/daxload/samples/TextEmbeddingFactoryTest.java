package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.translator.TextEmbeddingTranslatorFactory;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.cli.Daxload;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, side files: DJL's own {@link TextEmbeddingTranslatorFactory} (ai.djl.huggingface
 * tokenizers, the version the project pins) finds {@code tokenizer.json} in an image packed with
 * {@code daxload pack-model --file tokenizer.json=SRC} (and in one packed from a HuggingFace-style
 * model directory), through a {@code daxfs:} URL, and answers what the plain {@code .onnx} load answers.
 */
class TextEmbeddingFactoryTest {
    static final Path MODEL_DIR = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir Path tmp;

    static Criteria.Builder<String, float[]> embeddings() {
        return Criteria.builder().setTypes(String.class, float[].class).optEngine("OnnxRuntime")
                .optTranslatorFactory(new TextEmbeddingTranslatorFactory())
                .optArgument("includeTokenTypes", "true"); // the graph takes token_type_ids
    }

    @Test
    void theFactoryFindsTheTokenizerInTheImageAndAnswersAsThePlainOnnxLoad() throws Exception {
        Path onnx = MODEL_DIR.resolve("all-minilm-l6-v2.onnx");
        // The file as Maven Central ships it, under a name the factory would not find by itself.
        Path tok = MODEL_DIR.resolve("all-minilm-l6-v2-tokenizer.json");
        Path image = tmp.resolve("minilm.daxfs");
        int code = Daxload.run("pack-model", "--name", "minilm", onnx.toString(), "--file", "tokenizer.json=" + tok, "-o", image.toString(), "-q");
        assertEquals(0, code, "pack-model failed (its message is on stderr)");

        // The plain load: the .onnx and tokenizer.json side by side, as DJL expects a model directory.
        Path plain = Files.createDirectories(tmp.resolve("plain"));
        Files.createSymbolicLink(plain.resolve("model.onnx"), onnx.toAbsolutePath());
        Files.createSymbolicLink(plain.resolve("tokenizer.json"), tok.toAbsolutePath());

        // The same directory packed as a HuggingFace model directory: tokenizer.json comes along by itself.
        Path fromDir = tmp.resolve("minilm-dir.daxfs");
        assertEquals(0, Daxload.run("pack-model", "--name", "minilm", plain.toString(), "-o", fromDir.toString(), "-q"));

        for (Path img : new Path[] {image, fromDir}) {
            // prepacking=true: ONNX Runtime's default, which the plain load has; the answers are then bit-equal.
            try (ZooModel<String, float[]> fromImage = embeddings().optModelUrls("daxfs://" + img.toAbsolutePath() + "?model=minilm&prepacking=true").build().loadModel();
                 ZooModel<String, float[]> fromFile = embeddings().optModelPath(plain).build().loadModel();
                 Predictor<String, float[]> a = fromImage.newPredictor();
                 Predictor<String, float[]> b = fromFile.newPredictor()) {
                for (String s : MiniLmDemo.SENTENCES) {
                    float[] e = a.predict(s);
                    assertEquals(384, e.length);
                    assertArrayEquals(b.predict(s), e, img.getFileName() + ": embedding of '" + s + "'");
                }
            }
        }
    }
}

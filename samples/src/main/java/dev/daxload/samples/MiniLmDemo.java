package dev.daxload.samples;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.packager.source.SourceModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The README's demo: all-MiniLM-L6-v2, from Maven Central, packed into a DAXFS image, loaded through
 * DJL's {@code Criteria} with a {@code daxfs:} URL (weights handed to ONNX Runtime as views of the
 * mapped image, no copy), sentence embeddings computed and compared with the same model run from its
 * original ONNX file. Exits 1 if any embedding differs.
 *
 * <pre>usage: MiniLmDemo MODEL_DIR WORK_DIR   (MODEL_DIR holds all-minilm-l6-v2.onnx and its tokenizer)</pre>
 */
public final class MiniLmDemo {
    static final List<String> SENTENCES = List.of(
            "A DAXFS image serves model weights straight out of memory.",
            "Every process on the host shares one physical copy.",
            "The cat sat on the mat.",
            "Inference servers start in milliseconds whatever the model's size.");

    public static void main(String[] args) throws Exception {
        Path modelDir = Path.of(args.length > 0 ? args[0] : "samples/target/models/all-minilm-l6-v2");
        Path work = Files.createDirectories(Path.of(args.length > 1 ? args[1] : "samples/target/demo"));
        Path onnx = modelDir.resolve("all-minilm-l6-v2.onnx");
        Path tokenizerJson = modelDir.resolve("all-minilm-l6-v2-tokenizer.json");
        Path image = work.resolve("minilm.daxfs");

        long t0 = System.nanoTime();
        SourceModel source = new OnnxReader().read(onnx);
        try (ModelPackager packager = new ModelPackager()) {
            packager.model("minilm").add(source).sideFile("tokenizer.json", FileContent.of(tokenizerJson, Files.size(tokenizerJson)));
            packager.write(new ImageWriter(), image);
        }
        System.out.printf("packed %s: %d tensors, %.1f MB image, in %d ms%n", onnx.getFileName(), source.tensors().size(),
                Files.size(image) / 1e6, (System.nanoTime() - t0) / 1_000_000);

        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(tokenizerJson)) {
            Criteria<String, float[]> fromImage = Criteria.builder()
                    .setTypes(String.class, float[].class)
                    .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=minilm")
                    .optTranslator(new SentenceEmbeddingTranslator(tokenizer, true))
                    .build();
            Criteria<String, float[]> fromFile = Criteria.builder()
                    .setTypes(String.class, float[].class)
                    .optModelPath(onnx)
                    .optEngine("OnnxRuntime")
                    .optTranslator(new SentenceEmbeddingTranslator(tokenizer, true))
                    .build();
            // Warm the engine once so neither timing below includes loading ONNX Runtime itself.
            try (ZooModel<String, float[]> warm = fromFile.loadModel()) {
                warm.getBlock();
            }
            long a = System.nanoTime();
            ZooModel<String, float[]> imageModel = fromImage.loadModel();
            long imageLoad = System.nanoTime() - a;
            long b = System.nanoTime();
            ZooModel<String, float[]> fileModel = fromFile.loadModel();
            long fileLoad = System.nanoTime() - b;
            System.out.printf("start-up (Criteria.loadModel): daxfs image %.1f ms, original ONNX file %.1f ms%n",
                    imageLoad / 1e6, fileLoad / 1e6);

            int mismatches = 0;
            try (imageModel; fileModel;
                 Predictor<String, float[]> p1 = imageModel.newPredictor();
                 Predictor<String, float[]> p2 = fileModel.newPredictor()) {
                for (String s : SENTENCES) {
                    float[] e1 = p1.predict(s);
                    float[] e2 = p2.predict(s);
                    double maxDiff = 0;
                    for (int i = 0; i < e1.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(e1[i] - e2[i]));
                    }
                    boolean same = java.util.Arrays.equals(e1, e2);
                    mismatches += same ? 0 : 1;
                    System.out.printf("%-80s dim=%d [%.4f %.4f %.4f ...] %s%n", '"' + s + '"', e1.length, e1[0], e1[1], e1[2],
                            same ? "identical to the ONNX file's" : "DIFFERS (max |diff| " + maxDiff + ")");
                }
            }
            if (mismatches > 0) {
                System.err.println("demo: " + mismatches + " embeddings differ from the original model's");
                System.exit(1);
            }
            System.out.println("all embeddings identical to the original model's");
        }
    }
}

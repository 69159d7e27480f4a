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
        ModelPackager packager = new ModelPackager();
        packager.model("minilm").add(source).sideFile("tokenizer.json", FileContent.of(tokenizerJson, Files.size(tokenizerJson)));
        packager.write(new ImageWriter(), image);
        System.out.printf("packed %s: %d tensors, %.1f MB image, in %d ms%n", onnx.getFileName(), source.tensors().size(),
                Files.size(image) / 1e6, (System.nanoTime() - t0) / 1_000_000);

        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(tokenizerJson)) {
            SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizer, true);
            // Warm both paths once so no timing below includes loading ONNX Runtime or classes.
            fromFile(modelDir, false, translator).close();
            fromImage(image, false, translator).close();

            int mismatches = 0;
            for (boolean prepacking : new boolean[] {false, true}) {
                long a = System.nanoTime();
                ZooModel<String, float[]> imageModel = fromImage(image, prepacking, translator);
                long imageLoad = System.nanoTime() - a;
                long b = System.nanoTime();
                ZooModel<String, float[]> fileModel = fromFile(modelDir, prepacking, translator);
                long fileLoad = System.nanoTime() - b;
                System.out.printf("%nONNX Runtime prepacking %s%s%n", prepacking ? "on (weights copied into packed layouts)" : "off",
                        prepacking ? "" : " (weights used in place: zero copy)");
                System.out.printf("  start-up: daxfs image %.1f ms (Criteria.loadModel), original ONNX file %.1f ms%n",
                        imageLoad / 1e6, fileLoad / 1e6);
                try (imageModel; fileModel;
                     Predictor<String, float[]> p1 = imageModel.newPredictor();
                     Predictor<String, float[]> p2 = fileModel.newPredictor()) {
                    for (String s : SENTENCES) {
                        float[] e1 = p1.predict(s);
                        float[] e2 = p2.predict(s);
                        boolean same = java.util.Arrays.equals(e1, e2);
                        mismatches += same ? 0 : 1;
                        System.out.printf("  %-70s [%.4f %.4f %.4f ...] %s%n", '"' + s + '"', e1[0], e1[1], e1[2],
                                same ? "identical" : "DIFFERS by up to " + maxDiff(e1, e2));
                    }
                }
            }
            if (mismatches > 0) {
                System.err.println("demo: " + mismatches + " embeddings differ from the original model's");
                System.exit(1);
            }
            System.out.println("\nall embeddings identical to those of the original ONNX file run with the same settings");
        }
    }

    /** The model from the image, through DJL's model loading API. */
    static ZooModel<String, float[]> fromImage(Path image, boolean prepacking, SentenceEmbeddingTranslator translator) throws Exception {
        return Criteria.builder()
                .setTypes(String.class, float[].class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=minilm&prepacking=" + prepacking)
                .optTranslator(translator)
                .build().loadModel();
    }

    /**
     * The baseline: the original ONNX file, loaded by DJL's ONNX Runtime engine with the same session
     * settings as the image (prepacking changes which matmul kernels run, and so the last bits).
     */
    static ZooModel<String, float[]> fromFile(Path modelDir, boolean prepacking, SentenceEmbeddingTranslator translator) throws Exception {
        ai.onnxruntime.OrtSession.SessionOptions options = new ai.onnxruntime.OrtSession.SessionOptions();
        if (!prepacking) {
            options.addConfigEntry("session.disable_prepacking", "1");
        }
        ai.djl.Model model = ai.djl.Model.newInstance("all-minilm-l6-v2", ai.djl.Device.cpu(), "OnnxRuntime");
        model.load(modelDir, "all-minilm-l6-v2", java.util.Map.of("sessionOptions", options));
        model.getNDManager().attachInternal("session-options", options);
        return new ZooModel<>(model, translator);
    }

    static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}

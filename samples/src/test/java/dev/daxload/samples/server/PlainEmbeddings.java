package dev.daxload.samples.server;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.ZooModel;
import com.google.gson.JsonArray;
import dev.daxload.samples.SentenceEmbeddingTranslator;
import java.nio.file.Path;
import java.util.Map;

/**
 * The reference for {@link EmbeddingServerTest}, run in a process of its own: the original ONNX file
 * loaded by DJL's ONNX Runtime engine the plain way (the server's session settings: prepacking off),
 * printing one JSON array of embeddings, one per sentence argument.
 *
 * <pre>usage: PlainEmbeddings MODEL_DIR FILE_STEM mean|cls SENTENCE...</pre>
 */
public final class PlainEmbeddings {
    private PlainEmbeddings() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String file = args[1];
        SentenceEmbeddingTranslator.Pooling pooling = SentenceEmbeddingTranslator.Pooling.valueOf(args[2].toUpperCase(java.util.Locale.ROOT));
        ai.onnxruntime.OrtSession.SessionOptions options = new ai.onnxruntime.OrtSession.SessionOptions();
        options.addConfigEntry("session.disable_prepacking", "1");
        JsonArray out = new JsonArray();
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(dir.resolve(file + "-tokenizer.json"))) {
            Model model = Model.newInstance(file, Device.cpu(), "OnnxRuntime");
            model.load(dir, file, Map.of("sessionOptions", options));
            model.getNDManager().attachInternal("session-options", options);
            try (ZooModel<String, float[]> zoo = new ZooModel<>(model, new SentenceEmbeddingTranslator(tokenizer, true, pooling));
                 Predictor<String, float[]> p = zoo.newPredictor()) {
                for (int i = 3; i < args.length; i++) {
                    JsonArray v = new JsonArray();
                    for (float f : p.predict(args[i])) {
                        v.add(f);
                    }
                    out.add(v);
                }
            }
        }
        System.out.println("EMBEDDINGS " + out);
    }
}

package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.manifest.DType;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.tensor.TensorView;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The weights ONNX Runtime computes with are the image's bytes at image base + the tensor's offset,
 * not a copy: each tensor is changed in the image file, through a mapping of its own at the offset the
 * manifest gives, and the next inference of an already loaded model must answer differently (exactly
 * as predicted for the last LayerNorm). A loader that copied initializers at load would keep answering
 * as before, so this fails for any copied tensor, however small; the memory heuristic of
 * {@link DaxfsOnnxRuntimeTest} cannot see a copy of less than a quarter of the weights.
 *
 * <p>Only public behaviour is used (a {@code daxfs:} URL, {@code Criteria}, the image file), so the
 * test holds whatever route the loader takes to ONNX Runtime.
 */
class OrtInitializersInTheImageTest {
    static Path modelDir = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    static final String SENTENCE = "The weights are read where they lie.";
    static final String LAST_NORM = "encoder.layer.5.output.LayerNorm.";
    @TempDir static Path tmp;
    static Path image;
    /** Every F32 tensor's byte range in the image file. */
    static final Map<String, long[]> ranges = new LinkedHashMap<>();

    /** all-MiniLM-L6-v2 packed as model "minilm" into {@code dir}/minilm.daxfs. */
    static Path packMiniLm(Path dir) throws Exception {
        Path out = dir.resolve("minilm.daxfs");
        Path tok = modelDir.resolve("all-minilm-l6-v2-tokenizer.json");
        ModelPackager p = new ModelPackager();
        p.model("minilm").add(new OnnxReader().read(modelDir.resolve("all-minilm-l6-v2.onnx")))
                .sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), out);
        return out;
    }

    @BeforeAll
    static void pack() throws Exception {
        image = packMiniLm(tmp);
        // Where each tensor lies in the file: its view's address less the image's base address.
        try (ModelWeights w = ModelWeights.open(image, "minilm")) {
            long base = w.image().segment().address();
            for (TensorView v : w.tensors().values()) {
                if (v.dtype() == DType.F32) {
                    ranges.put(v.name(), new long[] {v.segment().address() - base, v.byteSize()});
                }
            }
        }
        assertTrue(ranges.containsKey(LAST_NORM + "weight") && ranges.containsKey(LAST_NORM + "bias"), ranges.keySet().toString());
    }

    @Test
    void withPrepackingOffEveryWeightIsReadFromTheImage() throws Exception {
        List<String> copied = sweep(false);
        assertEquals(List.of(), copied, "tensors whose change in the image ONNX Runtime did not see (copied at load)");
    }

    @Test
    void withPrepackingOnTheWeightsItDoesNotPackAreStillReadFromTheImage() throws Exception {
        List<String> copied = sweep(true);
        // ONNX Runtime may copy MatMul weights into its packed layout (what prepacking=true allows);
        // every other weight must still be the image's.
        List<String> notMatMul = copied.stream().filter(n -> !n.startsWith("onnx::MatMul")).toList();
        System.out.println("prepacking=true: " + copied.size() + " tensors copied by ONNX Runtime: " + copied);
        assertEquals(List.of(), notMatMul);
    }

    @Test
    void aWriteToTheLastLayerNormGivesThePredictedEmbedding() throws Exception {
        for (boolean prepacking : new boolean[] {false, true}) {
            for (String mapping : List.of("private", "shared")) {
                try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"));
                     ZooModel<String, float[]> model = load(tokenizer, "prepacking=" + prepacking + "&mapping=" + mapping);
                     Predictor<String, float[]> p = model.newPredictor();
                     FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    float[] before = p.predict(SENTENCE);
                    MappedByteBuffer file = ch.map(FileChannel.MapMode.READ_WRITE, 0, ch.size());
                    file.order(ByteOrder.LITTLE_ENDIAN);
                    long[] w = ranges.get(LAST_NORM + "weight");
                    long[] b = ranges.get(LAST_NORM + "bias");
                    byte[] savedW = read(file, w);
                    byte[] savedB = read(file, b);
                    try {
                        // gamma 0, beta 0.5: every token vector becomes 0.5 everywhere, so the mean-pooled,
                        // unit-length embedding is 1/sqrt(384) in every component, whatever the sentence.
                        fill(file, w, 0f);
                        fill(file, b, 0.5f);
                        float[] after = p.predict(SENTENCE);
                        float expected = (float) (1 / Math.sqrt(384));
                        for (int i = 0; i < after.length; i++) {
                            assertEquals(expected, after[i], 1e-5f, "prepacking=" + prepacking + " mapping=" + mapping + ": component " + i);
                        }
                    } finally {
                        file.put(Math.toIntExact(w[0]), savedW);
                        file.put(Math.toIntExact(b[0]), savedB);
                    }
                    assertArrayEquals(before, p.predict(SENTENCE), "restored bytes, restored answer");
                }
            }
        }
    }

    /**
     * Changes each F32 tensor in the image file in turn and asks the loaded model again.
     *
     * @return the tensors whose change the model did not see
     */
    private static List<String> sweep(boolean prepacking) throws Exception {
        List<String> unseen = new ArrayList<>();
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"));
             ZooModel<String, float[]> model = load(tokenizer, "prepacking=" + prepacking);
             Predictor<String, float[]> p = model.newPredictor();
             FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MappedByteBuffer file = ch.map(FileChannel.MapMode.READ_WRITE, 0, ch.size());
            file.order(ByteOrder.LITTLE_ENDIAN);
            float[] before = p.predict(SENTENCE);
            for (var e : ranges.entrySet()) {
                if (e.getKey().endsWith("attention.self.key.bias")) {
                    // A key bias adds the same q.b to every score of a query: softmax cannot see it.
                    continue;
                }
                long[] r = e.getValue();
                byte[] saved = read(file, r);
                try {
                    // A pattern that varies along every axis, so no normalization or softmax cancels it.
                    for (long i = 0; i < r[1] / 4; i++) {
                        int at = Math.toIntExact(r[0] + 4 * i);
                        file.putFloat(at, file.getFloat(at) + 0.25f * (1 + (i % 7)));
                    }
                    float[] after = p.predict(SENTENCE);
                    if (maxDifference(before, after) < 1e-4) {
                        unseen.add(e.getKey());
                    }
                } finally {
                    file.put(Math.toIntExact(r[0]), saved);
                }
            }
            assertArrayEquals(before, p.predict(SENTENCE), "restored bytes, restored answer");
        }
        assertTrue(ranges.size() > 90, "MiniLM has ~100 F32 tensors, the sweep saw " + ranges.size());
        return unseen;
    }

    static ZooModel<String, float[]> load(HuggingFaceTokenizer tokenizer, String options) throws Exception {
        return load(image, tokenizer, options);
    }

    /** Model "minilm" of {@code image} through a daxfs: URL with {@code options} (a query string, or ""). */
    static ZooModel<String, float[]> load(Path image, HuggingFaceTokenizer tokenizer, String options) throws Exception {
        return Criteria.builder()
                .setTypes(String.class, float[].class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=minilm" + (options.isEmpty() ? "" : "&" + options))
                .optTranslator(new SentenceEmbeddingTranslator(tokenizer, true))
                .build().loadModel();
    }

    private static byte[] read(MappedByteBuffer file, long[] range) {
        byte[] b = new byte[Math.toIntExact(range[1])];
        file.get(Math.toIntExact(range[0]), b);
        return b;
    }

    private static void fill(MappedByteBuffer file, long[] range, float value) {
        for (long i = 0; i < range[1] / 4; i++) {
            file.putFloat(Math.toIntExact(range[0] + 4 * i), value);
        }
    }

    private static double maxDifference(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }
}

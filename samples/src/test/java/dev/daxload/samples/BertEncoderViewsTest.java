package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.util.Pair;
import dev.daxload.djl.DaxfsModels;
import dev.daxload.djl.PtTensorViews;
import dev.daxload.model.ModelWeights;
import dev.daxload.samples.bert.BertEncoder;
import dev.daxload.samples.bert.OnnxBertNames;
import dev.daxload.tensor.TensorView;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21, item 3: all-MiniLM-L6-v2 as a whole model on DJL's PyTorch engine ({@link BertEncoder}
 * with the real weights), its parameters daxload's views of the image. The views are the image's
 * memory (same addresses), the answers are the bits of the same encoder with copied parameters, and
 * they are ONNX Runtime's answers on the original .onnx file to float rounding (so the encoder and
 * the name mapping are that model, not merely the same arithmetic twice).
 */
class BertEncoderViewsTest {
    static final Path MODEL_DIR = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    static final BertEncoder.Config CONFIG = BertEncoder.Config.MINILM_L6;
    @TempDir static Path tmp;
    static Path image;

    @BeforeAll
    static void pack() throws Exception {
        image = tmp.resolve("minilm.daxfs");
        OrtImageFormTest.daxload("pack-model", "-q", "--name", "minilm", MODEL_DIR.resolve("all-minilm-l6-v2.onnx").toString(), "-o", image.toString());
    }

    /** "a daxfs image shares one copy of the weights" as BERT token ids, and its mask and token types. */
    static NDList input(NDManager m, int batch) {
        long[] one = {101, 1037, 4830, 2595, 10343, 3746, 6661, 2028, 6100, 1997, 1996, 15871, 102};
        long[] ids = new long[batch * one.length];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(one, 0, ids, b * one.length, one.length);
        }
        long[] ones = new long[ids.length];
        Arrays.fill(ones, 1);
        Shape s = new Shape(batch, one.length);
        NDList in = new NDList(m.create(ids, s), m.create(ones, s), m.create(new long[ids.length], s));
        in.get(0).setName("input_ids");
        in.get(1).setName("attention_mask");
        in.get(2).setName("token_type_ids");
        return in;
    }

    @Test
    void theWholeModelRunsOnViewsOfTheImageAndAnswersLikeCopiesAndLikeOnnxRuntime() throws Exception {
        Map<String, String> names;
        try (ModelWeights w = ModelWeights.open(image, "minilm")) {
            names = OnnxBertNames.of(w.tensors().keySet(), CONFIG.layers());
        }
        float[] viewsOut;
        float[] copiedOut;
        try (ZooModel<NDList, NDList> views = Criteria.builder().setTypes(NDList.class, NDList.class)
                        .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=minilm").optEngine("PyTorch")
                        .optArgument("daxfs.block", new BertEncoder.Factory(CONFIG)).optArgument("daxfs.names", names)
                        .optTranslator(new NoopTranslator()).build().loadModel();
             Model copied = Model.newInstance("minilm-copied", "PyTorch");
             NDManager m = NDManager.newBaseManager("PyTorch")) {
            BertEncoder viewBlock = (BertEncoder) views.getBlock();
            viewBlock.checkShapes();
            ModelWeights weights = DaxfsModels.weights(views).orElseThrow();
            BertEncoder copy = new BertEncoder(CONFIG);
            int bound = 0;
            for (Pair<String, Parameter> p : viewBlock.getParameters()) {
                TensorView t = weights.tensor(names.getOrDefault(p.getKey(), p.getKey()));
                assertEquals(t.segment().address(), PtTensorViews.dataAddress(p.getValue().getArray()),
                        p.getKey() + ": PyTorch's data_ptr is the tensor's place in the image");
                bound++;
            }
            assertEquals(5 + CONFIG.layers() * 16, bound, "every parameter of the encoder is bound");
            for (Pair<String, Parameter> p : copy.getParameters()) {
                TensorView t = weights.tensor(names.getOrDefault(p.getKey(), p.getKey()));
                float[] v = new float[(int) (t.byteSize() / 4)];
                t.segment().asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
                p.getValue().setArray(copied.getNDManager().create(v, new Shape(t.shape()))); // PyTorch-owned memory
            }
            copied.setBlock(copy);
            copy.checkShapes();
            try (Predictor<NDList, NDList> pv = views.newPredictor(); Predictor<NDList, NDList> pc = copied.newPredictor(new NoopTranslator())) {
                viewsOut = pv.predict(input(m, 2)).head().toFloatArray();
                copiedOut = pc.predict(input(m, 2)).head().toFloatArray();
            }
        }
        assertEquals(0, dev.daxload.djl.internal.SharedImages.openCount(), "closing the model unmaps the image (the ORT plan an ONNX model gets is released too)");
        assertArrayEquals(copiedOut, viewsOut, "views and copied parameters: the same bits");
        float[] ort;
        try (ZooModel<NDList, NDList> plain = Criteria.builder().setTypes(NDList.class, NDList.class)
                        .optModelPath(MODEL_DIR).optModelName("all-minilm-l6-v2").optEngine("OnnxRuntime")
                        .optTranslator(new NoopTranslator()).build().loadModel();
             Predictor<NDList, NDList> p = plain.newPredictor();
             NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
            ort = p.predict(input(m, 2)).head().toFloatArray();
        }
        assertEquals(ort.length, viewsOut.length);
        double maxDiff = 0;
        for (int i = 0; i < ort.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(ort[i] - viewsOut[i]));
        }
        System.out.printf("BertEncoder on views vs ONNX Runtime on the .onnx file: %d values, max |diff| %.2e%n", ort.length, maxDiff);
        assertTrue(maxDiff < 1e-3, "the encoder is not the exported model: max |diff| " + maxDiff);
    }
}

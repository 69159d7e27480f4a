package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
import static org.junit.jupiter.api.Assertions.*;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.util.Pair;
import dev.daxload.packager.source.SourceTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A DJL block on the real PyTorch engine, loaded through {@code Criteria} with a daxfs: URL: every
 * parameter is a view of the image (same address), outputs equal those of the same block with
 * copied weights, and closing the model releases the image.
 */
class DaxfsPyTorchTest {
    @TempDir Path tmp;

    /** The architecture: what a user of the loader supplies. */
    public static final class Mlp implements BlockFactory {
        private static final long serialVersionUID = 1L;

        @Override
        public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
            return new SequentialBlock()
                    .add(Linear.builder().setUnits(64).build())
                    .add(Activation::relu)
                    .add(Linear.builder().setUnits(8).build());
        }
    }

    static byte[] floats(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void blockParametersAreViewsAndOutputsMatch() throws Exception {
        // Tensor names as a safetensors export would have them; DJL's parameter names differ.
        Random r = new Random(7);
        float[] w1 = random(r, 64 * 32), b1 = random(r, 64), w2 = random(r, 8 * 64), b2 = random(r, 8);
        List<SourceTensor> tensors = List.of(
                TestImages.tensor("fc1.weight", "F32", new long[] {64, 32}, floats(w1)),
                TestImages.tensor("fc1.bias", "F32", new long[] {64}, floats(b1)),
                TestImages.tensor("fc2.weight", "F32", new long[] {8, 64}, floats(w2)),
                TestImages.tensor("fc2.bias", "F32", new long[] {8}, floats(b2)));
        Path image = TestImages.write(tmp, "mlp.daxfs", tensors);
        Map<String, String> names = Map.of("01Linear_weight", "fc1.weight", "01Linear_bias", "fc1.bias",
                "03Linear_weight", "fc2.weight", "03Linear_bias", "fc2.bias");

        Criteria<NDList, NDList> criteria = Criteria.builder()
                .setTypes(NDList.class, NDList.class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL)
                .optEngine("PyTorch")
                .optArgument("daxfs.block", new Mlp())
                .optArgument("daxfs.names", names)
                .optTranslator(new NoopTranslator())
                .build();

        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray x = manager.create(random(r, 3 * 32), new Shape(3, 32));
            float[] expected = reference(manager, x, w1, b1, w2, b2);
            try (ZooModel<NDList, NDList> model = criteria.loadModel();
                 Predictor<NDList, NDList> predictor = model.newPredictor()) {
                assertEquals(1, SharedImages.openCount());
                List<Long> addresses = new ArrayList<>();
                for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                    NDArray a = p.getValue().getArray();
                    addresses.add(PtTensorViews.dataAddress(a));
                }
                var lease = SharedImages.acquire(image, dev.daxload.image.MapOptions.copyOnWrite());
                try (lease) {
                    var weights = dev.daxload.model.ModelWeights.of(lease.image(), TestImages.MODEL);
                    assertEquals(weights.tensor("fc1.weight").segment().address(), addresses.get(0), "fc1.weight is the image's memory");
                    assertEquals(weights.tensor("fc2.bias").segment().address(), addresses.get(3), "fc2.bias is the image's memory");
                }
                float[] got = predictor.predict(new NDList(x)).singletonOrThrow().toFloatArray();
                assertArrayEquals(expected, got, 1e-5f);
            }
        }
        assertEquals(0, SharedImages.openCount(), "closing the model unmaps the image");
    }

    /** The same block with the weights copied in, as DJL would load them from a parameter file. */
    static float[] reference(NDManager m, NDArray x, float[] w1, float[] b1, float[] w2, float[] b2) {
        SequentialBlock block = (SequentialBlock) new Mlp().newBlock(null, null, Map.of());
        List<NDArray> arrays = List.of(m.create(w1, new Shape(64, 32)), m.create(b1), m.create(w2, new Shape(8, 64)), m.create(b2));
        int i = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            p.getValue().setArray(arrays.get(i++));
        }
        return block.forward(new ai.djl.training.ParameterStore(m, false), new NDList(x), false).singletonOrThrow().toFloatArray();
    }

    @Test
    void missingArchitectureOrTensorsAreClearErrors() throws Exception {
        Path image = TestImages.write(tmp, "one.daxfs", List.of(TestImages.tensor("w", "F32", new long[] {2}, floats(new float[] {1, 2}))));
        Criteria<NDList, NDList> noBlock = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL)
                .optEngine("PyTorch").build();
        Exception e = assertThrows(Exception.class, noBlock::loadModel);
        assertTrue(e.getMessage().contains("daxfs.block"), e.getMessage());
        Criteria<NDList, NDList> wrongNames = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optModelUrls("daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL)
                .optEngine("PyTorch").optArgument("daxfs.block", new Mlp()).build();
        Exception e2 = assertThrows(Exception.class, wrongNames::loadModel);
        assertTrue(e2.getMessage().contains("01Linear_weight") && e2.getMessage().contains("daxfs.names"), e2.getMessage());
        assertEquals(0, SharedImages.openCount(), "a failed load releases the image");
    }


    /**
     * {@code mapping=shared} maps the image read-only, as a mount's dma-buf is: the default refuses the
     * views naming {@code views=readonly}; with it the block loads over the read-only memory, answers as
     * with copied weights, and its parameters refuse in-place ops.
     */
    @Test
    void aReadOnlyMappingLoadsWithViewsReadonlyAndRefusesInPlaceOps() throws Exception {
        Random r = new Random(11);
        float[] w1 = random(r, 64 * 32), b1 = random(r, 64), w2 = random(r, 8 * 64), b2 = random(r, 8);
        Path image = TestImages.write(tmp, "ro-mlp.daxfs", List.of(
                TestImages.tensor("fc1.weight", "F32", new long[] {64, 32}, floats(w1)),
                TestImages.tensor("fc1.bias", "F32", new long[] {64}, floats(b1)),
                TestImages.tensor("fc2.weight", "F32", new long[] {8, 64}, floats(w2)),
                TestImages.tensor("fc2.bias", "F32", new long[] {8}, floats(b2))));
        Map<String, String> names = Map.of("01Linear_weight", "fc1.weight", "01Linear_bias", "fc1.bias",
                "03Linear_weight", "fc2.weight", "03Linear_bias", "fc2.bias");
        String url = "daxfs://" + image.toAbsolutePath() + "?model=" + TestImages.MODEL + "&mapping=shared";
        Criteria<NDList, NDList> writable = Criteria.builder().setTypes(NDList.class, NDList.class).optModelUrls(url)
                .optEngine("PyTorch").optArgument("daxfs.block", new Mlp()).optArgument("daxfs.names", names)
                .optTranslator(new NoopTranslator()).build();
        Exception e = assertThrows(Exception.class, writable::loadModel);
        assertTrue(e.getMessage().contains("read-only") && e.getMessage().contains("views=readonly"), e.getMessage());
        Criteria<NDList, NDList> readOnly = Criteria.builder().setTypes(NDList.class, NDList.class).optModelUrls(url + "&views=readonly")
                .optEngine("PyTorch").optArgument("daxfs.block", new Mlp()).optArgument("daxfs.names", names)
                .optTranslator(new NoopTranslator()).build();
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            NDArray x = manager.create(random(r, 3 * 32), new Shape(3, 32));
            float[] expected = reference(manager, x, w1, b1, w2, b2);
            try (ZooModel<NDList, NDList> model = readOnly.loadModel(); Predictor<NDList, NDList> predictor = model.newPredictor()) {
                NDArray weight = model.getBlock().getParameters().get(0).getValue().getArray();
                var lease = SharedImages.acquire(image, dev.daxload.image.MapOptions.readOnly());
                try (lease) {
                    var weights = dev.daxload.model.ModelWeights.of(lease.image(), TestImages.MODEL);
                    assertEquals(weights.tensor("fc1.weight").segment().address(), PtTensorViews.dataAddress(weight),
                            "fc1.weight is the image's (read-only) memory");
                }
                assertArrayEquals(expected, predictor.predict(new NDList(x)).singletonOrThrow().toFloatArray(), 1e-5f);
                var refused = assertThrows(UnsupportedOperationException.class, () -> weight.muli(2));
                assertTrue(refused.getMessage().contains("'fc1.weight'") && refused.getMessage().contains("muli"), refused.getMessage());
                assertArrayEquals(expected, predictor.predict(new NDList(x)).singletonOrThrow().toFloatArray(), 1e-5f);
            }
        }
        assertEquals(0, SharedImages.openCount(), "closing the model unmaps the image");
    }
}

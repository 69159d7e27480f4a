package dev.daxload.samples;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Run in a JVM of its own by {@link OrtImageFormTest}: loads a daxfs: URL through ONNX Runtime in a
 * process where nothing started ORT before, answers one fixed input and prints {@code OUTPUT <hash of
 * the output's floats>} and {@code LIBRARY <the file libonnxruntime.so is mapped from>}.
 */
public final class OrtNativeLibraryProbe {
    private OrtNativeLibraryProbe() {}

    public static void main(String[] args) throws Exception {
        try (ZooModel<NDList, NDList> model = Criteria.builder().setTypes(NDList.class, NDList.class)
                        .optTranslator(new NoopTranslator()).optModelUrls(args[0]).build().loadModel();
             Predictor<NDList, NDList> p = model.newPredictor();
             NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
            long[] ids = {101, 7592, 2088, 2003, 1037, 3231, 102};
            long[] ones = new long[ids.length];
            Arrays.fill(ones, 1);
            NDArray in = m.create(ids, new Shape(1, ids.length));
            in.setName("input_ids");
            NDArray mask = m.create(ones, new Shape(1, ids.length));
            mask.setName("attention_mask");
            NDArray types = m.create(new long[ids.length], new Shape(1, ids.length));
            types.setName("token_type_ids");
            float[] out = p.predict(new NDList(in, mask, types)).get(0).toFloatArray();
            System.out.println("OUTPUT " + Arrays.hashCode(out) + " " + out.length);
        }
        String lib = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(l -> l.contains("/libonnxruntime.so")).map(l -> l.substring(l.indexOf('/'))).findFirst().orElse("none");
        System.out.println("LIBRARY " + lib);
    }
}

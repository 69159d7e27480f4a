package dev.daxload.samples;

import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;

/**
 * Run in a JVM of its own by {@link OrtImageFormTest}, where ONNX Runtime cannot start (its native
 * library pointed at a directory that has none): loads the image's form through a daxfs: URL and prints
 * what the load threw, {@code THROWN <class> | <root cause class>: <root cause message>}, or
 * {@code LOADED} (the test then fails).
 */
public final class OrtEngineFailureProbe {
    private OrtEngineFailureProbe() {}

    public static void main(String[] args) {
        try (ZooModel<NDList, NDList> m = Criteria.builder().setTypes(NDList.class, NDList.class).optTranslator(new NoopTranslator())
                .optModelUrls("daxfs://" + args[0] + "?model=minilm").build().loadModel()) {
            System.out.println("LOADED");
        } catch (Throwable t) {
            Throwable root = t;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            System.out.println("THROWN " + t.getClass().getName() + " | " + root.getClass().getName() + ": " + root.getMessage());
        }
    }
}

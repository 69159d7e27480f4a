package dev.daxload.samples;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;

/**
 * Run in a JVM of its own by {@link OrtImageFormTest}: how much anonymous memory outside the Java heap
 * one load of a daxfs: URL adds, printed as {@code GROWTH <bytes>}. A fresh process, because ORT's
 * sessions in a shared test JVM leave freed blobs in malloc's free lists for the next load to reuse,
 * which hid a copy from the measurement. The engine and ORT's environment are started (and the model
 * loaded once through the image's form, which copies nothing) before measuring.
 */
public final class OrtLoadMemoryProbe {
    private OrtLoadMemoryProbe() {}

    public static void main(String[] args) throws Exception {
        Engine.getEngine("OnnxRuntime");
        String base = "daxfs://" + args[0] + "?model=minilm";
        load(base).close();
        long before = NativeAnonymousMemory.bytes();
        try (ZooModel<NDList, NDList> m = load(base + args[1])) {
            System.out.println("GROWTH " + (NativeAnonymousMemory.bytes() - before));
        }
    }

    static ZooModel<NDList, NDList> load(String url) throws Exception {
        return Criteria.builder().setTypes(NDList.class, NDList.class).optTranslator(new NoopTranslator())
                .optModelUrls(url).build().loadModel();
    }
}

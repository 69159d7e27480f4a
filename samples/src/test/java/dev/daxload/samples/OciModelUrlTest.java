package dev.daxload.samples;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.cli.LocalRegistry;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.registry.ImagePush;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.Progress;
import dev.daxload.registry.RegistryClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DJL loads a model by registry reference ({@code oci://}) from a real registry on loopback: the image is pulled once
 * into the cache, answers equal the original ONNX file's, and a second load of a digest-pinned reference touches the
 * network not at all. A reference that does not exist is DJL's {@link ModelNotFoundException} from loadModel().
 */
class OciModelUrlTest {
    static Path modelDir = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir
    static Path tmp;
    static LocalRegistry registry;
    static ImagePush.Result pushed;

    @BeforeAll
    static void pushImage() throws Exception {
        LocalRegistry.assumeInstalled();
        Path image = tmp.resolve("minilm.daxfs");
        Path tok = modelDir.resolve("all-minilm-l6-v2-tokenizer.json");
        ModelPackager p = new ModelPackager();
        p.model("minilm").add(new OnnxReader().read(modelDir.resolve("all-minilm-l6-v2.onnx")))
                .sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), image);
        System.setProperty("daxload.cache.dir", tmp.resolve("cache").toString());
        registry = LocalRegistry.start(tmp.resolve("registry"));
        ImageReference ref = ImageReference.parse(registry.host() + "/models/minilm:v1");
        RegistryClient client = RegistryClient.of(ref, new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
        pushed = ImagePush.push(image, ref, client, ImagePush.DEFAULT_CHUNK_BYTES, Progress.NONE);
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
        System.clearProperty("daxload.cache.dir");
    }

    static ZooModel<String, float[]> load(String url, SentenceEmbeddingTranslator translator) throws Exception {
        return Criteria.builder().setTypes(String.class, float[].class).optModelUrls(url).optTranslator(translator)
                .build().loadModel();
    }

    @Test
    void aModelLoadsByDigestFromTheRegistryOnceAndThenFromTheCacheAlone() throws Exception {
        String pinned = pushed.reference().toString().replace(":v1@", "@");
        String url = "oci://" + pinned + "?model=minilm&prepacking=false&plain-http=true";
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"))) {
            SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizer, true);
            try (ZooModel<String, float[]> fromRegistry = load(url, translator);
                 ZooModel<String, float[]> fromFile = MiniLmDemo.fromFile(modelDir, false, translator);
                 Predictor<String, float[]> p1 = fromRegistry.newPredictor();
                 Predictor<String, float[]> p2 = fromFile.newPredictor()) {
                for (String s : MiniLmDemo.SENTENCES) {
                    assertArrayEquals(p2.predict(s), p1.predict(s), "embedding of '" + s + "'");
                }
            }
            long blobGets = registry.requests("GET", "/blobs/" + pushed.imageDigest());
            long manifestGets = registry.requests("GET", "/manifests/");
            assertEquals(1, blobGets, "pulled once");
            try (ZooModel<String, float[]> again = load(url, translator);
                 Predictor<String, float[]> p = again.newPredictor()) {
                assertEquals(384, p.predict(MiniLmDemo.SENTENCES.get(0)).length);
            }
            assertEquals(blobGets, registry.requests("GET", "/blobs/" + pushed.imageDigest()), "no second transfer");
            assertEquals(manifestGets, registry.requests("GET", "/manifests/"), "a pinned, cached reference asks the registry nothing");
        }
    }

    @Test
    void streamsInTheUrlPullsWithThatManyRangedGets() throws Exception {
        // an image of its own (its last byte of padding changed), so the cache cannot answer
        Path variant = tmp.resolve("minilm-streams.daxfs");
        Files.copy(tmp.resolve("minilm.daxfs"), variant);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(variant.toFile(), "rw")) {
            f.seek(f.length() - 1);
            f.write(0x44);
        }
        ImageReference ref = ImageReference.parse(registry.host() + "/models/minilm-streams:v1");
        RegistryClient client = RegistryClient.of(ref, new RegistryClient.Options(true, Optional.empty(), Optional.empty(), 0));
        ImagePush.Result p = ImagePush.push(variant, ref, client, ImagePush.DEFAULT_CHUNK_BYTES, Progress.NONE);
        String url = "oci://" + p.reference().toString().replace(":v1@", "@") + "?model=minilm&prepacking=false&plain-http=true&streams=4";
        try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(modelDir.resolve("all-minilm-l6-v2-tokenizer.json"))) {
            SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizer, true);
            try (ZooModel<String, float[]> model = load(url, translator);
                 Predictor<String, float[]> predictor = model.newPredictor()) {
                assertEquals(384, predictor.predict(MiniLmDemo.SENTENCES.get(0)).length);
            }
            long size = Files.size(variant);
            long chunk = 8 << 20; // ImagePull.chunkBytes for an image this small
            assertEquals((size + chunk - 1) / chunk, registry.requests("GET", "/blobs/" + p.imageDigest()), "one ranged GET per chunk");
            assertEquals(size, registry.bytesServed("GET", "/blobs/" + p.imageDigest()), "every byte once");
            Exception bad = assertThrows(Exception.class, () -> load(url.replace("streams=4", "streams=0"), translator));
            StringBuilder messages = new StringBuilder();
            for (Throwable t = bad; t != null; t = t.getCause()) {
                messages.append(t).append('\n');
            }
            assertTrue(messages.toString().contains("streams must be"), messages.toString());
        }
    }

    @Test
    void aReferenceThatDoesNotExistIsModelNotFoundFromLoadModel() throws Exception {
        Criteria<String, float[]> criteria = Criteria.builder().setTypes(String.class, float[].class)
                .optModelUrls("oci://" + registry.host() + "/models/minilm:nope?model=minilm&plain-http=true")
                .optTranslator(new SentenceEmbeddingTranslator(null, true)).build();
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class, criteria::loadModel);
        String all = e.getMessage() + (e.getCause() != null ? " / " + e.getCause().getMessage() : "");
        assertTrue(all.contains("models/minilm:nope"), all);
    }
}

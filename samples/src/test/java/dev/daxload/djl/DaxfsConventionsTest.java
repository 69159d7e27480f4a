package dev.daxload.djl;

import dev.daxload.djl.internal.SharedImages;
import static dev.daxload.djl.DaxfsPyTorchTest.floats;
import static org.junit.jupiter.api.Assertions.*;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import com.google.gson.JsonObject;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A daxfs: URL behaves as DJL's own URLs do: one mapping per load, a missing image is a
 * ModelNotFoundException from loadModel(), optModelName picks a model of a many-model image, side files
 * live only as long as the model, and the model leads back to its image's weights.
 */
class DaxfsConventionsTest {
    @TempDir static Path tmp;
    static Path written;
    /** A copy of the image per test: a mapping another test's failed load left pending cannot be joined. */
    Path image;
    static final Map<String, String> NAMES = Map.of("01Linear_weight", "fc1.weight", "01Linear_bias", "fc1.bias",
            "03Linear_weight", "fc2.weight", "03Linear_bias", "fc2.bias");

    /** Two models of the same MLP shape, "a" and "b", with different weights and a tokenizer side file each. */
    @BeforeAll
    static void write() throws Exception {
        written = tmp.resolve("two.daxfs");
        Path image = written;
        ModelPackager p = new ModelPackager();
        for (String name : List.of("a", "b")) {
            Random r = new Random(name.hashCode());
            List<SourceTensor> tensors = List.of(
                    TestImages.tensor("fc1.weight", "F32", new long[] {64, 32}, floats(DaxfsPyTorchTest.random(r, 64 * 32))),
                    TestImages.tensor("fc1.bias", "F32", new long[] {64}, floats(DaxfsPyTorchTest.random(r, 64))),
                    TestImages.tensor("fc2.weight", "F32", new long[] {8, 64}, floats(DaxfsPyTorchTest.random(r, 8 * 64))),
                    TestImages.tensor("fc2.bias", "F32", new long[] {8}, floats(DaxfsPyTorchTest.random(r, 8))));
            p.model(name).add(new SourceModel("raw", List.of(), new JsonObject(), tensors, Map.of()))
                    .sideFile("tokenizer.json", FileContent.of(("{\"model\":\"" + name + "\"}").getBytes(StandardCharsets.UTF_8)));
        }
        p.write(new ImageWriter(), image);
        Engine.getEngine("PyTorch");
    }

    @org.junit.jupiter.api.BeforeEach
    void copy(org.junit.jupiter.api.TestInfo info) throws Exception {
        image = Files.copy(written, tmp.resolve(info.getTestMethod().orElseThrow().getName() + ".daxfs"));
    }

    private static Criteria.Builder<NDList, NDList> criteria(String url) {
        return Criteria.builder().setTypes(NDList.class, NDList.class).optModelUrls(url).optEngine("PyTorch")
                .optArgument("daxfs.block", new DaxfsPyTorchTest.Mlp()).optArgument("daxfs.names", NAMES)
                .optTranslator(new NoopTranslator());
    }

    private String url(String query) {
        return "daxfs://" + image.toAbsolutePath() + query;
    }

    @Test
    void oneMappingPerLoad() throws Exception {
        // Counted from build(), though a URL naming its model maps nothing before the load.
        // The image is a file this process may write, so the copy-on-write mapping the URL asks for (the default)
        // costs no native linker: resolving and binding share it.
        long before = SharedImages.mappingsMade(image);
        Criteria<NDList, NDList> c = criteria(url("?model=a")).build();
        try (ZooModel<NDList, NDList> m = c.loadModel()) {
            assertEquals(1, SharedImages.mappingsMade(image) - before, "resolving and binding share one mapping");
        }
        try (ZooModel<NDList, NDList> m = c.loadModel()) {
            assertEquals(2, SharedImages.mappingsMade(image) - before, "a second load of the same criteria maps once more");
        }
        // No model in the URL: the image is listed when the criteria are built, and that mapping serves the load.
        long mid = SharedImages.mappingsMade(image);
        try (ZooModel<NDList, NDList> m = criteria(url("")).optModelName("b").build().loadModel()) {
            assertEquals(1, SharedImages.mappingsMade(image) - mid);
        }
    }

    @Test
    void optModelNameChoosesAModel() throws Exception {
        for (String name : List.of("a", "b")) {
            try (ZooModel<NDList, NDList> m = criteria(url("")).optModelName(name).build().loadModel()) {
                ModelWeights w = DaxfsModels.weights(m).orElseThrow();
                assertEquals(name, w.name());
                assertEquals("{\"model\":\"" + name + "\"}", Files.readString(m.getModelPath().resolve("tokenizer.json")));
            }
        }
        // No choice made: refused by name, not one of them picked.
        var none = assertThrows(ModelNotFoundException.class, () -> criteria(url("")).build().loadModel());
        assertTrue(chain(none).contains("holds models a, b; name one with ?model=NAME in the URL or Criteria.optModelName(NAME)"), chain(none));
        var e = assertThrows(ModelNotFoundException.class, () -> criteria(url("")).optModelName("c").build().loadModel());
        assertTrue(chain(e).contains("no model 'c'; models here: a, b"), chain(e));
    }

    @Test
    void aMissingImageIsModelNotFoundFromLoadModel() throws Exception {
        Path missing = tmp.resolve("absent.daxfs");
        Criteria<NDList, NDList> c = criteria("daxfs://" + missing + "?model=a").build(); // building does not touch the file
        var e = assertThrows(ModelNotFoundException.class, c::loadModel);
        assertTrue(chain(e).contains("cannot load model 'a' from " + missing + ": no such file: " + missing), chain(e));
        Criteria<NDList, NDList> noModel = criteria("daxfs://" + missing).build();
        var e2 = assertThrows(ModelNotFoundException.class, noModel::loadModel);
        assertTrue(chain(e2).contains(missing.toString()), chain(e2));
        var e3 = assertThrows(ModelNotFoundException.class, () -> criteria(url("?model=zz")).build().loadModel());
        assertTrue(chain(e3).contains("no model 'zz'") && chain(e3).contains("models here: a, b"), chain(e3));
    }

    @Test
    void badUrlsAreRefusedByName() {
        for (String[] bad : new String[][] {
            {"daxfs://tmp" + image.toAbsolutePath() + "?model=a", "names host 'tmp'"},
            {url("?model=a&populate=yes"), "populate must be 'true' or 'false', not 'yes'"},
            {url("?modle=a"), "unknown parameter 'modle'"}}) {
            var e = assertThrows(Exception.class, () -> criteria(bad[0]).build().loadModel());
            assertTrue(chain(e).contains(bad[1]), chain(e));
        }
    }

    @Test
    void sideFilesLiveAsLongAsTheModelAndNeverInDjlsCache() throws Exception {
        String cacheBefore = System.getProperty("DJL_CACHE_DIR");
        Path readOnly = tmp.resolve("not-a-dir");
        Files.writeString(readOnly, "a file where DJL's cache root should be: nothing can be written under it");
        System.setProperty("DJL_CACHE_DIR", readOnly.toString());
        Path dir;
        try (ZooModel<NDList, NDList> m = criteria(url("?model=a")).build().loadModel()) {
            dir = m.getModelPath();
            assertTrue(Files.isRegularFile(dir.resolve("tokenizer.json")));
            assertFalse(dir.startsWith(readOnly));
        } finally {
            if (cacheBefore == null) {
                System.clearProperty("DJL_CACHE_DIR");
            } else {
                System.setProperty("DJL_CACHE_DIR", cacheBefore);
            }
        }
        assertFalse(Files.exists(dir), "the side files go with the model");
        System.setProperty("daxload.sideFiles.dir", readOnly.resolve("sub").toString());
        try {
            var e = assertThrows(Exception.class, () -> criteria(url("?model=a")).build().loadModel());
            assertTrue(chain(e).contains("cannot make a directory for the side files of model 'a'") && chain(e).contains("daxload.sideFiles.dir"), chain(e));
        } finally {
            System.clearProperty("daxload.sideFiles.dir");
        }
    }

    @Test
    void theModelLeadsToItsWeights() throws Exception {
        ZooModel<NDList, NDList> m = criteria(url("?model=b")).build().loadModel();
        try {
            ModelWeights w = DaxfsModels.weights(m).orElseThrow();
            assertEquals("b", w.name());
            assertEquals(4, w.tensors().size());
            assertSame(w, DaxfsModels.weights(m.getWrappedModel()).orElseThrow());
            assertArrayEquals(new long[] {64, 32}, w.tensor("fc1.weight").shape());
        } finally {
            m.close();
        }
        assertTrue(DaxfsModels.weights(m).isEmpty(), "a closed model has no weights");
    }

    private static String chain(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable x = t; x != null; x = x.getCause()) {
            sb.append(x.getClass().getSimpleName()).append(": ").append(x.getMessage()).append(" <- ");
        }
        return sb.toString();
    }
}

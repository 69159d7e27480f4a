package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.source.Fixtures;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every fixture that the repository's {@code testdata/expected.json} and the packager's own
 * {@code src/test/fixtures/expected.json} list, packed by {@code daxload pack-model}
 * into its own image, then read back from the image (not from the source): each tensor's dtype, shape,
 * length and SHA-256 must be what the format's reference reader reported, the data 4 KiB aligned, its
 * CRC32C in the manifest right, and the tensor's file in the tree the same bytes. Files the reference
 * reader refuses must fail to pack and leave no image. Nothing here names a fixture, so files of the
 * same kinds added to the folder are packed and checked the same way.
 */
class FixtureImageTest {
    static final Path TESTDATA = PackModelCliTest.TESTDATA;
    /** The packager's own fixtures, from the same reference writers (make_fixtures.py beside them). */
    static final Path OWN = Fixtures.OWN;
    @TempDir Path tmp;
    private int images;

    @TestFactory
    List<DynamicContainer> everyFixturePacksToTheReferenceBytes() throws Exception {
        List<DynamicContainer> sets = new ArrayList<>();
        for (Path dir : List.of(TESTDATA, OWN, OWN.resolve("torch"))) {
            if (!Files.isRegularFile(dir.resolve("expected.json"))) {
                sets.add(DynamicContainer.dynamicContainer(dir.toString(), List.of(DynamicTest.dynamicTest("missing",
                        () -> fail("no " + dir.resolve("expected.json") + ": the repository's fixtures are missing (a broken checkout)")))));
                continue;
            }
            sets.add(DynamicContainer.dynamicContainer(dir.toString(), fixtures(dir)));
        }
        return sets;
    }

    private List<DynamicTest> fixtures(Path dir) throws Exception {
        JsonObject files = JsonParser.parseString(Files.readString(dir.resolve("expected.json"), StandardCharsets.UTF_8))
                .getAsJsonObject().getAsJsonObject("files");
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, JsonElement> f : files.entrySet()) {
            JsonObject e = f.getValue().getAsJsonObject();
            Path source = dir.resolve(f.getKey());
            Path image = tmp.resolve("fixture-" + images++ + ".daxfs");
            tests.add(DynamicTest.dynamicTest(f.getKey(), () -> {
                if (e.has("expect") && e.get("expect").getAsString().equals("reject")) {
                    refused(source, image);
                } else {
                    packed(source, image, e, expectedTensors(f.getKey(), e, files));
                }
            }));
        }
        assertFalse(tests.isEmpty(), dir + "/expected.json lists no fixtures");
        return tests;
    }

    private static void refused(Path source, Path image) {
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", source.toString(), "-o", image.toString());
        assertNotEquals(0, r.code(), "packing a file the reference reader refuses must fail");
        assertTrue(r.err().contains(source.getFileName().toString()), "the error names the file: " + r.err());
        assertFalse(Files.exists(image), "no image left behind");
    }

    private static void packed(Path source, Path image, JsonObject e, JsonArray expected) throws Exception {
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", source.toString(), "-o", image.toString());
        assertEquals(0, r.code(), r.err());
        try (DaxImage img = DaxImage.open(image)) {
            ModelManifest m = ModelCatalog.load(img, "m");
            assertEquals(expected.size(), m.tensors().size(), "tensor count");
            if (expected.size() == 1 && !e.has("tensors") && !e.has("arrays") && !e.has("initializers")) {
                checkTensor(img, m.tensors().getFirst(), expected.get(0).getAsJsonObject());
            } else {
                for (JsonElement x : expected) {
                    JsonObject t = x.getAsJsonObject();
                    String name = t.get("name").getAsString();
                    checkTensor(img, m.tensor(name).orElseThrow(() -> new AssertionError("no tensor '" + name + "' in the image")), t);
                }
            }
            if (e.has("metadata") && e.get("format").getAsString().equals("safetensors")) {
                for (var kv : e.getAsJsonObject("metadata").entrySet()) {
                    assertEquals(kv.getValue(), m.metadata().get(kv.getKey()), "source metadata '" + kv.getKey() + "'");
                }
            }
            if (e.has("kv")) {
                for (String key : e.getAsJsonObject("kv").keySet()) {
                    assertTrue(m.metadata().has(key), "GGUF key '" + key + "' kept in the manifest");
                }
            }
            if (e.get("format").getAsString().equals("onnx")) {
                assertTrue(m.files().stream().anyMatch(p -> p.endsWith(".onnx")), "the graph is kept as a side file: " + m.files());
            }
        }
    }

    private static void checkTensor(DaxImage img, TensorEntry t, JsonObject want) throws Exception {
        String name = t.name();
        assertEquals(want.get("dtype").getAsString(), t.dtype().name(), name + " dtype");
        JsonArray shape = want.getAsJsonArray("shape");
        assertArrayEquals(shape.asList().stream().mapToLong(JsonElement::getAsLong).toArray(), t.shape(), name + " shape");
        assertEquals(want.get("nbytes").getAsLong(), t.length(), name + " length");
        if (t.length() > 0) {
            assertEquals(0, t.offset() % 4096, name + " offset " + t.offset() + " is 4 KiB aligned");
        }
        byte[] bytes = img.segment().asSlice(t.offset(), t.length()).toArray(ValueLayout.JAVA_BYTE);
        // The image holds C-order little-endian bytes whatever the source's order; for a source both
        // big-endian and Fortran-ordered the shared expected.json gives no hash (FixtureTest checks its values).
        Fixtures.imageSha256(want).ifPresent(sha -> assertEquals(sha, Fixtures.sha256(bytes), name + " bytes in the image"));
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        assertEquals((int) crc.getValue(), t.crc32c(), name + " CRC32C in the manifest");
        MemorySegment file = img.content("m/" + t.file());
        assertEquals(t.length(), file.byteSize(), name + " file size");
        assertEquals(-1, file.mismatch(img.segment().asSlice(t.offset(), t.length())), name + " file bytes");
    }

    /** What expected.json says the image must hold for one fixture; a sharded index gathers its shards' tensors. */
    private static JsonArray expectedTensors(String key, JsonObject e, JsonObject files) {
        for (String list : List.of("tensors", "arrays", "initializers")) {
            if (e.has(list)) {
                return e.getAsJsonArray(list);
            }
        }
        if (e.has("weight_map")) {
            return Fixtures.shardTensors(e, key.contains("/") ? key.substring(0, key.lastIndexOf('/') + 1) : "", files);
        }
        JsonArray out = new JsonArray();
        out.add(e); // a single .npy file is its own one tensor
        return out;
    }
}

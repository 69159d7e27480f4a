package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Reads every fixture listed in the shared {@code expected.json} through {@link SourceReaders} and checks
 * each tensor's dtype, shape and the SHA-256 of the bytes its content writes, plus leading values decoded
 * from those bytes, against what the formats' reference readers reported. Nothing here names a fixture:
 * new files of the same kinds are checked the same way.
 */
class FixtureTest {
    private final SourceReaders readers = SourceReaders.standard();

    @TestFactory
    List<DynamicTest> everyFixtureMatchesTheReferenceReaders() throws IOException {
        Path dir = Fixtures.testdata();
        JsonObject files = Fixtures.expected();
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, JsonElement> f : files.entrySet()) {
            JsonObject e = f.getValue().getAsJsonObject();
            Path path = dir.resolve(f.getKey());
            String format = e.get("format").getAsString();
            switch (format) {
                case "safetensors" -> tests.add(DynamicTest.dynamicTest(f.getKey(), () -> safetensors(path, e)));
                case "gguf" -> tests.add(DynamicTest.dynamicTest(f.getKey(), () -> gguf(path, e)));
                case "npy" -> tests.add(DynamicTest.dynamicTest(f.getKey(), () -> npy(path, e)));
                case "npz" -> tests.add(DynamicTest.dynamicTest(f.getKey(), () -> npz(path, e)));
                case "safetensors-index" -> tests.add(DynamicTest.dynamicTest(f.getKey(), () -> sharded(path, e, files, dir)));
                default -> {
                    // ONNX and any other formats belong to other readers
                }
            }
        }
        assertFalse(tests.isEmpty(), "expected.json lists no fixtures of the formats read here");
        return tests;
    }

    private void safetensors(Path path, JsonObject e) throws IOException {
        SourceModel m = readers.read(path);
        assertEquals("safetensors", m.format());
        JsonObject meta = e.getAsJsonObject("metadata");
        assertEquals(meta.size(), m.metadata().size(), "metadata keys");
        for (var kv : meta.entrySet()) {
            assertEquals(kv.getValue().getAsString(), m.metadata().get(kv.getKey()).getAsString(), kv.getKey());
        }
        checkTensors(m, e.getAsJsonArray("tensors"), true);
    }

    private void sharded(Path index, JsonObject e, JsonObject files, Path dir) throws IOException {
        Path folder = index.getParent();
        String prefix = dir.relativize(folder).toString().replace('\\', '/');
        for (Path p : List.of(index, folder)) {
            SourceModel m = readers.read(p);
            assertEquals("safetensors", m.format());
            JsonArray expected = Fixtures.shardTensors(e, prefix + "/", files);
            for (var w : e.getAsJsonObject("weight_map").entrySet()) {
                // the shard's own metadata must be carried over too
                JsonObject shard = files.getAsJsonObject(prefix + "/" + w.getValue().getAsString());
                for (var kv : shard.getAsJsonObject("metadata").entrySet()) {
                    assertEquals(kv.getValue().getAsString(), m.metadata().get(kv.getKey()).getAsString());
                }
            }
            for (var kv : e.getAsJsonObject("metadata").entrySet()) {
                assertEquals(kv.getValue().getAsBigDecimal(), m.metadata().get(kv.getKey()).getAsBigDecimal(), kv.getKey());
            }
            checkTensors(m, expected, false);
            assertEquals(1 + m.files().stream().filter(f -> f.toString().endsWith(".safetensors")).count(),
                    m.files().size(), "index plus each shard once");
        }
    }

    private void gguf(Path path, JsonObject e) throws IOException {
        SourceModel m = readers.read(path);
        assertEquals("gguf", m.format());
        JsonObject kv = e.getAsJsonObject("kv");
        assertEquals(kv.size(), m.metadata().size(), "key/value count");
        for (var x : kv.entrySet()) {
            JsonObject want = x.getValue().getAsJsonObject();
            JsonObject got = m.metadata().getAsJsonObject(x.getKey());
            assertNotNull(got, x.getKey());
            assertEquals(want.get("type").getAsString(), got.get("type").getAsString(), x.getKey());
            if (want.has("value")) {
                assertJsonEquals(want.get("value"), got.get("value"), x.getKey());
            } else if (want.has("count")) {
                int n = want.get("count").getAsInt();
                JsonArray kept = got.getAsJsonArray("value");
                assertEquals(n > GgufReader.DEFAULT_ARRAY_KEEP, got.has("truncated"), x.getKey());
                JsonArray first = want.getAsJsonArray("first");
                for (int i = 0; i < first.size(); i++) {
                    assertJsonEquals(first.get(i), kept.get(i), x.getKey() + "[" + i + "]");
                }
            }
        }
        checkTensors(m, e.getAsJsonArray("tensors"), true);
    }

    private void npy(Path path, JsonObject e) throws IOException {
        if (e.has("expect") && e.get("expect").getAsString().equals("reject")) {
            SourceFormatException x = assertThrows(SourceFormatException.class, () -> readers.read(path));
            String msg = x.getMessage().toLowerCase(Locale.ROOT);
            assertTrue(msg.contains(path.toString().toLowerCase(Locale.ROOT)), msg);
            String reason = e.get("reason").getAsString();
            assertTrue(msg.contains(reason.startsWith("object") ? "pickle" : "structured"), msg);
            return;
        }
        SourceModel m = readers.read(path);
        assertEquals("npy", m.format());
        assertEquals(1, m.tensors().size());
        checkArray(m.tensors().getFirst(), e);
    }

    private void npz(Path path, JsonObject e) throws IOException {
        SourceModel m = readers.read(path);
        assertEquals("npz", m.format());
        JsonArray arrays = e.getAsJsonArray("arrays");
        assertEquals(arrays.size(), m.tensors().size());
        Map<String, SourceTensor> byName = byName(m);
        for (JsonElement a : arrays) {
            JsonObject o = a.getAsJsonObject();
            checkArray(byName.get(o.get("name").getAsString()), o);
        }
    }

    /** One numpy array: the image holds it C-ordered and little-endian, whatever the source layout. */
    private static void checkArray(SourceTensor t, JsonObject e) throws IOException {
        assertNotNull(t, e.get("name") == null ? "the array" : e.get("name").getAsString());
        assertEquals(e.get("dtype").getAsString(), t.dtype());
        assertArrayEquals(longs(e.getAsJsonArray("shape")), t.shape(), t.name());
        byte[] data = Fixtures.bytes(t.content());
        assertEquals(e.get("nbytes").getAsLong(), data.length, t.name());
        Optional<String> want = Fixtures.imageSha256(e);
        if (want.isPresent()) {
            assertEquals(want.get(), Fixtures.sha256(data), t.name() + " bytes");
        } else {
            // expected.json has no hash of C-order little-endian bytes; the values below still pin them
            assertTrue(e.has("values") || e.has("first_values"));
        }
        checkValues(t, data, e);
    }

    private static void checkTensors(SourceModel m, JsonArray expected, boolean sameOrder) throws IOException {
        assertEquals(expected.size(), m.tensors().size(), "tensor count");
        Map<String, SourceTensor> byName = byName(m);
        List<String> order = new ArrayList<>();
        for (JsonElement x : expected) {
            JsonObject e = x.getAsJsonObject();
            String name = e.get("name").getAsString();
            order.add(name);
            SourceTensor t = byName.get(name);
            assertNotNull(t, "tensor " + name);
            assertEquals(e.get("dtype").getAsString(), t.dtype(), name);
            assertArrayEquals(longs(e.getAsJsonArray("shape")), t.shape(), name + " shape");
            assertEquals(e.get("nbytes").getAsLong(), t.content().size(), name + " size");
            byte[] data = Fixtures.bytes(t.content());
            assertEquals(e.get("sha256").getAsString(), Fixtures.sha256(data), name + " bytes");
            checkValues(t, data, e);
        }
        if (sameOrder) {
            assertEquals(order, m.tensors().stream().map(SourceTensor::name).toList(), "tensor order");
        }
    }

    private static void checkValues(SourceTensor t, byte[] data, JsonObject e) {
        JsonArray values = e.has("values") ? e.getAsJsonArray("values") : e.getAsJsonArray("first_values");
        if (values == null || Fixtures.value(new byte[16], t.dtype(), 0) == null) {
            return;
        }
        for (int i = 0; i < values.size(); i++) {
            assertEquals(Fixtures.jsonValue(values.get(i), t.dtype()), Fixtures.value(data, t.dtype(), i),
                    t.name() + " value " + i);
        }
    }

    private static Map<String, SourceTensor> byName(SourceModel m) {
        Map<String, SourceTensor> out = new LinkedHashMap<>();
        for (SourceTensor t : m.tensors()) {
            assertEquals(null, out.put(t.name(), t), "duplicate tensor " + t.name());
        }
        return out;
    }

    private static long[] longs(JsonArray a) {
        return StreamSupport.stream(a.spliterator(), false).mapToLong(JsonElement::getAsLong).toArray();
    }

    private static void assertJsonEquals(JsonElement want, JsonElement got, String what) {
        if (want.isJsonArray()) {
            assertTrue(got.isJsonArray(), what);
            assertEquals(want.getAsJsonArray().size(), got.getAsJsonArray().size(), what + " length");
            for (int i = 0; i < want.getAsJsonArray().size(); i++) {
                assertJsonEquals(want.getAsJsonArray().get(i), got.getAsJsonArray().get(i), what + "[" + i + "]");
            }
            return;
        }
        var w = want.getAsJsonPrimitive();
        var g = got.getAsJsonPrimitive();
        if (w.isNumber()) {
            assertTrue(g.isNumber(), what);
            assertEquals(0, new BigDecimal(w.getAsString()).compareTo(new BigDecimal(g.getAsString())),
                    what + ": " + w + " vs " + g);
        } else {
            assertEquals(w, g, what);
        }
    }

}

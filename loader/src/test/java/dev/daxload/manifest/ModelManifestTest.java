package dev.daxload.manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The manifest parser without Gson's tree parser: same results, same checks, a budget, clear errors. */
class ModelManifestTest {
    private static final String WHERE = "img.daxfs:/m/manifest.json";

    private static ModelManifest sample() {
        JsonObject source = JsonParser.parseString("{\"format\":\"safetensors\",\"files\":[{\"path\":\"a b.safetensors\",\"size\":12}]}").getAsJsonObject();
        JsonObject metadata = JsonParser.parseString("{\"k\":[1,2.5,-0,1e5,-3E-2,true,false,null],\"s\":\"é\\u00e9\\n\\\"\\\\/\\ud83d\\ude00\","
                + "\"nested\":{\"a\":{\"b\":[[],{}]}},\"big\":123456789012345678901234567890}").getAsJsonObject();
        return new ModelManifest("m", source, metadata, List.of(
                new TensorEntry("fc.weight", "tensors/fc.weight", DType.F32, new long[] {10, 100}, 8192, 4000, 0x1234abcd),
                new TensorEntry("scalar", "tensors/scalar", DType.BF16, new long[] {}, 12288, 2, null),
                new TensorEntry("empty", "tensors/empty", DType.F16, new long[] {0, 3}, 0, 0, null)),
                List.of("files/tokenizer.json"), List.of("tables/vocab"));
    }

    @Test
    void roundTripsWhatTheWriterWrites() throws Exception {
        ModelManifest m = sample();
        ModelManifest back = ModelManifest.parse(m.toJson(), WHERE);
        assertEquals(m, back);
        assertEquals(m.metadata(), back.metadata());
        assertEquals(JsonParser.parseString(new String(m.toJson(), StandardCharsets.UTF_8)).getAsJsonObject().get("metadata"), back.metadata());
    }

    /** Random valid JSON read by the cursor equals what Gson's own parser makes of it. */
    @Test
    void treesMatchGsonOnRandomDocuments() throws Exception {
        Random r = new Random(11);
        for (int i = 0; i < 2000; i++) {
            String doc = randomValue(r, 0);
            JsonElement expected = JsonParser.parseString(doc);
            JsonCursor c = new JsonCursor(doc.getBytes(StandardCharsets.UTF_8), WHERE);
            JsonElement got = c.readTree();
            c.end();
            assertEquals(expected, got, doc);
        }
    }

    private static String randomValue(Random r, int depth) {
        int kind = depth > 4 ? r.nextInt(4) : r.nextInt(6);
        String ws = r.nextInt(4) == 0 ? " \n\t\r" : "";
        return ws + switch (kind) {
            case 0 -> randomString(r);
            case 1 -> List.of("0", "-0", "12", "-7", "3.25", "1e3", "1E+2", "-2.5e-3", "9223372036854775807", "1234567890123456789012").get(r.nextInt(10));
            case 2 -> List.of("true", "false", "null").get(r.nextInt(3));
            case 3 -> randomString(r);
            case 4 -> {
                StringBuilder sb = new StringBuilder("[");
                int n = r.nextInt(4);
                for (int j = 0; j < n; j++) {
                    sb.append(j > 0 ? "," : "").append(randomValue(r, depth + 1));
                }
                yield sb.append(ws).append("]").toString();
            }
            default -> {
                StringBuilder sb = new StringBuilder("{");
                int n = r.nextInt(4);
                for (int j = 0; j < n; j++) {
                    sb.append(j > 0 ? "," : "").append(ws).append(randomString(r)).append(ws).append(':').append(randomValue(r, depth + 1));
                }
                yield sb.append(ws).append("}").toString();
            }
        } + ws;
    }

    private static String randomString(Random r) {
        String[] parts = {"a", "é", "漢", "\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\ud83d\\ude00", "😀", " ", "\\t", "\\b\\f\\r"};
        StringBuilder sb = new StringBuilder("\"");
        int n = r.nextInt(5);
        for (int j = 0; j < n; j++) {
            sb.append(parts[r.nextInt(parts.length)]);
        }
        return sb.append('"').toString();
    }

    @Test
    void invalidJsonNamesTheByteOffset() {
        String good = new String(sample().toJson(), StandardCharsets.UTF_8);
        assertRefused(good.substring(0, good.length() - 2), "not valid JSON", "found the end of the input");
        assertRefused(good + " x", "not valid JSON", "expected the end of the input at byte " + (good.getBytes(StandardCharsets.UTF_8).length + 1));
        assertRefused("{\"format\": 'daxload-model/1'}", "not valid JSON", "at byte 11");
        assertRefused("{\"a\":1,}", "not valid JSON", "expected a key (a string) at byte 7");
        assertRefused("{\"a\":\"tab\there\"}", "no control character");
        assertRefused("{\"a\":\"\\x\"}", "an escape");
        assertRefused("{\"a\":01}", "not valid JSON");
        assertRefused("{\"a\":1.}", "a digit after '.'");
        assertRefused("", "not valid JSON", "at byte 0");
        assertRefused("[1, 2]", "expected a JSON object");
    }

    @Test
    void nestingDeeperThanTheBudgetIsRefused() {
        String deep = "{\"format\":\"daxload-model/1\",\"metadata\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}";
        assertRefused(deep, "nested deeper than " + ModelManifest.MAX_DEPTH + " levels");
        String ok = "[".repeat(ModelManifest.MAX_DEPTH - 2) + "]".repeat(ModelManifest.MAX_DEPTH - 2); // the document and metadata are two levels
        String withOk = new String(sample().toJson(), StandardCharsets.UTF_8).replace("\"metadata\": {", "\"metadata\": {\"deep\": " + ok + ",");
        assertDoesNotThrow(withOk);
    }

    @Test
    void tensorCountAndRankBudgets() {
        StringBuilder sb = new StringBuilder("{\"format\":\"daxload-model/1\",\"name\":\"m\",\"tensors\":[");
        for (int i = 0; i <= ModelManifest.MAX_TENSORS; i++) {
            sb.append(i > 0 ? ",{}" : "{}");
        }
        sb.append("]}");
        assertRefused(sb.toString(), "more than " + ModelManifest.MAX_TENSORS + " tensors");
        String rank = "{\"format\":\"daxload-model/1\",\"name\":\"m\",\"tensors\":[{\"name\":\"t\",\"file\":\"tensors/t\",\"dtype\":\"F32\",\"shape\":["
                + "1,".repeat(ModelManifest.MAX_RANK) + "1],\"offset\":0,\"length\":4}]}";
        assertRefused(rank, "tensor 't': shape has 65 dimensions, at most 64 allowed");
    }

    @Test
    void fieldChecksNameTheField() {
        String good = new String(sample().toJson(), StandardCharsets.UTF_8);
        assertRefused(good.replace("\"daxload-model/1\"", "\"daxload-model/2\""), "field 'format' is 'daxload-model/2'");
        assertRefused(good.replace("\"offset\": 8192", "\"offset\": \"8192\""), "tensor 'fc.weight': offset is missing or not a number");
        assertRefused(good.replace("\"offset\": 8192", "\"offset\": -8192"), "offset is negative");
        assertRefused(good.replace("\"offset\": 8192", "\"offset\": 8192.5"), "not a whole number");
        assertRefused(good.replace("\"offset\": 8192", "\"offset\": 99999999999999999999"), "not a whole number that fits in 63 bits");
        assertRefused(good.replace("\"crc32c\": \"1234abcd\"", "\"crc32c\": \"1234abcg\""), "crc32c '1234abcg' is not 8 hex digits");
        assertRefused(good.replace("\"name\": \"scalar\"", "\"name\": \"fc.weight\""), "tensor 'fc.weight' appears twice");
        assertRefused(good.replace("\"source\": {", "\"source\": 5, \"src\": {"), "field 'source' is not an object");
    }

    @Test
    void wholeNumbersInOtherNotationsStillParse() throws Exception {
        String good = new String(sample().toJson(), StandardCharsets.UTF_8);
        ModelManifest m = ModelManifest.parse(good.replace("\"offset\": 8192", "\"offset\": 8.192e3").getBytes(StandardCharsets.UTF_8), WHERE);
        assertEquals(8192, m.tensor("fc.weight").orElseThrow().offset());
    }

    private static void assertDoesNotThrow(String json) {
        try {
            ModelManifest.parse(json.getBytes(StandardCharsets.UTF_8), WHERE);
        } catch (ManifestException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertRefused(String json, String... expected) {
        ManifestException e = assertThrows(ManifestException.class, () -> ModelManifest.parse(json.getBytes(StandardCharsets.UTF_8), WHERE));
        assertTrue(e.getMessage().startsWith(WHERE + ": "), e.getMessage());
        for (String x : expected) {
            assertTrue(e.getMessage().contains(x), "'" + x + "' not in: " + e.getMessage());
        }
    }
}

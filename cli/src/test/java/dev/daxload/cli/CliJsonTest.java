package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.daxload.cli.DaxloadCliTest.Run;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every --json document of ls, inspect, verify, tensors and lookup, on an image of two models (the real
 * all-MiniLM-L6-v2 ONNX file with its tokenizer and a table, and a small safetensors file), parsed and
 * checked against the field tables of docs/cli-json.md; errors as JSON on stderr with the text form's
 * exit codes; inspect's text names both models.
 */
class CliJsonTest {
    static final Path MODELS = Path.of(System.getProperty("daxload.testModels", "../packager/target/models"));

    @TempDir
    static Path tmp;
    static Path image;
    static JsonFieldsDoc doc;

    @BeforeAll
    static void pack() throws Exception {
        Path minilm = MODELS.resolve("all-minilm-l6-v2");
        Assumptions.assumeTrue(Files.isRegularFile(minilm.resolve("all-minilm-l6-v2.onnx")),
                "no " + minilm + " (the packager's build unpacks it from Maven Central)");
        doc = JsonFieldsDoc.load();
        Path st = safetensors(tmp.resolve("small.safetensors"));
        Path csv = Files.writeString(tmp.resolve("vocab.csv"), "token,id\nhello,1\nworld,2\n");
        image = tmp.resolve("two.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "minilm", minilm.resolve("all-minilm-l6-v2.onnx").toString(),
                "--file", "tokenizer.json=" + minilm.resolve("all-minilm-l6-v2-tokenizer.json"),
                "--table", "vocab=" + csv + ":key=token",
                "--name", "small", st.toString(), "-o", image.toString());
        assertEquals(0, r.code(), r.err());
    }

    static Path safetensors(Path file) throws Exception {
        byte[] header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]}}"
                .getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 24).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return Files.write(file, b.array());
    }

    @Test
    void inspectListsBothModelsWithTheirTensorCounts() {
        Run r = DaxloadCliTest.run("inspect", "--json", image.toString());
        assertEquals(0, r.code(), r.err());
        JsonObject o = doc.check("inspect", r.out());
        JsonArray models = o.getAsJsonArray("models");
        assertEquals(2, models.size(), r.out());
        JsonObject tensors = doc.check("tensors", DaxloadCliTest.run("tensors", "--json", image.toString()).out());
        for (JsonElement e : models) {
            JsonObject m = e.getAsJsonObject();
            String name = m.get("name").getAsString();
            long count = tensors.getAsJsonArray("tensors").asList().stream()
                    .filter(t -> t.getAsJsonObject().get("model").getAsString().equals(name)).count();
            assertEquals(count, m.get("tensors").getAsLong(), name);
            assertTrue(count > 0, name);
            assertEquals(m.get("tensors").getAsLong(), m.get("checksummed").getAsLong(), "every tensor has a CRC32C");
            assertTrue(m.get("alignment").getAsLong() >= 64, m.toString());
        }
        JsonObject minilm = models.get(0).getAsJsonObject();
        assertEquals("minilm", minilm.get("name").getAsString());
        assertEquals("onnx", minilm.get("sourceFormat").getAsString());
        assertTrue(minilm.getAsJsonArray("files").toString().contains("files/tokenizer.json"), minilm.toString());
        JsonObject table = minilm.getAsJsonArray("tables").get(0).getAsJsonObject();
        assertEquals("vocab", table.get("name").getAsString());
        assertEquals(2, table.get("rows").getAsLong());
        assertEquals("token", table.get("key").getAsString());
        JsonObject small = models.get(1).getAsJsonObject();
        assertEquals("safetensors", small.get("sourceFormat").getAsString());
        assertEquals(1, small.getAsJsonObject("dtypes").get("F32").getAsInt());
        assertEquals(1, small.getAsJsonObject("dtypes").get("F16").getAsInt());
        assertEquals(24, small.get("bytes").getAsLong());

        Run text = DaxloadCliTest.run("inspect", image.toString());
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("models         2"), text.out());
        assertTrue(text.out().contains("    source       safetensors") && text.out().contains("table        vocab: 2 rows, key token"), text.out());
    }

    @Test
    void lsVerifyTensorsLookupDocumentsCarryTheDocumentedFields() {
        Run ls = DaxloadCliTest.run("ls", "--json", "-R", image.toString());
        assertEquals(0, ls.code(), ls.err());
        JsonObject l = doc.check("ls", ls.out());
        List<String> paths = l.getAsJsonArray("entries").asList().stream().map(e -> e.getAsJsonObject().get("path").getAsString()).toList();
        assertTrue(paths.contains("/minilm/manifest.json") && paths.contains("/small"), paths.toString());
        Run one = DaxloadCliTest.run("ls", "--json", image.toString(), "/minilm/manifest.json");
        assertEquals("file", doc.check("ls", one.out()).getAsJsonArray("entries").get(0).getAsJsonObject().get("type").getAsString());

        Run v = DaxloadCliTest.run("verify", "--json", image.toString());
        assertEquals(0, v.code(), v.err());
        JsonObject vo = doc.check("verify", v.out());
        assertTrue(vo.get("sound").getAsBoolean());
        assertEquals(2, vo.get("models").getAsInt());
        assertEquals(vo.get("tensorsChecked").getAsLong(),
                doc.check("tensors", DaxloadCliTest.run("tensors", "--json", image.toString()).out()).getAsJsonArray("tensors").size());

        Run t = DaxloadCliTest.run("tensors", "--json", "--sort", "size", image.toString(), "small");
        assertEquals(0, t.code(), t.err());
        assertEquals(2, doc.check("tensors", t.out()).getAsJsonArray("tensors").size());

        Run found = DaxloadCliTest.run("lookup", "--json", image.toString(), "minilm", "vocab", "world");
        assertEquals(0, found.code(), found.err());
        JsonObject f = doc.check("lookup", found.out());
        assertEquals(2, f.getAsJsonArray("found").get(0).getAsJsonObject().getAsJsonObject("values").get("id").getAsInt());
        Run shape = DaxloadCliTest.run("lookup", "--json", image.toString(), "minilm", "vocab");
        assertEquals(0, shape.code(), shape.err());
        assertEquals(2, doc.check("lookup", shape.out()).get("rowCount").getAsLong());
        Run missing = DaxloadCliTest.run("lookup", "--json", image.toString(), "minilm", "vocab", "hello", "nope");
        assertEquals(1, missing.code());
        assertEquals("[\"nope\"]", doc.check("lookup", missing.out()).getAsJsonArray("missing").toString());
        assertEquals(1, doc.check("error", missing.err()).get("exitCode").getAsInt());
    }

    @Test
    void errorsAreJsonOnStderrWithTheSameExitCodes() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("a-dir"));
        for (String cmd : List.of("ls", "inspect", "verify", "tensors")) {
            Run r = DaxloadCliTest.run(cmd, "--json", dir.toString());
            assertEquals(1, r.code(), cmd + ": " + r.err());
            assertEquals("", r.out(), cmd);
            JsonObject e = doc.check("error", r.err());
            assertTrue(e.get("error").getAsString().equals(dir + ": is a directory, not an image file"), r.err());
            assertEquals("daxload " + cmd, e.get("command").getAsString());
        }
        Run usage = DaxloadCliTest.run("tensors", "--json", "--sort", image.toString());
        assertEquals(2, usage.code(), usage.err());
        assertEquals(2, doc.check("error", usage.err()).get("exitCode").getAsInt());
        Run text = DaxloadCliTest.run("inspect", dir.toString());
        assertEquals(1, text.code());
        assertEquals("daxload inspect: " + dir + ": is a directory, not an image file", text.err().strip());

        // a flipped bit in a tensor: the structure is sound, its CRC32C is not
        long offset = doc.check("tensors", DaxloadCliTest.run("tensors", "--json", image.toString(), "small").out())
                .getAsJsonArray("tensors").get(0).getAsJsonObject().get("offset").getAsLong();
        byte[] bytes = Files.readAllBytes(image);
        bytes[(int) offset] ^= 0x55;
        Path bad = Files.write(tmp.resolve("bad.daxfs"), bytes);
        Run v = DaxloadCliTest.run("verify", "--json", bad.toString());
        assertEquals(1, v.code(), v.out());
        JsonObject vo = doc.check("verify", v.out());
        assertFalse(vo.get("sound").getAsBoolean());
        assertEquals(1, vo.get("errors").getAsInt(), v.out());
        assertTrue(vo.getAsJsonArray("problems").get(0).getAsString().contains("tensor 'a'"), v.out());
        doc.check("error", v.err());
    }

    @Test
    void inspectShowsTheRestOfAnImageWhoseModelCannotBeRead() throws Exception {
        byte[] bytes = Files.readAllBytes(image);
        String all = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = all.indexOf("\"name\": \"small\"");
        int format = all.lastIndexOf("daxload-model/1", at);
        assertTrue(at > 0 && format > 0 && at - format < 100, "small's manifest in the image: format, then name");
        bytes[format + "daxload-model/".length()] = '9';
        Path broken = Files.write(tmp.resolve("broken-manifest.daxfs"), bytes);
        Run r = DaxloadCliTest.run("inspect", "--json", broken.toString());
        assertEquals(0, r.code(), r.err());
        JsonObject o = doc.check("inspect", r.out());
        assertEquals(1, o.getAsJsonArray("models").size());
        assertTrue(o.getAsJsonArray("warnings").toString().contains("model small: "), r.out());
        Run text = DaxloadCliTest.run("inspect", broken.toString());
        assertTrue(text.out().contains("  model small: ") && text.out().contains("  minilm"), text.out());
    }

    @Test
    void usageShowsOptionalArgumentsAsOptional() {
        Run r = DaxloadCliTest.run("ls", "--help");
        assertTrue(r.out().contains("IMAGE [PATH]"), r.out());
        Run t = DaxloadCliTest.run("tensors", "--help");
        assertTrue(t.out().contains("IMAGE [MODEL]"), t.out());
    }
}

package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import dev.daxload.cli.DaxloadCliTest.Run;
import com.google.gson.JsonObject;
import dev.daxload.model.ModelWeights;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import dev.daxload.packager.table.TableBuilder;
import dev.daxload.table.TableLayout.ColumnType;
import dev.daxload.table.LookupTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pack-model, tensors and verify --checksums on the reference writers' fixtures. */
class PackModelCliTest {
    static final Path TESTDATA = dev.daxload.packager.source.Fixtures.repositoryTestdata();
    @TempDir Path tmp;
    Path image;

    @BeforeEach
    void pack() throws Exception {
        Path vocab = tmp.resolve("vocab.csv");
        Files.writeString(vocab, "token,id\nhello,1\n\"wor,ld\",2\n");
        Path tree = Files.createDirectories(tmp.resolve("etc"));
        Files.writeString(tree.resolve("motd"), "hi\n");
        image = tmp.resolve("models.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q",
                "--name", "vad", TESTDATA.resolve("silero-vad.safetensors").toString(), "--table", "vocab=" + vocab + ":key=token",
                "--name", "vadq", TESTDATA.resolve("silero-vad.gguf").toString(),
                "--name", "np", TESTDATA.resolve("silero-vad-compressed.npz").toString(), TESTDATA.resolve("README.md").toString(),
                "--tree", tree.toString(), "-o", image.toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void tensorsListsEveryModelAndJsonParses() {
        Run r = DaxloadCliTest.run("tensors", "--json", image.toString());
        assertEquals(0, r.code(), r.err());
        JsonArray all = JsonParser.parseString(r.out()).getAsJsonObject().getAsJsonArray("tensors");
        assertEquals(45 * 3, all.size());
        Run one = DaxloadCliTest.run("tensors", "--sort", "size", "-r", image.toString(), "vadq");
        assertEquals(0, one.code(), one.err());
        List<String> lines = one.out().lines().toList();
        assertEquals(46, lines.size());
        assertTrue(lines.get(0).startsWith("NAME"));
        assertEquals(2, DaxloadCliTest.run("tensors", "--sort", "colour", image.toString()).code());
    }

    @Test
    void sideFilesTablesAndTreesLand() {
        Run ls = DaxloadCliTest.run("ls", "-R", image.toString());
        assertEquals(0, ls.code(), ls.err());
        assertTrue(ls.out().contains("/vad/tables/vocab:"), ls.out());
        assertTrue(ls.out().contains("/np/files:") && ls.out().contains("README.md"), ls.out());
        assertTrue(ls.out().contains("motd"), ls.out());
    }

    @Test
    void checksumsCatchAFlippedBit() throws Exception {
        Run ok = DaxloadCliTest.run("verify", "--checksums", image.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("135 tensor checksums"), ok.out());
        Run json = DaxloadCliTest.run("tensors", "--json", image.toString(), "vad");
        var t = JsonParser.parseString(json.out()).getAsJsonObject().getAsJsonArray("tensors").get(3).getAsJsonObject();
        long offset = t.get("offset").getAsLong();
        byte[] bytes = Files.readAllBytes(image);
        bytes[(int) offset] ^= 0x10;
        Files.write(image, bytes);
        assertEquals(0, DaxloadCliTest.run("verify", "--no-checksums", image.toString()).code(), "the structure is still sound");
        assertEquals(1, DaxloadCliTest.run("verify", image.toString()).code(), "checksums are checked by default");
        Run bad = DaxloadCliTest.run("verify", "--checksums", image.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("'" + t.get("name").getAsString() + "'") && bad.err().contains("offset " + offset), bad.err());
    }

    @Test
    void unknownSourcesAndBadTablesFailWithoutAnImage() throws Exception {
        Path out = tmp.resolve("never.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", tmp.resolve("missing.safetensors").toString(), "-o", out.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("missing.safetensors"), r.err());
        Path csv = tmp.resolve("dup.csv");
        Files.writeString(csv, "k,v\na,1\na,2\n");
        Run d = DaxloadCliTest.run("pack-model", "-q", "--name", "m", TESTDATA.resolve("npy-bool.npy").toString(),
                "--table", "t=" + csv + ":key=k", "-o", out.toString());
        assertEquals(1, d.code());
        assertTrue(d.err().contains("dup.csv"), d.err());
        assertFalse(Files.exists(out));
        Run bad = DaxloadCliTest.run("pack-model", "-q", "--name", "m", TESTDATA.resolve("reject-object.npy").toString(), "-o", out.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("reject-object.npy"), bad.err());
        assertFalse(Files.exists(out));
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file left behind");
        }
    }

    @Test
    void aTsvVocabularyWithAQuoteTokenIsReadAsTabSeparatedValues() throws Exception {
        Path vocab = tmp.resolve("vocab.tsv");
        Files.writeString(vocab, "token\tid\n\"\t1\n\"\"\t2\nsay \"hi\"\t3\n");
        Path out = tmp.resolve("vocab.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "words", TESTDATA.resolve("npy-bool.npy").toString(),
                "--table", "vocab=" + vocab + ":key=token", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        try (ModelWeights w = ModelWeights.open(out, "words")) {
            LookupTable t = w.table("vocab");
            assertEquals(3, t.rows());
            assertEquals(1, t.getLong("id", t.rowOf("\"").orElseThrow()));
            assertEquals(2, t.getLong("id", t.rowOf("\"\"").orElseThrow()));
            assertEquals(3, t.getLong("id", t.rowOf("say \"hi\"").orElseThrow()));
        }
        Run found = DaxloadCliTest.run("lookup", out.toString(), "words", "vocab", "\"", "say \"hi\"");
        assertEquals(0, found.code(), found.err());
        assertEquals(List.of("token\tid", "\"\t1", "say \"hi\"\t3"), found.out().lines().toList());
        Run json = DaxloadCliTest.run("lookup", "--json", out.toString(), "words", "vocab", "\"\"");
        var row = JsonParser.parseString(json.out()).getAsJsonObject().getAsJsonArray("found").get(0).getAsJsonObject();
        assertEquals(1, row.get("row").getAsLong());
        assertEquals(2, row.getAsJsonObject("values").get("id").getAsLong());
        Run missing = DaxloadCliTest.run("lookup", out.toString(), "words", "vocab", "\"", "absent");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("key 'absent' is not in words/tables/vocab"), missing.err());
        Run noTable = DaxloadCliTest.run("lookup", out.toString(), "words", "nosuch");
        assertEquals(2, noTable.code());
        assertTrue(noTable.err().contains("has no table 'nosuch'; it has vocab"), noTable.err());
    }

    @Test
    void lookupPrintsF32ColumnsAsFloats() throws Exception {
        Path csv = tmp.resolve("f.csv");
        Files.writeString(csv, "k,x,y\na,0.1,0.1\nb,,2\n");
        Path img = tmp.resolve("f.daxfs");
        try (TableBuilder b = TableBuilder.csv(csv).key("k").type("x", ColumnType.F32)) {
            ModelPackager p = new ModelPackager();
            ModelPackager.Model m = p.model("m").add(new SourceModel("raw", List.of(), new JsonObject(), List.of(
                    new SourceTensor("w", "F32", new long[] {1}, FileContent.of(new byte[4]))), Map.of()));
            b.addTo(m.tablesDirectory(), "t");
            m.table("t");
            p.write(new ImageWriter(), img);
        }
        Run r = DaxloadCliTest.run("lookup", img.toString(), "m", "t", "a", "b");
        assertEquals(0, r.code(), r.err());
        assertEquals(List.of("k\tx\ty", "a\t0.1\t0.1", "b\tNaN\t2.0"), r.out().lines().toList());
        Run json = DaxloadCliTest.run("lookup", "--json", img.toString(), "m", "t", "b");
        var values = JsonParser.parseString(json.out()).getAsJsonObject().getAsJsonArray("found").get(0).getAsJsonObject().getAsJsonObject("values");
        assertEquals("NaN", values.get("x").getAsString(), "JSON has no NaN");
    }
}

package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.djl.onnx.internal.OrtFormKey;
import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * daxload prepack on an image packed without ONNX Runtime's form (all-MiniLM-L6-v2 with a table and a
 * plain tree beside it): the new image holds everything the old one did, byte for byte, with manifests
 * that point at the tensors' new places, plus the form for this machine's key; the input is never
 * touched; bad requests fail with a message and leave no output.
 */
class PrepackCliTest {
    static final Path MODEL = Path.of(System.getProperty("daxload.testModels", "target/models")).resolve("all-minilm-l6-v2");
    @TempDir Path tmp;
    Path plain;

    @BeforeEach
    void pack() throws Exception {
        Path vocab = tmp.resolve("vocab.csv");
        Files.writeString(vocab, "token,id\nhello,1\nworld,2\n");
        Path tree = Files.createDirectories(tmp.resolve("etc"));
        Files.writeString(tree.resolve("motd"), "hi\n");
        Files.createSymbolicLink(tree.resolve("link"), Path.of("motd"));
        plain = tmp.resolve("plain.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "minilm", MODEL.resolve("all-minilm-l6-v2.onnx").toString(),
                MODEL.resolve("all-minilm-l6-v2-tokenizer.json").toString(), "--table", "vocab=" + vocab + ":key=token",
                "--tree", tree.toString(), "-o", plain.toString());
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void addsTheFormAndKeepsEverythingElse() throws Exception {
        String before = sha256(plain);
        Path out = tmp.resolve("prepacked.daxfs");
        Run r = DaxloadCliTest.run("prepack", plain.toString(), "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(before, sha256(plain), "the input image is not touched");
        assertEquals(0, DaxloadCliTest.run("verify", "--checksums", out.toString()).code());
        OrtFormKey running = OrtFormKey.running(OrtLoadPlan.OPTIMIZATION);
        try (DaxImage a = DaxImage.open(plain); DaxImage b = DaxImage.open(out)) {
            // Every tensor: same bytes, at the offset the new manifest records.
            Map<String, TensorEntry> old = ModelCatalog.load(a, "minilm").tensorsByName();
            List<TensorEntry> moved = ModelCatalog.load(b, "minilm").tensors();
            assertEquals(old.size(), moved.size());
            for (TensorEntry t : moved) {
                TensorEntry o = old.get(t.name());
                assertArrayEquals(a.segment().asSlice(o.offset(), o.length()).toArray(ValueLayout.JAVA_BYTE),
                        b.segment().asSlice(t.offset(), t.length()).toArray(ValueLayout.JAVA_BYTE), t.name());
                assertEquals(b.absoluteOffset(b.resolve("minilm/" + t.file()).dataOffset()), t.offset(), t.name());
            }
            for (String p : List.of("motd", "minilm/tables/vocab/c0.bytes", "minilm/files/model.onnx")) {
                assertArrayEquals(a.content(p).toArray(ValueLayout.JAVA_BYTE), b.content(p).toArray(ValueLayout.JAVA_BYTE), p);
            }
            assertEquals("motd", b.readSymlink(b.lookup("link").orElseThrow()));
            List<OrtImageForm> forms = OrtImageForm.list(b, "minilm");
            assertEquals(1, forms.size());
            assertEquals(running, forms.get(0).key());
            // The graph's external data, named through the image link, is a tensor of the model (an initializer
            // ORT left as it was: weights once on disk) or lies inside the form's data file.
            long start = b.absoluteOffset(forms.get(0).data(b).dataOffset());
            long end = start + forms.get(0).data(b).size();
            Map<Long, TensorEntry> byOffset = new java.util.HashMap<>();
            moved.forEach(t -> byOffset.put(t.offset(), t));
            int external = 0;
            int shared = 0;
            for (TensorProto t : ModelProto.parseFrom(forms.get(0).graph(b)).getGraph().getInitializerList()) {
                if (t.getDataLocation() != 1) {
                    continue;
                }
                external++;
                Map<String, String> kv = new java.util.HashMap<>();
                for (StringStringEntryProto e : t.getExternalDataList()) {
                    kv.put(e.getKey(), e.getValue());
                }
                assertEquals(OrtImageForm.IMAGE_LINK, kv.get("location"), t.getName());
                long off = Long.parseLong(kv.get("offset"));
                long len = Long.parseLong(kv.get("length"));
                TensorEntry tensor = byOffset.get(off);
                if (tensor != null) {
                    assertEquals(tensor.name(), t.getName(), "an initializer reads the tensor of its own name");
                    assertEquals(tensor.length(), len, t.getName());
                    shared++;
                } else {
                    assertTrue(off >= start && off + len <= end, t.getName());
                }
            }
            assertTrue(external > 50, external + " external initializers");
            assertTrue(shared > 50, shared + " initializers read from the model's tensors");
        }
        // Again, in place: replaced atomically, the form for this key replaced rather than added twice.
        Run again = DaxloadCliTest.run("prepack", "-q", out.toString());
        assertEquals(0, again.code(), again.err());
        try (DaxImage b = DaxImage.open(out)) {
            assertEquals(1, OrtImageForm.list(b, "minilm").size());
        }
    }

    @Test
    void refusesWhatItCannotPrepack() throws Exception {
        Path out = tmp.resolve("out.daxfs");
        Run noModel = DaxloadCliTest.run("prepack", plain.toString(), "--model", "nosuch", "-o", out.toString());
        assertEquals(1, noModel.code());
        assertTrue(noModel.err().contains("no model 'nosuch'"), noModel.err());
        assertFalse(Files.exists(out));
        Path notAnImage = Files.writeString(tmp.resolve("junk.daxfs"), "not an image");
        Run junk = DaxloadCliTest.run("prepack", notAnImage.toString(), "-o", out.toString());
        assertEquals(1, junk.code());
        assertTrue(junk.err().contains("junk.daxfs"), junk.err());
        assertFalse(Files.exists(out));
    }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }
}

package dev.daxload.packager.model;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.DType;
import dev.daxload.manifest.ManifestException;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelPackagerTest {
    @TempDir Path tmp;

    static byte[] floats(int n, float start) {
        ByteBuffer b = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat(start + i);
        }
        return b.array();
    }

    Path packTwoModels() throws Exception {
        Path blob = tmp.resolve("blob.bin");
        byte[] w = floats(1000, 1f);
        Files.write(blob, w);
        SourceModel a = new SourceModel("raw", List.of(blob), new JsonObject(), List.of(
                new SourceTensor("fc.weight", "F32", new long[] {10, 100}, FileContent.range(blob, 0, 4000)),
                new SourceTensor("a/b/../c", "F32", new long[] {}, FileContent.of(floats(1, 7f))),
                new SourceTensor("empty", "I64", new long[] {0, 3}, FileContent.of(new byte[0])),
                new SourceTensor("q", "Q8_0", new long[] {64}, FileContent.of(new byte[68]))),
                Map.of("config.json", FileContent.of("{}".getBytes(StandardCharsets.UTF_8))));
        SourceModel b = new SourceModel("raw", List.of(blob), new JsonObject(), List.of(
                new SourceTensor("x", "BF16", new long[] {4}, FileContent.of(new byte[8]))), Map.of());
        Path img = tmp.resolve("models.daxfs");
        ModelPackager p = new ModelPackager();
        p.model("m1").add(a);
        p.model("m2").add(b);
        p.write(new ImageWriter().alignment(2 << 20), img);
        return img;
    }

    @Test
    void manifestRecordsWhereEveryTensorLanded() throws Exception {
        Path img = packTwoModels();
        try (DaxImage image = DaxImage.open(img)) {
            assertEquals(List.of("m1", "m2"), ModelCatalog.models(image));
            ModelManifest m = ModelCatalog.load(image, "m1");
            assertEquals(4, m.tensors().size());
            TensorEntry fc = m.tensor("fc.weight").orElseThrow();
            assertEquals(DType.F32, fc.dtype());
            assertArrayEquals(new long[] {10, 100}, fc.shape());
            byte[] got = image.segment().asSlice(fc.offset(), fc.length()).toArray(ValueLayout.JAVA_BYTE);
            assertArrayEquals(floats(1000, 1f), got);
            CRC32C crc = new CRC32C();
            crc.update(got);
            assertEquals((int) crc.getValue(), fc.crc32c());
            TensorEntry odd = m.tensor("a/b/../c").orElseThrow();
            assertEquals("tensors/a%2Fb%2F..%2Fc", odd.file());
            assertEquals(7f, image.segment().get(ValueLayout.JAVA_FLOAT_UNALIGNED, odd.offset()));
            assertEquals(0, m.tensor("empty").orElseThrow().length());
            assertEquals(List.of("files/config.json"), m.files());
            assertEquals("{}", new String(image.content("m1/files/config.json").toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertEquals(DType.BF16, ModelCatalog.load(image, "m2").tensor("x").orElseThrow().dtype());
        }
    }

    @Test
    void refusesShapeThatDisagreesWithBytes() {
        SourceModel bad = new SourceModel("raw", List.of(), new JsonObject(), List.of(
                new SourceTensor("w", "F32", new long[] {3}, FileContent.of(new byte[8]))), Map.of());
        ModelPackager p = new ModelPackager();
        var e = assertThrows(IllegalArgumentException.class, () -> p.model("m").add(bad));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("needs 12"), e.getMessage());
    }

    @Test
    void longAndOddNamesEncodeUniquely() {
        String longName = "layer.".repeat(60);
        String enc = TensorFileNames.encode(longName);
        assertTrue(enc.getBytes(StandardCharsets.UTF_8).length <= 255);
        assertNotEquals(enc, TensorFileNames.encode(longName + "x"));
        assertEquals("%2E%2E", TensorFileNames.encode(".."));
        assertEquals("a%252Fb", TensorFileNames.encode("a%2Fb"));
        assertNotEquals(TensorFileNames.encode("a/b"), TensorFileNames.encode("a%2Fb"));
        String unicode = "é".repeat(200);
        assertTrue(TensorFileNames.encode(unicode).getBytes(StandardCharsets.UTF_8).length <= 255);
    }

    /** A manifest that lies about a tensor is refused before any view is made. */
    @Test
    void hostileManifestsAreRefused() throws Exception {
        Path img = packTwoModels();
        byte[] image = Files.readAllBytes(img);
        String text = new String(image, StandardCharsets.ISO_8859_1);
        int at = text.indexOf("\"format\": \"daxload-model/1\"");
        assertTrue(at > 0);
        // Same-length edits keep the image itself sound, so only the manifest checks can catch them.
        int fc = text.indexOf("\"offset\": ", text.indexOf("\"name\": \"fc.weight\"", at));
        int end = text.indexOf(',', fc);
        String offset = text.substring(fc, end);
        String moved = offset.substring(0, offset.length() - 1) + (offset.endsWith("0") ? "1" : "0");
        assertRefused(image, at, offset, moved, "offset");
        String past = offset.replaceAll("[0-9]", "9"); // same length, far past the end of this small image
        assertRefused(image, at, offset, past, "runs past the image");
        assertRefused(image, at, "\"dtype\": \"F32\"", "\"dtype\": \"F31\"", "unknown dtype");
        assertRefused(image, at, "\"length\": 4000", "\"length\": 4004", "does not match shape");
        assertRefused(image, at, "\"shape\": [\n        10,", "\"shape\": [\n        90,", "does not match shape");
    }

    private void assertRefused(byte[] original, int from, String find, String replace, String expected) throws Exception {
        String text = new String(original, StandardCharsets.ISO_8859_1);
        int i = text.indexOf(find, from);
        assertTrue(i > 0, "fixture lacks " + find);
        assertEquals(find.length(), replace.length());
        byte[] copy = original.clone();
        System.arraycopy(replace.getBytes(StandardCharsets.ISO_8859_1), 0, copy, i, replace.length());
        Path p = tmp.resolve("hostile.daxfs");
        Files.write(p, copy);
        try (DaxImage image = DaxImage.open(p)) {
            var e = assertThrows(ManifestException.class, () -> ModelCatalog.load(image, "m1"));
            assertTrue(e.getMessage().contains(expected) && e.getMessage().contains("m1/manifest.json"), e.getMessage());
        }
    }
}

package dev.daxload.golden;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.ImageValidator;
import dev.daxload.manifest.DType;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.model.ModelWeights;
import dev.daxload.table.LookupTable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Images written by earlier versions, committed under {@code src/test/resources/golden/} and read here
 * forever after (Lucene's back-compat indexes are the model): one per image format version, model
 * manifest schema and table format the loader accepts. Every expectation is a literal: the values the
 * maker ({@code cli}'s {@code dev.daxload.golden.MakeGoldenImages}) put in, and the offsets, sizes and
 * checksums the image was written with. A change that would make the loader misread an old image fails
 * the build; an old golden image is never rewritten, a new format adds a new one.
 *
 * <table>
 * <caption>golden images</caption>
 * <tr><th>file</th><th>image</th><th>manifest</th><th>tables</th></tr>
 * <tr><td>v5-model1-table1.daxfs</td><td>DAXFS v5, static</td><td>daxload-model/1</td><td>daxload-table/1 (string and integer keys)</td></tr>
 * </table>
 */
class GoldenImagesTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static Path golden(String name) throws URISyntaxException {
        var url = GoldenImagesTest.class.getResource("/golden/" + name);
        assertNotNull(url, "golden image " + name + " is missing from src/test/resources/golden");
        return Path.of(url.toURI());
    }

    @Test
    void v5Model1Table1() throws Exception {
        Path file = golden("v5-model1-table1.daxfs");
        assertEquals(EXPECTED_SHA256, HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file))),
                "the golden image itself changed: golden images are never rewritten; add a new one");
        try (DaxImage img = DaxImage.open(file)) {
            assertEquals(5, img.superblock().version());
            assertTrue(img.superblock().isStatic());
            ImageValidator.Result r = ImageValidator.validate(img.segment());
            assertTrue(r.sound(), r.problems().toString());

            // the manifest as written: its format string, tensors in order, with offsets and checksums
            String manifest = new String(img.content("golden/" + ModelManifest.FILE_NAME).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            assertTrue(manifest.contains("\"format\":\"daxload-model/1\"") || manifest.contains("\"format\": \"daxload-model/1\""), manifest);
            try (ModelWeights w = ModelWeights.of(img, "golden")) {
                assertEquals(EXPECTED_TENSORS, w.manifest().tensorsByName().values().stream().map(GoldenImagesTest::describe).toList());
                assertEquals(List.of(), w.verify(), "every CRC32C matches");

                MemorySegment f32 = w.tensor("w.f32").segment();
                for (int i = 0; i < 6; i++) {
                    assertEquals(i * 1.5f - 2f, f32.get(F32, 4L * i), "w.f32[" + i + "]");
                }
                assertArrayEquals(new short[] {0x3c00, (short) 0xc000, 0x7bff, 0x0001}, w.tensor("w.f16").segment().toArray(U16));
                assertArrayEquals(new short[] {0x3f80, (short) 0xc2f7}, w.tensor("w.bf16").segment().toArray(U16));
                assertArrayEquals(new long[] {-1, Long.MAX_VALUE, 42}, w.tensor("w.i64").segment().toArray(I64));
                assertArrayEquals(new byte[] {0, 1, 127, (byte) 128, (byte) 255}, w.tensor("w.u8").segment().toArray(ValueLayout.JAVA_BYTE));
                assertArrayEquals(new byte[] {1, 0}, w.tensor("w.bool").segment().toArray(ValueLayout.JAVA_BYTE));
                assertEquals(Math.PI, w.tensor("w.scalar").segment().get(F64, 0));
                assertEquals(DType.F64, w.tensor("w.scalar").dtype());
                assertArrayEquals(new long[0], w.tensor("w.scalar").shape());

                LookupTable words = w.table("words");
                assertEquals(4, words.rows());
                assertEquals("word", words.keyColumn().orElseThrow().name());
                assertEquals(2, row(words, "ключ"));
                assertEquals(3, row(words, "🙂"));
                assertTrue(words.rowOf("gamma").isEmpty());
                assertEquals(-1.25, words.getDouble("score", row(words, "beta")));
                assertTrue(Double.isNaN(words.getDouble("score", 2)), "an empty F64 cell reads as NaN");
                assertEquals(1e300, words.getDouble("score", 3));
                assertEquals(4, words.getLong("id", 3));

                LookupTable ids = w.table("ids");
                assertEquals("id", ids.keyColumn().orElseThrow().name());
                assertEquals("max", ids.getString("label", row(ids, Long.MAX_VALUE)));
                assertEquals("minus one", ids.getString("label", row(ids, -1L)));
                assertTrue(ids.rowOf(11L).isEmpty());
            }
            assertEquals("{\"golden\": true}\n", new String(img.content("golden/files/config.json").toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
    }

    /** The row of a key that the image holds: a miss means the key hash or the probe order changed. */
    private static long row(LookupTable t, Object key) {
        java.util.OptionalLong r = key instanceof String k ? t.rowOf(k) : t.rowOf((Long) key);
        assertTrue(r.isPresent(), "key " + key + " of " + t.source() + " is no longer found: the key hash or probe order changed");
        return r.getAsLong();
    }

    private static String describe(TensorEntry e) {
        return e.name() + " " + e.file() + " " + e.dtype() + " " + java.util.Arrays.toString(e.shape()) + " @" + e.offset() + "+" + e.length()
                + " crc " + (e.crc32c() == null ? "-" : String.format("%08x", e.crc32c()));
    }

    // What the image was written with (daxload 0.1.0, 2026-12-04); literals, never recomputed.
    private static final String EXPECTED_SHA256 = "7e137ef68b8a63c85f8233c32089e4c26c5336c2e91e1d9dacbf3afa86fd2a74";
    // (CRC32C of w.u8, w.bool and w.scalar checked against a bitwise CRC-32C outside this code base.)
    private static final List<String> EXPECTED_TENSORS = List.of(
            "w.f32 tensors/w.f32 F32 [2, 3] @57344+24 crc e77ebebb",
            "w.f16 tensors/w.f16 F16 [4] @53248+8 crc 204bc425",
            "w.bf16 tensors/w.bf16 BF16 [2] @45056+4 crc dbc1efc2",
            "w.i64 tensors/w.i64 I64 [3] @61440+24 crc aefee76f",
            "w.u8 tensors/w.u8 U8 [5] @69632+5 crc d4ab29ce",
            "w.bool tensors/w.bool BOOL [2] @49152+2 crc e2c3efa5",
            "w.scalar tensors/w.scalar F64 [] @65536+8 crc c8de07ea");
}

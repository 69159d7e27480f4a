package dev.daxload.golden;

import static org.junit.jupiter.api.Assertions.*;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.daxload.djl.onnx.internal.OrtFormKey;
import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
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
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
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
 * <tr><td>v5-model1-nocrc.daxfs</td><td>DAXFS v5, static</td><td>daxload-model/1, only its required fields: no crc32c,
 *     source, metadata, files or tables</td><td>none</td></tr>
 * <tr><td>v5-model1-ortform1.daxfs</td><td>DAXFS v5, static</td><td>daxload-model/1 and ONNX Runtime's optimized form
 *     daxload-ort-form/1 (ORT 1.21.1, amd64, AVX-512)</td><td>none</td></tr>
 * </table>
 */
class GoldenImagesTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
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

    /**
     * A manifest with only the fields the loader requires ({@code format}, {@code name}, {@code tensors}
     * without {@code crc32c}), as a writer other than pack-model would leave it; also a block-quantized
     * tensor (Q4_0: 32 values in 18 bytes) and an empty one.
     */
    @Test
    void v5Model1NoCrc() throws Exception {
        Path file = golden("v5-model1-nocrc.daxfs");
        assertEquals("401d349f1dc31ba09adf3083f500c306f74a1bc8ac87e9c2aaeeee0c98557cd4", sha256(Files.readAllBytes(file)),
                "the golden image itself changed: golden images are never rewritten; add a new one");
        try (DaxImage img = DaxImage.open(file)) {
            assertEquals(5, img.superblock().version());
            assertTrue(img.superblock().isStatic());
            ImageValidator.Result r = ImageValidator.validate(img.segment());
            assertTrue(r.sound(), r.problems().toString());
            String manifest = new String(img.content("plain/" + ModelManifest.FILE_NAME).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            assertEquals(NOCRC_MANIFEST, manifest.stripTrailing());
            assertEquals(1024, manifest.length(), "padded with spaces so that the second pack laid the files out as the first");
            try (ModelWeights w = ModelWeights.of(img, "plain")) {
                assertEquals(List.of(
                        "w.f32 tensors/w.f32 F32 [2, 2] @28672+16 crc -",
                        "w.i32 tensors/w.i32 I32 [3] @32768+12 crc -",
                        "w.q4_0 tensors/w.q4_0 Q4_0 [64] @36864+36 crc -",
                        "w.empty tensors/w.empty F32 [0, 4] @0+0 crc -"),
                        w.manifest().tensorsByName().values().stream().map(GoldenImagesTest::describe).toList());
                assertEquals(new com.google.gson.JsonObject(), w.manifest().source());
                assertEquals(new com.google.gson.JsonObject(), w.manifest().metadata());
                assertEquals(List.of(), w.manifest().files());
                assertEquals(List.of(), w.manifest().tables());
                for (var v : w.tensors().values()) {
                    assertFalse(v.hasChecksum(), v.name());
                }
                assertEquals(List.of(), w.verify(), "nothing to compare, nothing refused");
                MemorySegment f32 = w.tensor("w.f32").segment();
                assertArrayEquals(new float[] {-1.5f, 0f, 2.25f, 1e-3f}, f32.toArray(F32));
                assertArrayEquals(new int[] {-7, 0, 65536}, w.tensor("w.i32").segment().toArray(I32));
                assertEquals(DType.Q4_0, w.tensor("w.q4_0").dtype());
                byte[] q = w.tensor("w.q4_0").segment().toArray(ValueLayout.JAVA_BYTE);
                assertEquals(36, q.length);
                for (int i = 0; i < q.length; i++) {
                    assertEquals((byte) (i * 7 + 1), q[i], "w.q4_0[" + i + "]");
                }
                assertEquals(0, w.tensor("w.empty").byteSize());
                assertArrayEquals(new long[] {0, 4}, w.tensor("w.empty").shape());
            }
        }
    }

    /**
     * ONNX Runtime's optimized form as {@code pack-model --ort-prepack} wrote it on 2026-12-04 (ORT 1.21.1,
     * an AVX-512 x86-64): the key, its id (the directory name), the graph pointing into the image and
     * the prepacked blob in model.data, read on any machine. Y = Relu(X W + B) of a 16x16 W.
     */
    @Test
    void v5Model1OrtForm1() throws Exception {
        Path file = golden("v5-model1-ortform1.daxfs");
        assertEquals("b880764597fc14403c110f729f31f7ae92a42d9a5bf6c62346e11345ad71a05e", sha256(Files.readAllBytes(file)),
                "the golden image itself changed: golden images are never rewritten; add a new one");
        try (DaxImage img = DaxImage.open(file)) {
            assertEquals(5, img.superblock().version());
            ImageValidator.Result r = ImageValidator.validate(img.segment());
            assertTrue(r.sound(), r.problems().toString());
            try (ModelWeights w = ModelWeights.of(img, "tiny")) {
                assertEquals(List.of(
                        "W tensors/W F32 [16, 16] @45056+1024 crc 257da79f",
                        "B tensors/B F32 [16] @40960+64 crc 63d26e4e"),
                        w.manifest().tensorsByName().values().stream().map(GoldenImagesTest::describe).toList());
                assertEquals(List.of(), w.verify(), "every CRC32C matches");
                MemorySegment wt = w.tensor("W").segment();
                assertEquals(-0.75f, wt.getAtIndex(F32, 0), "W[0][0]");
                assertEquals(-0.5f, wt.getAtIndex(F32, 1), "W[0][1]");
                assertEquals(-0.25f, wt.getAtIndex(F32, 16), "W[1][0]");
                assertEquals(0.75f, wt.getAtIndex(F32, 6), "W[0][6]");
                assertEquals(0f, wt.getAtIndex(F32, 255), "W[15][15]");
                assertEquals(-1f, w.tensor("B").segment().getAtIndex(F32, 0), "B[0]");
                assertEquals(0.875f, w.tensor("B").segment().getAtIndex(F32, 15), "B[15]");
                assertEquals(List.of("files/model.onnx"), w.manifest().files());
            }

            List<OrtImageForm> forms = OrtImageForm.list(img, "tiny");
            assertEquals(1, forms.size(), forms.toString());
            OrtImageForm form = forms.get(0);
            assertEquals("tiny/ort/a7c513b522e04d32", form.dir());
            assertEquals(ORT_FORM_KEY, form.key());
            assertEquals("a7c513b522e04d32", form.key().id(), "the directory is named by the key's SHA-256");
            byte[] keyJson = img.content(form.dir() + "/" + OrtImageForm.KEY_FILE).toArray(ValueLayout.JAVA_BYTE);
            assertEquals(ORT_FORM_KEY_JSON, new String(keyJson, StandardCharsets.UTF_8));
            assertArrayEquals(keyJson, form.key().toJson(), "the key is written back byte for byte");

            byte[] graph = form.graph(img);
            assertEquals(655, graph.length);
            assertEquals("45e0656e74c25f7cdcee42f2034f1ca5e7621a820428408e61edc801b3900ac0", sha256(graph));
            String g = new String(graph, StandardCharsets.ISO_8859_1);
            assertTrue(g.contains(OrtImageForm.IMAGE_LINK), "external data named by the link to the image");
            assertTrue(g.contains("FusedGemm+1801702688651095984|54272;1024;0"), "the prepacked blob at its offset in the image");
            DaxInode data = form.data(img);
            assertEquals(2048, data.size());
            assertEquals(53248, img.absoluteOffset(data.dataOffset()), "model.data where the graph's offsets say");
            byte[] d = img.content(data).toArray(ValueLayout.JAVA_BYTE);
            assertEquals("1bc7743f216a97edf056d020b35c098a8c3f14e14f2e6cd996c6dfbfe8486d55", sha256(d));
            MemorySegment blob = img.segment().asSlice(54272, 1024);
            assertEquals(-0.75f, blob.getAtIndex(F32, 0));
            assertEquals(-0.5f, blob.getAtIndex(F32, 1));
        }
    }

    /**
     * The golden ORT form runs where it was made: same ORT version, processor features and optimization
     * level. Anywhere else the load plan must refuse it (its blobs are laid out for that processor), and
     * the inference is a named skip.
     */
    @Test
    void v5Model1OrtForm1RunsWhereItWasMade() throws Exception {
        Path file = golden("v5-model1-ortform1.daxfs");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtFormKey here = OrtFormKey.running(OrtLoadPlan.OPTIMIZATION);
        try (DaxImage img = DaxImage.open(file);
             OrtLoadPlan plan = OrtLoadPlan.prepare(img, file, "tiny", OrtLoadPlan.Source.IMAGE, false).confirm()) {
            if (!here.equals(ORT_FORM_KEY)) {
                assertFalse(plan.usesImageForm(), "a form made for " + ORT_FORM_KEY + " must not be used under " + here);
                Assumptions.abort("the golden ORT form was made for " + ORT_FORM_KEY + "; this machine is " + here
                        + ": checked that it is refused, ran nothing");
            }
            assertTrue(plan.usesImageForm());
            try (OrtSession.SessionOptions options = new OrtSession.SessionOptions();
                 OrtSession session = env.createSession(plan.graph().toString(), options)) {
                for (Map.Entry<float[], float[]> c : Map.of(
                        input(i -> (i - 5) / 16f), new float[] {0, 0, 0, 0, 0, 0, 0, 0, 0.15625f, 0, 0.5625f, 0.546875f, 0.3125f, 0.515625f, 0.609375f, 1.03125f},
                        input(i -> (10 - i) / 16f), new float[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0.328125f, 0.09375f, 0.515625f, 0.609375f, 0.8125f, 0.578125f, 0.5625f})
                        .entrySet()) {
                    try (OnnxTensor x = OnnxTensor.createTensor(env, new float[][] {c.getKey()});
                         OrtSession.Result out = session.run(Map.of("X", x))) {
                        assertArrayEquals(c.getValue(), ((float[][]) out.get(0).getValue())[0], "exact: every weight is a multiple of 1/4");
                    }
                }
            }
        }
    }

    private static float[] input(java.util.function.IntToDoubleFunction f) {
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) {
            x[i] = (float) f.applyAsDouble(i);
        }
        return x;
    }

    private static String sha256(byte[] bytes) throws java.security.NoSuchAlgorithmException {
        return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
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

    private static final String NOCRC_MANIFEST = """
            {
              "format": "daxload-model/1",
              "name": "plain",
              "tensors": [
                {"name": "w.f32", "file": "tensors/w.f32", "dtype": "F32", "shape": [2,2], "offset": 28672, "length": 16},
                {"name": "w.i32", "file": "tensors/w.i32", "dtype": "I32", "shape": [3], "offset": 32768, "length": 12},
                {"name": "w.q4_0", "file": "tensors/w.q4_0", "dtype": "Q4_0", "shape": [64], "offset": 36864, "length": 36},
                {"name": "w.empty", "file": "tensors/w.empty", "dtype": "F32", "shape": [0,4], "offset": 0, "length": 0}
              ]
            }""";
    private static final OrtFormKey ORT_FORM_KEY = new OrtFormKey("1.21.1", "amd64", List.of("avx", "avx2", "avx512_bf16",
            "avx512_vnni", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "avx_vnni", "f16c", "fma", "sse4_1", "sse4_2", "ssse3"),
            "ALL_OPT");
    private static final String ORT_FORM_KEY_JSON = "{\"format\":\"daxload-ort-form/1\",\"ort\":\"1.21.1\",\"arch\":\"amd64\",\"isa\":"
            + "[\"avx\",\"avx2\",\"avx512_bf16\",\"avx512_vnni\",\"avx512bw\",\"avx512cd\",\"avx512dq\",\"avx512f\",\"avx512vl\","
            + "\"avx_vnni\",\"f16c\",\"fma\",\"sse4_1\",\"sse4_2\",\"ssse3\"],\"optimization\":\"ALL_OPT\"}\n";

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

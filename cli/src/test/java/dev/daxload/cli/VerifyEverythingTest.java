package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.cli.DaxloadCliTest.Run;
import dev.daxload.image.internal.DaxfsLayout;
import dev.daxload.reliability.ImagePatch;
import dev.daxload.table.TableLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.6 and issue 9 (integrity): {@code verify} checks everything a loader reads, tensor
 * checksums included by default, and fails on every corruption a loader would meet.
 */
class VerifyEverythingTest {
    @TempDir Path tmp;
    Path image;

    /** A little safetensors file written by hand: two F32 tensors. */
    static Path safetensors(Path dir) throws Exception {
        byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}"
                .getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 12).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).putFloat(1f).putFloat(2f).putFloat(3f);
        Path f = dir.resolve("model.safetensors");
        Files.write(f, b.array());
        return f;
    }

    @BeforeEach
    void pack() throws Exception {
        Path vocab = tmp.resolve("vocab.csv");
        Files.writeString(vocab, "token,id\nhello,1\nworld,2\nagain,3\n");
        image = tmp.resolve("m.daxfs");
        Run r = DaxloadCliTest.run("pack-model", "-q", "--name", "m", safetensors(tmp).toString(),
                "--table", "vocab=" + vocab + ":key=token", "-o", image.toString());
        assertEquals(0, r.code(), r.err());
        Run ok = DaxloadCliTest.run("verify", image.toString());
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("2 tensor checksums") && ok.out().contains("1 tables"), ok.out());
    }

    void assertRefused(String... expected) {
        Run r = DaxloadCliTest.run("verify", image.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        for (String e : expected) {
            assertTrue(r.err().contains(e), () -> "expected '" + e + "' in: " + r.err());
        }
    }

    @Test
    void aTensorOverwrittenInPlaceFailsByDefaultAndNoChecksumsSkipsIt() throws Exception {
        ImagePatch.Where w = ImagePatch.where(image, "m/tensors/w");
        ImagePatch.write(image, w.offset(), new byte[] {0, 0, (byte) 0xc0, 0x7f}); // NaN
        assertRefused("'w'", "CRC32C");
        Run skipped = DaxloadCliTest.run("verify", "--no-checksums", image.toString());
        assertEquals(0, skipped.code(), skipped.err());
        assertFalse(skipped.out().contains("checksums"), skipped.out());
    }

    @Test
    void tableJsonThatIsNotJson() throws Exception {
        ImagePatch.replaceFile(image, "m/tables/vocab/table.json", "{\"format\": 'daxload-table/1' /* */}".getBytes(StandardCharsets.UTF_8));
        assertRefused("table.json", "not valid JSON");
    }

    @Test
    void tableJsonWithAByteOrderMark() throws Exception {
        byte[] json = ImagePatch.read(image, "m/tables/vocab/table.json");
        byte[] bom = new byte[json.length + 3];
        bom[0] = (byte) 0xef;
        bom[1] = (byte) 0xbb;
        bom[2] = (byte) 0xbf;
        System.arraycopy(json, 0, bom, 3, json.length);
        ImagePatch.replaceFile(image, "m/tables/vocab/table.json", bom);
        assertRefused("byte order mark");
    }

    @Test
    void decreasingStringOffsets() throws Exception {
        ImagePatch.Where w = ImagePatch.where(image, "m/tables/vocab/" + TableLayout.offsetsFile(0));
        long second = ImagePatch.getU64(image, w.offset() + 16);
        ImagePatch.putU64(image, w.offset() + 8, second + 1); // offset 1 past offset 2
        assertRefused("column 'token' offset");
    }

    @Test
    void indexSlotPastTheRows() throws Exception {
        ImagePatch.Where w = ImagePatch.where(image, "m/tables/vocab/" + TableLayout.SLOTS_FILE);
        byte[] slots = ImagePatch.read(image, "m/tables/vocab/" + TableLayout.SLOTS_FILE);
        int at = 0;
        while (slots[at] == 0) {
            at += 4; // I32 slots: find one in use
        }
        ImagePatch.putU32(image, w.offset() + at, 99);
        assertRefused("index slot " + at / 4, "holds 99");
    }

    @Test
    void superblockOfABranchingImage() throws Exception {
        ImagePatch.putU32(image, DaxfsLayout.SB_BRANCH_TABLE_ENTRIES, 256);
        assertRefused("branch_table_entries is 256");
    }

    @Test
    void superblockFlagsAllSet() throws Exception {
        ImagePatch.putU32(image, DaxfsLayout.SB_FLAGS, 0xffffffff);
        assertRefused("super.flags", "0xffffffff");
    }

    @Test
    void totalSizeOfOneBlock() throws Exception {
        ImagePatch.putU64(image, DaxfsLayout.SB_TOTAL_SIZE, 4096);
        assertRefused("total_size is 4096");
    }

    @Test
    void baseDataOffsetZero() throws Exception {
        ImagePatch.putU64(image, DaxfsLayout.STATIC_BASE_OFFSET + DaxfsLayout.BASE_DATA_OFFSET, 0);
        assertRefused("base.data_offset");
    }

    @Test
    void manifestListingASideFileThatIsNotAPlainFile() throws Exception {
        byte[] original = ImagePatch.read(image, "m/manifest.json");
        String json = new String(original, StandardCharsets.UTF_8);
        assertTrue(json.contains("\"files\": []") || json.contains("\"files\":[]"), json);
        for (String bad : new String[] {"files/.", "files/../manifest.json", "files/missing", "tensors/w"}) {
            String h = json.replaceFirst("\"files\":\\s*\\[\\]", "\"files\": [\"" + bad + "\"]");
            ImagePatch.replaceFile(image, "m/manifest.json", h.getBytes(StandardCharsets.UTF_8));
            assertRefused("files entry '" + bad + "'");
        }
    }

    @Test
    void manifestWithACommentSingleQuotesOrAByteOrderMark() throws Exception {
        byte[] original = ImagePatch.read(image, "m/manifest.json");
        String json = new String(original, StandardCharsets.UTF_8);
        String[] hostile = {"/* c */" + json, json.replaceFirst("\"format\"", "'format'"), "\ufeff" + json};
        for (String h : hostile) {
            ImagePatch.replaceFile(image, "m/manifest.json", h.getBytes(StandardCharsets.UTF_8));
            assertRefused("m/manifest.json");
        }
        ImagePatch.replaceFile(image, "m/manifest.json", original);
        assertEquals(0, DaxloadCliTest.run("verify", image.toString()).code());
    }
}

package dev.daxload.packager.source;

import static dev.daxload.packager.source.Fixtures.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufReaderTest {
    private static final int MAGIC = 0x46554747;
    private static final int UINT8 = 0;
    private static final int INT32 = 5;
    private static final int UINT32 = 4;
    private static final int FLOAT32 = 6;
    private static final int STRING = 8;
    private static final int ARRAY = 9;
    private static final int UINT64 = 10;

    @TempDir
    Path dir;

    private final GgufReader reader = new GgufReader();

    /** A GGUF v3 header with {@code nTensors} and {@code nKv}, then whatever {@code body} writes. */
    private Path gguf(String name, long nTensors, long nKv, Consumer<Le> body) throws IOException {
        Le g = new Le().u32(MAGIC).u32(3).u64(nTensors).u64(nKv);
        body.accept(g);
        return g.write(dir.resolve(name));
    }

    private static void tensor(Le g, String name, int type, long offset, long... ne) {
        g.str(name).u32(ne.length);
        for (long d : ne) {
            g.u64(d);
        }
        g.u32(type).u64(offset);
    }

    @Test
    void readsTensorsShapesAndTypedMetadata() throws IOException {
        Path p = gguf("ok.gguf", 2, 5, g -> {
            g.str("general.alignment").u32(UINT32).u32(64);
            g.str("a.u64").u32(UINT64).u64(-1L);
            g.str("a.nan").u32(FLOAT32).f32(Float.NaN);
            g.str("a.nested").u32(ARRAY).u32(ARRAY).u64(2)
                    .u32(INT32).u64(2).u32(1).u32(-2)
                    .u32(INT32).u64(1).u32(3);
            g.str("a.strings").u32(ARRAY).u32(STRING).u64(2).str("x").str("");
            tensor(g, "q", 12, 0, 256, 2); // Q4_K: 2 blocks of 144 bytes
            tensor(g, "f", 0, 320, 3, 2, 1); // F32 [1,2,3] -> 24 bytes
            g.align(64);
            for (int i = 0; i < 320 + 24; i++) {
                g.u8(i);
            }
        });
        SourceModel m = reader.read(p);
        assertEquals("Q4_K", m.tensors().get(0).dtype());
        assertArrayEquals(new long[] {2, 256}, m.tensors().get(0).shape());
        assertEquals(288, m.tensors().get(0).content().size());
        assertEquals("F32", m.tensors().get(1).dtype());
        assertArrayEquals(new long[] {1, 2, 3}, m.tensors().get(1).shape(), "innermost-first dims reversed");
        byte[] f = Fixtures.bytes(m.tensors().get(1).content());
        assertEquals((byte) 320, f[0], "second tensor starts 320 bytes into the data section");
        JsonObject md = m.metadata();
        assertEquals("UINT64", md.getAsJsonObject("a.u64").get("type").getAsString());
        assertEquals(new BigInteger("18446744073709551615"), md.getAsJsonObject("a.u64").get("value").getAsBigInteger());
        assertEquals("NaN", md.getAsJsonObject("a.nan").get("value").getAsString());
        assertEquals("ARRAY[ARRAY]", md.getAsJsonObject("a.nested").get("type").getAsString());
        JsonArray nested = md.getAsJsonObject("a.nested").getAsJsonArray("value");
        assertEquals(-2, nested.get(0).getAsJsonArray().get(1).getAsInt());
        assertEquals(3, nested.get(1).getAsJsonArray().get(0).getAsInt());
        assertEquals("ARRAY[STRING]", md.getAsJsonObject("a.strings").get("type").getAsString());
        assertEquals("", md.getAsJsonObject("a.strings").getAsJsonArray("value").get(1).getAsString());
    }

    @Test
    void longArraysAreCutInMetadataButFullyChecked() throws IOException {
        Path p = gguf("long.gguf", 0, 2, g -> {
            g.str("nums").u32(ARRAY).u32(UINT32).u64(10);
            for (int i = 0; i < 10; i++) {
                g.u32(i * 10);
            }
            g.str("strs").u32(ARRAY).u32(STRING).u64(5);
            for (int i = 0; i < 5; i++) {
                g.str("s" + i);
            }
        });
        SourceModel m = new GgufReader(3).read(p);
        JsonObject nums = m.metadata().getAsJsonObject("nums");
        assertEquals(3, nums.getAsJsonArray("value").size());
        assertEquals(20, nums.getAsJsonArray("value").get(2).getAsInt());
        assertEquals(10, nums.get("count").getAsLong());
        assertTrue(nums.get("truncated").getAsBoolean());
        assertEquals(5, m.metadata().getAsJsonObject("strs").get("count").getAsLong());
        assertFalse(new GgufReader().read(p).metadata().getAsJsonObject("nums").has("truncated"));

        // the same file with the last (skipped) string running past the end must still be refused
        Path bad = gguf("longbad.gguf", 0, 1, g -> {
            g.str("strs").u32(ARRAY).u32(STRING).u64(5);
            for (int i = 0; i < 4; i++) {
                g.str("s" + i);
            }
            g.u64(1000).ascii("short");
        });
        refused(new GgufReader(2), bad, "\"strs\"", "string length 1000");
    }

    @Test
    void hugeCountsAndLengthsAreRefusedWithoutAllocating() throws IOException {
        refused(reader, gguf("nt.gguf", 1L << 60, 0, g -> g.zeros(64)), "tensor_count = 1152921504606846976");
        refused(reader, gguf("nkv.gguf", 0, -1L, g -> g.zeros(64)), "metadata_kv_count = 18446744073709551615");
        refused(reader, gguf("arr.gguf", 0, 1, g -> g.str("k").u32(ARRAY).u32(UINT8).u64(1L << 62).zeros(16)),
                "\"k\"", "length 4611686018427387904");
        refused(reader, gguf("arrs.gguf", 0, 1, g -> g.str("k").u32(ARRAY).u32(STRING).u64(1L << 40).zeros(16)),
                "\"k\"", "cannot fit");
        refused(reader, gguf("str.gguf", 0, 1, g -> g.str("k").u32(STRING).u64(1L << 40).ascii("abc")),
                "\"k\"", "string length 1099511627776");
        refused(reader, gguf("key.gguf", 0, 1, g -> g.u64(1L << 40).ascii("abc").zeros(16)), "key of metadata entry #0");
        refused(reader, gguf("name.gguf", 1, 0, g -> g.u64(-2L).zeros(32)), "name of tensor #0");
    }

    @Test
    void malformedValuesAreRefused() throws IOException {
        refused(reader, gguf("type.gguf", 0, 1, g -> g.str("k").u32(13).u32(0)), "\"k\"", "not a GGUF type");
        refused(reader, gguf("deep.gguf", 0, 1, g -> {
            g.str("k").u32(ARRAY);
            for (int i = 0; i < 20; i++) {
                g.u32(ARRAY).u64(1);
            }
            g.u32(UINT8).u64(0);
        }), "deeper than");
        refused(reader, gguf("dupkey.gguf", 0, 2, g -> g.str("k").u32(UINT8).u8(1).str("k").u32(UINT8).u8(2)),
                "\"k\" appears twice");
        refused(reader, gguf("align.gguf", 0, 1, g -> g.str("general.alignment").u32(UINT32).u32(48)),
                "not a power of two");
        refused(reader, gguf("align0.gguf", 0, 1, g -> g.str("general.alignment").u32(UINT32).u32(0)),
                "not a power of two");
        refused(reader, gguf("alignt.gguf", 0, 1, g -> g.str("general.alignment").u32(UINT64).u64(32)),
                "must be UINT32");
        refused(reader, gguf("badname.gguf", 0, 1, g -> g.u64(2).u8(0xC3).u8(0x28).u32(UINT8).u8(0)), "UTF-8");
    }

    @Test
    void tensorInfosAreChecked() throws IOException {
        refused(reader, gguf("dims.gguf", 1, 0, g -> tensor(g, "t", 0, 0, 1, 1, 1, 1, 1)), "\"t\"", "at most 4");
        refused(reader, gguf("ovf.gguf", 1, 0, g -> tensor(g, "t", 0, 0, 1L << 40, 1L << 40)), "\"t\"", "overflow");
        refused(reader, gguf("negdim.gguf", 1, 0, g -> tensor(g, "t", 0, 0, -1L)), "\"t\"", "too large");
        refused(reader, gguf("retired.gguf", 1, 0, g -> tensor(g, "t", 4, 0, 32)), "\"t\"", "type id 4");
        refused(reader, gguf("unknown.gguf", 1, 0, g -> tensor(g, "t", 1000, 0, 32)), "type id 1000");
        refused(reader, gguf("block.gguf", 1, 0, g -> {
            tensor(g, "t", 2, 0, 33);
            g.align(32).zeros(64);
        }), "\"t\"", "not a multiple of the Q4_0 block size 32");
        refused(reader, gguf("unaligned.gguf", 1, 0, g -> {
            tensor(g, "t", 0, 4, 1);
            g.align(32).zeros(64);
        }), "\"t\"", "not a multiple of the alignment 32");
        refused(reader, gguf("past.gguf", 1, 0, g -> {
            tensor(g, "t", 0, 0, 100);
            g.align(32).zeros(64);
        }), "\"t\"", "past the end of the file");
        refused(reader, gguf("pastoff.gguf", 1, 0, g -> {
            tensor(g, "t", 0, 1L << 62, 1);
            g.align(32).zeros(64);
        }), "\"t\"", "past the end of the file");
        refused(reader, gguf("overlap.gguf", 2, 0, g -> {
            tensor(g, "a", 0, 0, 16);
            tensor(g, "b", 0, 32, 16);
            g.align(32).zeros(128);
        }), "\"b\"", "overlaps tensor \"a\"");
        refused(reader, gguf("dupname.gguf", 2, 0, g -> {
            tensor(g, "a", 0, 0, 8);
            tensor(g, "a", 0, 32, 8);
            g.align(32).zeros(128);
        }), "\"a\" appears twice");
    }

    @Test
    void versionsAndByteOrder() throws IOException {
        refused(reader, new Le().u32(MAGIC).u32(1).u32(0).u32(0).write(dir.resolve("v1.gguf")), "version 1");
        refused(reader, new Le().u32(MAGIC).u32(4).u64(0).u64(0).write(dir.resolve("v4.gguf")), "version 4");
        assertEquals(0, reader.read(new Le().u32(MAGIC).u32(Integer.reverseBytes(3)).u64(0).u64(0)
                .write(dir.resolve("be.gguf"))).tensors().size(), "an empty big-endian GGUF");
        // in a big-endian file the counts are big-endian too: a little-endian 1 is 2^56
        refused(reader, new Le().u32(MAGIC).u32(Integer.reverseBytes(3)).u64(1).u64(0).write(dir.resolve("be-count.gguf")),
                "tensor_count = 72057594037927936 cannot fit");
        refused(reader, new Le().ascii("GGML").u32(3).write(dir.resolve("magic.gguf")), "not a GGUF file");
        refused(reader, new Le().u32(MAGIC).u32(2).u64(0).write(dir.resolve("cut.gguf")), "metadata_kv_count");
        assertEquals(0, reader.read(new Le().u32(MAGIC).u32(2).u64(0).u64(0).write(dir.resolve("empty.gguf")))
                .tensors().size());
    }
}

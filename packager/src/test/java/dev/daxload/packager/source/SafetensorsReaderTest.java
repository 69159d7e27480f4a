package dev.daxload.packager.source;

import static dev.daxload.packager.source.Fixtures.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsReaderTest {
    @TempDir
    Path dir;

    private final SafetensorsReader reader = new SafetensorsReader();
    private final ShardedSafetensorsReader sharded = new ShardedSafetensorsReader();

    private Path st(String name, String json, int dataLength) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        byte[] data = new byte[dataLength];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + 1);
        }
        return new Le().u64(h.length).bytes(h).bytes(data).write(dir.resolve(name));
    }

    @Test
    void readsAValidFileWithMetadataInFileOrder() throws IOException {
        Path p = st("ok.safetensors", """
                {"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},
                 "__metadata__":{"format":"pt"},
                 "a":{"dtype":"U8","shape":[2,4],"data_offsets":[0,8]}}""", 16);
        SourceModel m = reader.read(p);
        assertEquals(List.of("a", "b"), m.tensors().stream().map(SourceTensor::name).toList());
        assertEquals("pt", m.metadata().get("format").getAsString());
        assertArrayEquals(new long[] {2, 4}, m.tensors().get(0).shape());
        byte[] b = Fixtures.bytes(m.tensors().get(1).content());
        assertEquals(8, b.length);
        assertEquals((byte) (8 * 7 + 1), b[0], "tensor b starts at data byte 8");
    }

    @Test
    void subByteTypesMustEndOnAByte() throws IOException {
        assertEquals(1, reader.read(st("f4.safetensors", "{\"x\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1))
                .tensors().size());
        refused(reader, st("f4odd.safetensors", "{\"x\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2),
                "\"x\"", "byte boundary");
    }

    @Test
    void headerLengthIsBoundedBeforeAnythingIsAllocated() throws IOException {
        Path huge = new Le().u64(Long.MIN_VALUE + 5).ascii("{}").write(dir.resolve("neg.safetensors"));
        refused(reader, huge, "header length", "limit");
        Path cap = new Le().u64(SafetensorsReader.MAX_HEADER + 1).ascii("{}").write(dir.resolve("cap.safetensors"));
        refused(reader, cap, "at offset 0", "limit");
        Path past = new Le().u64(1000).ascii("{}").write(dir.resolve("past.safetensors"));
        refused(reader, past, "runs past the end of the file");
        refused(reader, new Le().u32(2).write(dir.resolve("short.safetensors")), "8-byte header length");
    }

    @Test
    void headerMustBeStrictUtf8Json() throws IOException {
        byte[] bad = {'{', '"', (byte) 0xC3, '"', ':', '1', '}'};
        refused(reader, new Le().u64(bad.length).bytes(bad).write(dir.resolve("utf8.safetensors")), "UTF-8");
        refused(reader, st("json.safetensors", "{\"a\":{\"dtype\":\"F32\",", 0), "JSON");
        refused(reader, st("trail.safetensors", "{} {}", 0), "after the top-level");
        refused(reader, st("single.safetensors", "{'a':1}", 0), "JSON");
        refused(reader, st("array.safetensors", "[]", 0), "must be an object");
        refused(reader, st("deep.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":"
                + "[".repeat(5000) + "]".repeat(5000) + "}}", 4), "JSON");
    }

    @Test
    void offsetsAndSizesAreChecked() throws IOException {
        refused(reader, st("past.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8),
                "\"a\"", "past the end");
        refused(reader, st("rev.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
                "\"a\"", "end before they begin");
        refused(reader, st("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                "\"a\"", "needs 12");
        refused(reader, st("gap.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8),
                "belong to no tensor");
        refused(reader, st("tail.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 8),
                "trailing bytes");
        refused(reader, st("overlap.safetensors", """
                {"a":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},
                 "b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}""", 8), "overlaps tensor \"a\"");
        refused(reader, st("huge.safetensors",
                "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 1), "too large");
    }

    @Test
    void shapesAndDtypesAreChecked() throws IOException {
        refused(reader, st("ovf.safetensors",
                "{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,8]}}", 8), "overflows");
        refused(reader, st("ovf2.safetensors",
                "{\"a\":{\"dtype\":\"F64\",\"shape\":[1152921504606846976],\"data_offsets\":[0,8]}}", 8), "overflows");
        refused(reader, st("neg.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0),
                "non-negative integer");
        refused(reader, st("frac.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1),
                "non-negative integer");
        refused(reader, st("dtype.safetensors", "{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16),
                "unknown dtype \"F128\"");
        refused(reader, st("missing.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), "lacks data_offsets");
        refused(reader, st("three.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1),
                "[begin, end]");
    }

    @Test
    void duplicatesAreRefused() throws IOException {
        refused(reader, st("dup.safetensors", """
                {"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},
                 "a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2), "\"a\" is listed twice");
        refused(reader, st("dupmeta.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "listed twice");
        refused(reader, st("dupfield.safetensors",
                "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "duplicate key");
        refused(reader, st("metatype.safetensors", "{\"__metadata__\":{\"k\":1}}", 0), "must be a string");
    }

    // ---- sharded ----

    private Path shard(String name, String... tensors) throws IOException {
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        int off = 0;
        for (String t : tensors) {
            json.append(",\"").append(t).append("\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[").append(off)
                    .append(',').append(off + 4).append("]}");
            off += 4;
        }
        return st(name, json.append('}').toString(), off);
    }

    private Path index(String weightMap) throws IOException {
        return Files.writeString(dir.resolve(ShardedSafetensorsReader.INDEX),
                "{\"metadata\":{\"total_size\":16},\"weight_map\":{" + weightMap + "}}");
    }

    @Test
    void shardedModelReadsEachShardOnce() throws IOException {
        shard("m-1.safetensors", "a", "b");
        shard("m-2.safetensors", "c");
        index("\"a\":\"m-1.safetensors\",\"c\":\"m-2.safetensors\",\"b\":\"m-1.safetensors\"");
        SourceModel m = sharded.read(dir);
        assertEquals(List.of("a", "b", "c"), m.tensors().stream().map(SourceTensor::name).toList());
        assertEquals(3, m.files().size());
        assertEquals(16, m.metadata().get("total_size").getAsInt());
        assertEquals("pt", m.metadata().get("format").getAsString());
        assertTrue(sharded.accepts(dir));
    }

    @Test
    void shardedModelMustAgreeWithItsIndex() throws IOException {
        shard("m-1.safetensors", "a", "b");
        shard("m-2.safetensors", "b", "c");
        Path idx = index("\"a\":\"m-1.safetensors\",\"b\":\"m-1.safetensors\",\"c\":\"m-2.safetensors\"");
        refused(sharded, idx, "\"b\"", "maps it to m-1.safetensors");

        shard("m-2.safetensors", "c");
        index("\"a\":\"m-1.safetensors\",\"c\":\"m-2.safetensors\"");
        SourceFormatException e = org.junit.jupiter.api.Assertions.assertThrows(SourceFormatException.class,
                () -> sharded.read(dir));
        assertTrue(e.getMessage().contains("\"b\" is in this shard but not in the weight_map"), e.getMessage());

        index("\"a\":\"m-1.safetensors\",\"b\":\"m-1.safetensors\",\"c\":\"m-2.safetensors\",\"d\":\"m-2.safetensors\"");
        refused(sharded, idx, "\"d\"", "does not contain it");

        index("\"a\":\"../m-1.safetensors\"");
        refused(sharded, idx, "not a file inside");
        index("\"a\":\"/etc/passwd\"");
        refused(sharded, idx, "not a file inside");
        index("\"a\":\"m-9.safetensors\"");
        refused(sharded, idx, "does not exist");
        Files.writeString(idx, "{\"weight_map\":{\"a\":\"m-1.safetensors\",\"a\":\"m-1.safetensors\"}}");
        refused(sharded, idx, "twice");
        Files.writeString(idx, "{\"metadata\":{}}");
        refused(sharded, idx, "no weight_map");
    }
}

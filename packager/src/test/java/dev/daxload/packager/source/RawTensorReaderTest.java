package dev.daxload.packager.source;

import static dev.daxload.packager.source.Fixtures.refused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RawTensorReaderTest {
    @TempDir
    Path dir;

    private final RawTensorReader reader = new RawTensorReader();
    private Path spec;

    @BeforeEach
    void files() throws IOException {
        byte[] data = new byte[1024];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        Files.write(dir.resolve("w.bin"), data);
        spec = dir.resolve(RawTensorReader.SPEC);
    }

    private Path spec(String tensors) throws IOException {
        return Files.writeString(spec, "{\"format\":\"daxload-raw/1\",\"metadata\":{\"k\":[1,2]},\"tensors\":[" + tensors + "]}");
    }

    @Test
    void readsRangesOfRawFiles() throws IOException {
        spec("""
                {"name":"a","file":"w.bin","dtype":"F32","shape":[2,3]},
                {"name":"b","file":"w.bin","dtype":"Q8_0","shape":[2,32],"offset":100},
                {"name":"c","file":"w.bin","dtype":"U16","shape":[2],"offset":200,"byte_order":"big"}""");
        SourceModel m = reader.read(dir);
        assertEquals("raw", m.format());
        assertEquals(2, m.metadata().getAsJsonArray("k").get(1).getAsInt());
        assertArrayEquals(new long[] {2, 3}, m.tensors().get(0).shape());
        assertEquals(24, m.tensors().get(0).content().size());
        assertEquals(68, m.tensors().get(1).content().size(), "two Q8_0 blocks of 34 bytes");
        assertEquals(100, Fixtures.bytes(m.tensors().get(1).content())[0]);
        ByteBuffer c = ByteBuffer.wrap(Fixtures.bytes(m.tensors().get(2).content())).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((200 << 8) | 201, c.getShort(0) & 0xFFFF, "big-endian U16 200,201 swapped");
        assertTrue(reader.accepts(dir));
        assertEquals(2, m.files().size());
    }

    @Test
    void refusals() throws IOException {
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"F32\",\"shape\":[300]}");
        refused(reader, spec, "\"a\"", "run past the end of w.bin");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[1],\"offset\":1024}");
        refused(reader, spec, "run past the end");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[8]},"
                + "{\"name\":\"b\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[8],\"offset\":4}");
        refused(reader, spec, "\"b\" overlaps tensor \"a\"");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[1]},"
                + "{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[1],\"offset\":4}");
        refused(reader, spec, "listed twice");
        spec("{\"name\":\"a\",\"file\":\"../w.bin\",\"dtype\":\"U8\",\"shape\":[1]}");
        refused(reader, spec, "relative path inside");
        spec("{\"name\":\"a\",\"file\":\"nope.bin\",\"dtype\":\"U8\",\"shape\":[1]}");
        refused(reader, spec, "does not exist");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"U8\",\"shape\":[1],\"ofset\":4}");
        refused(reader, spec, "unknown field \"ofset\"");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"X9\",\"shape\":[1]}");
        refused(reader, spec, "unknown dtype \"X9\"");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"Q4_K\",\"shape\":[100]}");
        refused(reader, spec, "block size 256");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"Q4_0\",\"shape\":[32],\"byte_order\":\"big\"}");
        refused(reader, spec, "cannot be byte-swapped");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"F64\",\"shape\":[4611686018427387904,4]}");
        refused(reader, spec, "overflow");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"F64\",\"shape\":[-4]}");
        refused(reader, spec, "non-negative integer");
        spec("{\"name\":\"a\",\"file\":\"w.bin\",\"dtype\":\"F64\"}");
        refused(reader, spec, "needs name, file, dtype and shape");
        Files.writeString(spec, "{\"format\":\"other/2\",\"tensors\":[]}");
        refused(reader, spec, "expected \"daxload-raw/1\"");
        Files.writeString(spec, "{\"tensors\":[]");
        refused(reader, spec, "not valid JSON");
    }
}

package dev.daxload.packager.source;

import static dev.daxload.packager.source.OnnxTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.*;

import com.google.protobuf.ByteString;
import dev.daxload.packager.source.onnxproto.TensorProto;
import dev.daxload.reliability.ChildJvm;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.4, counts: sources whose tensor or member counts would not fit a 64 MB heap end in a
 * message naming the file and the count, checked before the reader allocates for them; a source just
 * inside the budget packs.
 */
class DeclaredCountBudgetTest {
    @TempDir Path tmp;

    ChildJvm.Result pack(Path source) throws Exception {
        return ChildJvm.daxload(tmp, Duration.ofSeconds(20), "pack-model", "-q", "--name", "m", source.toString(), "-o", tmp.resolve("out.daxfs").toString());
    }

    void assertRefused(Path source, String field) throws Exception {
        ChildJvm.Result r = pack(source);
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.err().contains(source.getFileName().toString()) && r.err().contains(field) && r.err().contains("-Xmx"), r.err());
        assertFalse(Files.exists(tmp.resolve("out.daxfs")));
    }

    @Test
    void aGgufOfAHundredThousandTensors() throws Exception {
        Path f = tmp.resolve("many.gguf");
        try (OutputStream o = new java.io.BufferedOutputStream(Files.newOutputStream(f))) {
            ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            o.write(b.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(100_000).putLong(0).array(), 0, 24);
            for (int i = 0; i < 100_000; i++) {
                byte[] name = Integer.toHexString(i).getBytes(StandardCharsets.US_ASCII);
                b.clear();
                b.putLong(name.length).put(name).putInt(1).putLong(1).putInt(0).putLong(0);
                o.write(b.array(), 0, b.position());
            }
        }
        assertRefused(f, "tensor_count = 100000");
    }

    @Test
    void anNpzOfTwentyThousandMembers() throws Exception {
        Path f = tmp.resolve("many.npz");
        byte[] header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }".getBytes(StandardCharsets.US_ASCII);
        ByteBuffer npy = ByteBuffer.allocate(128).order(ByteOrder.LITTLE_ENDIAN);
        npy.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0).putShort((short) 118).put(header);
        while (npy.position() < 127) {
            npy.put((byte) ' ');
        }
        npy.put((byte) '\n');
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(f))) {
            z.setMethod(ZipOutputStream.STORED);
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(npy.array());
            for (int i = 0; i < 20_000; i++) {
                ZipEntry e = new ZipEntry("a" + i + ".npy");
                e.setSize(128);
                e.setCompressedSize(128);
                e.setCrc(crc.getValue());
                z.putNextEntry(e);
                z.write(npy.array());
                z.closeEntry();
            }
        }
        assertRefused(f, "zip members = 20000");
    }

    @Test
    void anOnnxModelOfTenThousandInitializers() throws Exception {
        TensorProto.Builder[] inits = new TensorProto.Builder[10_000];
        for (int i = 0; i < inits.length; i++) {
            inits[i] = tensor("i" + i, 1, 1).setRawData(ByteString.copyFrom(new byte[4]));
        }
        Path f = OnnxTestSupport.write(tmp.resolve("many.onnx"), OnnxTestSupport.model(inits));
        assertRefused(f, "graph.initializer count");
    }

    @Test
    void eightThousandTensorsStillPackIn64MB() throws Exception {
        StringBuilder h = new StringBuilder("{");
        for (int i = 0; i < 8000; i++) {
            h.append(i == 0 ? "" : ",").append("\"model.layers.").append(i).append(".self_attn.q_proj.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[")
                    .append(16 * i).append(',').append(16 * i + 16).append("]}");
        }
        byte[] header = h.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 16 * 8000).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        Path f = tmp.resolve("t8k.safetensors");
        Files.write(f, b.array());
        ChildJvm.Result r = pack(f);
        assertEquals(0, r.code(), r.err());
        ChildJvm.Result v = ChildJvm.daxload(tmp, Duration.ofSeconds(20), "verify", tmp.resolve("out.daxfs").toString());
        assertEquals(0, v.code(), v.err());
        assertTrue(v.out().contains("8000 tensor checksums"), v.out());
    }
}

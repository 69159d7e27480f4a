package dev.daxload.golden;

import dev.daxload.cli.Daxload;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the golden images that {@code loader}'s {@code GoldenImagesTest} reads forever after. Run once
 * per new image format version or manifest/table schema, with a new file name, and commit the result:
 * an old golden image is never rewritten (Lucene's back-compat indexes are the model).
 *
 * <pre>{@code
 * mvn -B -q -pl cli -am test-compile -Dmaven.javadoc.skip=true
 * mvn -B -q -pl cli dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt
 * java --enable-native-access=ALL-UNNAMED -cp cli/target/test-classes:cli/target/classes:$(cat /tmp/cp.txt) \
 *     dev.daxload.golden.MakeGoldenImages loader/src/test/resources/golden
 * }</pre>
 *
 * The inputs are made here from literals: a safetensors file with one tensor of each dtype family,
 * a CSV table with a string key and one with an integer key, and a side file.
 */
public final class MakeGoldenImages {
    private MakeGoldenImages() {}

    public static void main(String[] args) throws Exception {
        Path out = Files.createDirectories(Path.of(args[0]));
        Path in = Files.createTempDirectory("daxload-golden");
        Path st = in.resolve("model.safetensors");
        Files.write(st, safetensors());
        Path words = Files.writeString(in.resolve("words.csv"), "word,id,score\nalpha,1,0.5\nbeta,2,-1.25\nключ,3,\n🙂,4,1e300\n");
        Path ids = Files.writeString(in.resolve("ids.csv"), "id,label\n10,ten\n-1,minus one\n9223372036854775807,max\n");
        Path note = Files.writeString(in.resolve("config.json"), "{\"golden\": true}\n");
        int rc = Daxload.run("pack-model", "--name", "golden", st.toString(), note.toString(),
                "--table", "words=" + words + ":key=word", "--table", "ids=" + ids + ":key=id",
                "-q", "-o", out.resolve("v5-model1-table1.daxfs").toString());
        if (rc != 0) {
            throw new IllegalStateException("pack-model exited " + rc);
        }
    }

    /** A safetensors file: F32 [2,3], F16 [4], BF16 [2], I64 [3], U8 [5], BOOL [2], F64 [] (a scalar). */
    static byte[] safetensors() {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"made_by\":\"MakeGoldenImages\"}");
        long at = 0;
        at = tensor(h, data, at, "w.f32", "F32", "[2,3]", le(24, b -> { for (int i = 0; i < 6; i++) b.putFloat(i * 1.5f - 2f); }));
        at = tensor(h, data, at, "w.f16", "F16", "[4]", le(8, b -> { b.putShort((short) 0x3c00); b.putShort((short) 0xc000); b.putShort((short) 0x7bff); b.putShort((short) 0x0001); }));
        at = tensor(h, data, at, "w.bf16", "BF16", "[2]", le(4, b -> { b.putShort((short) 0x3f80); b.putShort((short) 0xc2f7); }));
        at = tensor(h, data, at, "w.i64", "I64", "[3]", le(24, b -> { b.putLong(-1); b.putLong(Long.MAX_VALUE); b.putLong(42); }));
        at = tensor(h, data, at, "w.u8", "U8", "[5]", new byte[] {0, 1, 127, (byte) 128, (byte) 255});
        at = tensor(h, data, at, "w.bool", "BOOL", "[2]", new byte[] {1, 0});
        tensor(h, data, at, "w.scalar", "F64", "[]", le(8, b -> b.putDouble(Math.PI)));
        h.append('}');
        byte[] header = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        ByteBuffer file = ByteBuffer.allocate(8 + padded + data.size()).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(padded).put(header);
        for (int i = header.length; i < padded; i++) {
            file.put((byte) ' ');
        }
        file.put(data.toByteArray());
        return file.array();
    }

    private static long tensor(StringBuilder h, ByteArrayOutputStream data, long at, String name, String dtype, String shape, byte[] bytes) {
        h.append(",\"").append(name).append("\":{\"dtype\":\"").append(dtype).append("\",\"shape\":").append(shape)
                .append(",\"data_offsets\":[").append(at).append(',').append(at + bytes.length).append("]}");
        data.writeBytes(bytes);
        return at + bytes.length;
    }

    private static byte[] le(int size, java.util.function.Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        return b.array();
    }
}

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
 * mvn -B -q -pl cli -am package dependency:build-classpath -DskipTests -Dmaven.javadoc.skip=true -Djacoco.skip=true \
 *     -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --enable-native-access=ALL-UNNAMED -cp cli/target/test-classes:cli/target/classes:$(cat /tmp/cp.txt) \
 *     dev.daxload.golden.MakeGoldenImages loader/src/test/resources/golden
 * }</pre>
 *
 * The inputs are made here from literals (see each maker). Images already in the folder are kept, so
 * the command adds only the new ones.
 */
public final class MakeGoldenImages {
    private MakeGoldenImages() {}

    public static void main(String[] args) throws Exception {
        Path out = Files.createDirectories(Path.of(args[0]));
        make(out, "v5-model1-table1.daxfs", MakeGoldenImages::model1Table1);
        make(out, "v5-model1-nocrc.daxfs", MakeGoldenImages::model1NoCrc);
        make(out, "v5-model1-ortform1.daxfs", MakeGoldenImages::ortForm1);
    }

    private interface Maker {
        void write(Path image, Path scratch) throws Exception;
    }

    /** Writes one golden image unless it is there already: a committed golden image is never rewritten. */
    private static void make(Path dir, String name, Maker maker) throws Exception {
        Path image = dir.resolve(name);
        if (Files.exists(image)) {
            System.out.println(name + ": kept (a golden image is never rewritten)");
            return;
        }
        maker.write(image, Files.createTempDirectory("daxload-golden"));
        System.out.println(name + ": written, " + Files.size(image) + " bytes");
    }

    /** pack-model of a safetensors file with one tensor per dtype family, two tables and a side file. */
    private static void model1Table1(Path image, Path in) throws Exception {
        Path st = in.resolve("model.safetensors");
        Files.write(st, safetensors());
        Path words = Files.writeString(in.resolve("words.csv"), "word,id,score\nalpha,1,0.5\nbeta,2,-1.25\nключ,3,\n🙂,4,1e300\n");
        Path ids = Files.writeString(in.resolve("ids.csv"), "id,label\n10,ten\n-1,minus one\n9223372036854775807,max\n");
        Path note = Files.writeString(in.resolve("config.json"), "{\"golden\": true}\n");
        run("pack-model", "--name", "golden", st.toString(), note.toString(),
                "--table", "words=" + words + ":key=word", "--table", "ids=" + ids + ":key=id",
                "-q", "-o", image.toString());
    }

    /**
     * The smallest manifest the loader accepts, as a writer other than {@code pack-model} (or an older
     * one) would leave it: {@code format}, {@code name} and {@code tensors} only, no {@code crc32c}, no
     * {@code source}, {@code metadata}, {@code files} or {@code tables}. Packed with {@code daxload pack}
     * twice: the first image tells where each tensor file lands, the second carries the manifest that
     * says so, padded to the same length so that nothing moves.
     */
    private static void model1NoCrc(Path image, Path scratch) throws Exception {
        Path model = Files.createDirectories(scratch.resolve("tree/plain"));
        Path tensors = Files.createDirectories(model.resolve("tensors"));
        Files.write(tensors.resolve("w.f32"), le(16, b -> { b.putFloat(-1.5f); b.putFloat(0f); b.putFloat(2.25f); b.putFloat(1e-3f); }));
        Files.write(tensors.resolve("w.i32"), le(12, b -> { b.putInt(-7); b.putInt(0); b.putInt(65536); }));
        byte[] q40 = new byte[36]; // two Q4_0 blocks: f16 scale, then 16 bytes of 4-bit values
        for (int i = 0; i < q40.length; i++) {
            q40[i] = (byte) (i * 7 + 1);
        }
        Files.write(tensors.resolve("w.q4_0"), q40);
        Files.write(tensors.resolve("w.empty"), new byte[0]);
        String[][] entries = {
            {"w.f32", "F32", "[2,2]", "16"}, {"w.i32", "I32", "[3]", "12"}, {"w.q4_0", "Q4_0", "[64]", "36"}, {"w.empty", "F32", "[0,4]", "0"}};
        int padded = 1024;
        Path first = scratch.resolve("first.daxfs");
        Files.writeString(model.resolve("manifest.json"), pad(noCrcManifest(entries, new long[entries.length]), padded));
        run("pack", "--all-root", "-q", scratch.resolve("tree").toString(), "-o", first.toString());
        long[] offsets = new long[entries.length];
        try (dev.daxload.image.DaxImage img = dev.daxload.image.DaxImage.open(first)) {
            for (int i = 0; i < entries.length; i++) {
                var inode = img.resolve("plain/tensors/" + entries[i][0]);
                offsets[i] = inode.size() == 0 ? 0 : img.absoluteOffset(inode.dataOffset());
            }
        }
        Files.writeString(model.resolve("manifest.json"), pad(noCrcManifest(entries, offsets), padded));
        run("pack", "--all-root", "-q", scratch.resolve("tree").toString(), "-o", image.toString());
    }

    private static String noCrcManifest(String[][] entries, long[] offsets) {
        StringBuilder s = new StringBuilder("{\n  \"format\": \"daxload-model/1\",\n  \"name\": \"plain\",\n  \"tensors\": [");
        for (int i = 0; i < entries.length; i++) {
            s.append(i == 0 ? "\n" : ",\n").append("    {\"name\": \"").append(entries[i][0]).append("\", \"file\": \"tensors/").append(entries[i][0])
                    .append("\", \"dtype\": \"").append(entries[i][1]).append("\", \"shape\": ").append(entries[i][2])
                    .append(", \"offset\": ").append(offsets[i]).append(", \"length\": ").append(entries[i][3]).append('}');
        }
        return s.append("\n  ]\n}").toString();
    }

    /** JSON followed by spaces up to {@code length} bytes and a newline. */
    private static String pad(String json, int length) {
        int n = json.getBytes(StandardCharsets.UTF_8).length;
        if (n >= length) {
            throw new IllegalStateException("manifest of " + n + " bytes does not fit " + length);
        }
        return json + " ".repeat(length - n - 1) + "\n";
    }

    /**
     * {@code pack-model --ort-prepack} of a tiny ONNX model, Y = Relu(X W + B) with X [1,16], W [16,16],
     * B [16]: the model's tensors and ONNX Runtime's optimized form ({@code daxload-ort-form/1}) of this
     * ORT version and processor. Every weight is a multiple of 1/4 and every input a multiple of 1/16, so
     * the answer is exact in float whatever order ORT sums in.
     */
    private static void ortForm1(Path image, Path scratch) throws Exception {
        Path onnx = Files.write(scratch.resolve("tiny.onnx"), tinyOnnx());
        run("pack-model", "--name", "tiny", onnx.toString(), "--ort-prepack", "-q", "-o", image.toString());
    }

    /** W[i][j] of the tiny model. */
    static float tinyW(int i, int j) {
        return ((i * 16 + j) % 7 - 3) / 4f;
    }

    /** B[j] of the tiny model. */
    static float tinyB(int j) {
        return (j - 8) / 8f;
    }

    static byte[] tinyOnnx() {
        var w = le(16 * 16 * 4, b -> { for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) b.putFloat(tinyW(i, j)); });
        var bias = le(16 * 4, b -> { for (int j = 0; j < 16; j++) b.putFloat(tinyB(j)); });
        var g = dev.daxload.packager.source.onnxproto.GraphProto.newBuilder().setName("tiny")
                .addInitializer(dev.daxload.packager.source.onnxproto.TensorProto.newBuilder().setName("W").setDataType(1).addDims(16).addDims(16)
                        .setRawData(com.google.protobuf.ByteString.copyFrom(w)))
                .addInitializer(dev.daxload.packager.source.onnxproto.TensorProto.newBuilder().setName("B").setDataType(1).addDims(16)
                        .setRawData(com.google.protobuf.ByteString.copyFrom(bias)))
                .addNode(dev.daxload.packager.source.onnxproto.NodeProto.newBuilder().setOpType("MatMul").setName("mm").addInput("X").addInput("W").addOutput("H"))
                .addNode(dev.daxload.packager.source.onnxproto.NodeProto.newBuilder().setOpType("Add").setName("add").addInput("H").addInput("B").addOutput("Z"))
                .addNode(dev.daxload.packager.source.onnxproto.NodeProto.newBuilder().setOpType("Relu").setName("relu").addInput("Z").addOutput("Y"))
                .addInput(floatValue("X", 1, 16))
                .addOutput(floatValue("Y", 1, 16));
        return dev.daxload.packager.source.onnxproto.ModelProto.newBuilder().setIrVersion(9).setProducerName("MakeGoldenImages")
                .addOpsetImport(dev.daxload.packager.source.onnxproto.OperatorSetIdProto.newBuilder().setVersion(17))
                .setGraph(g).build().toByteArray();
    }

    /**
     * A graph input or output of type float with a fixed shape. The project's ONNX subset keeps a value's
     * type (field 2, a TypeProto) as an unknown field, so it is encoded here: TypeProto.tensor_type (1) {
     * elem_type (1), shape (2) { dim (1) { dim_value (1) } } }.
     */
    private static dev.daxload.packager.source.onnxproto.ValueInfoProto floatValue(String name, long... dims) {
        try {
            com.google.protobuf.ByteString shape = com.google.protobuf.ByteString.EMPTY;
            for (long d : dims) {
                shape = shape.concat(field(1, field64(1, d)));
            }
            com.google.protobuf.ByteString tensor = field64(1, 1).concat(field(2, shape));
            var type = com.google.protobuf.UnknownFieldSet.newBuilder()
                    .addField(2, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addLengthDelimited(field(1, tensor)).build()).build();
            return dev.daxload.packager.source.onnxproto.ValueInfoProto.newBuilder().setName(name).setUnknownFields(type).build();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static com.google.protobuf.ByteString field(int number, com.google.protobuf.ByteString body) throws java.io.IOException {
        var out = com.google.protobuf.ByteString.newOutput();
        var c = com.google.protobuf.CodedOutputStream.newInstance(out);
        c.writeBytes(number, body);
        c.flush();
        return out.toByteString();
    }

    private static com.google.protobuf.ByteString field64(int number, long value) throws java.io.IOException {
        var out = com.google.protobuf.ByteString.newOutput();
        var c = com.google.protobuf.CodedOutputStream.newInstance(out);
        c.writeInt64(number, value);
        c.flush();
        return out.toByteString();
    }

    private static void run(String... args) {
        int rc = Daxload.run(args);
        if (rc != 0) {
            throw new IllegalStateException("daxload " + String.join(" ", args) + " exited " + rc);
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

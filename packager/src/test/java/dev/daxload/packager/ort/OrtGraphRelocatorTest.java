package dev.daxload.packager.ort;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The optimized graph's external references moved into the image, and refused where they point outside the data file. */
class OrtGraphRelocatorTest {
    static TensorProto external(String name, String location, long offset, long length, String prepacked) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(1).addDims(length / 4).setDataLocation(1)
                .addExternalData(kv("location", location)).addExternalData(kv("offset", Long.toString(offset)))
                .addExternalData(kv("length", Long.toString(length)));
        if (prepacked != null) {
            t.addExternalData(kv("prepacked_1", prepacked));
        }
        return t.build();
    }

    static StringStringEntryProto kv(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    static byte[] model(TensorProto... ts) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g");
        for (TensorProto t : ts) {
            g.addInitializer(t);
        }
        g.addInitializer(TensorProto.newBuilder().setName("inline").setDataType(1).addDims(1).setRawData(com.google.protobuf.ByteString.copyFrom(new byte[4])));
        return ModelProto.newBuilder().setIrVersion(8).setGraph(g).build().toByteArray();
    }

    static Map<String, String> entries(TensorProto t) {
        Map<String, String> m = new HashMap<>();
        t.getExternalDataList().forEach(e -> m.put(e.getKey(), e.getValue()));
        return m;
    }

    @Test
    void movesOffsetsAndBlobsByTheBaseAndNamesTheImageLink() throws IOException {
        byte[] in = model(external("w", "model.data", 0, 4096, "MatMul+123|4096;8192;0|12288;100;0"));
        OrtGraphRelocator.Result r = OrtGraphRelocator.relocate(in, "model.data", 20000, 1 << 20, "test");
        assertEquals(1, r.tensors());
        assertEquals(2, r.blobs());
        ModelProto out = ModelProto.parseFrom(r.graph());
        Map<String, String> w = entries(out.getGraph().getInitializer(0));
        assertEquals(OrtImageForm.IMAGE_LINK, w.get("location"));
        assertEquals(Long.toString(1 << 20), w.get("offset"));
        assertEquals("4096", w.get("length"));
        assertEquals("MatMul+123|" + ((1 << 20) + 4096) + ";8192;0|" + ((1 << 20) + 12288) + ";100;0", w.get("prepacked_1"));
        assertTrue(out.getGraph().getInitializer(1).hasRawData(), "inline tensors stay as they are");
    }

    @Test
    void refusesRangesOutsideTheDataFileAndOtherFiles() {
        IOException past = assertThrows(IOException.class,
                () -> OrtGraphRelocator.relocate(model(external("w", "model.data", 16384, 8192, null)), "model.data", 20000, 0, "g.onnx"));
        assertTrue(past.getMessage().contains("g.onnx: tensor 'w'") && past.getMessage().contains("outside model.data"), past.getMessage());
        IOException blob = assertThrows(IOException.class, () -> OrtGraphRelocator.relocate(
                model(external("w", "model.data", 0, 4096, "MatMul+1|19000;4096;0")), "model.data", 20000, 0, "g.onnx"));
        assertTrue(blob.getMessage().contains("blob 1"), blob.getMessage());
        IOException other = assertThrows(IOException.class,
                () -> OrtGraphRelocator.relocate(model(external("w", "weights.bin", 0, 4096, null)), "model.data", 20000, 0, "g.onnx"));
        assertTrue(other.getMessage().contains("'weights.bin'"), other.getMessage());
        IOException bad = assertThrows(IOException.class, () -> OrtGraphRelocator.relocate(
                model(external("w", "model.data", 0, 4096, "MatMul+1|x;4096;0")), "model.data", 20000, 0, "g.onnx"));
        assertTrue(bad.getMessage().contains("'x' is not a number"), bad.getMessage());
    }
}

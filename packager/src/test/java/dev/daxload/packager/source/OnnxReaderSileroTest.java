package dev.daxload.packager.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The silero-vad model from the repository's testdata/ against expected.json, which ONNX's own reader produced. */
class OnnxReaderSileroTest {
    private static final String FIXTURE = "silero_vad_op18_ifless.onnx";
    private static Path model;
    private static JsonObject expected;

    @TempDir
    Path tmp;

    @BeforeAll
    static void fixture() throws IOException {
        Path dir = Fixtures.repositoryTestdata();
        model = dir.resolve(FIXTURE);
        expected = JsonParser.parseString(Files.readString(dir.resolve("expected.json")))
                .getAsJsonObject().getAsJsonObject("files").getAsJsonObject(FIXTURE);
    }

    @Test
    void everyInitializerMatchesExpectedJson() throws IOException {
        SourceModel m = new OnnxReader().read(model);
        JsonArray want = expected.getAsJsonArray("initializers");
        assertEquals(45, want.size());
        assertEquals(expected.get("initializer_count").getAsInt(), m.tensors().size());
        for (int i = 0; i < want.size(); i++) {
            JsonObject w = want.get(i).getAsJsonObject();
            SourceTensor t = m.tensors().get(i);
            String name = w.get("name").getAsString();
            assertEquals(name, t.name(), "initializer order");
            assertEquals(w.get("dtype").getAsString(), t.dtype(), name);
            assertArrayEquals(longs(w.getAsJsonArray("shape")), t.shape(), name);
            assertEquals(w.get("nbytes").getAsLong(), t.content().size(), name);
            assertEquals(w.get("sha256").getAsString(), OnnxTestSupport.sha256(OnnxTestSupport.written(t.content(), tmp)), name);
            // raw_data is described as a range of the .onnx file, not held in memory.
            FileContent.FileRange range = assertInstanceOf(FileContent.FileRange.class, t.content(), name);
            assertEquals(model, range.file());
        }
        assertEquals(List.of(model), m.files());
    }

    @Test
    void metadataAndStrippedGraph() throws IOException {
        SourceModel m = new OnnxReader().read(model);
        JsonObject meta = m.metadata();
        assertEquals(expected.get("ir_version").getAsLong(), meta.get("ir_version").getAsLong());
        assertEquals(expected.getAsJsonObject("opset_import"), meta.getAsJsonObject("opset_import"));
        assertEquals(expected.get("producer").getAsString(),
                meta.get("producer_name").getAsString() + " " + meta.get("producer_version").getAsString());
        assertEquals(expected.getAsJsonArray("inputs"), meta.getAsJsonArray("inputs"));
        assertEquals(expected.getAsJsonArray("outputs"), meta.getAsJsonArray("outputs"));

        ModelProto original = ModelProto.parseFrom(Files.readAllBytes(model));
        ModelProto stripped = ModelProto.parseFrom(OnnxTestSupport.written(m.sideFiles().get(OnnxReader.GRAPH_FILE), tmp));
        assertEquals(expected.get("node_count").getAsInt(), stripped.getGraph().getNodeCount());
        assertEquals(original.getGraph().getNodeList(), stripped.getGraph().getNodeList(), "the If branches are kept whole");
        assertEquals(45, stripped.getGraph().getInitializerCount());
        for (TensorProto t : stripped.getGraph().getInitializerList()) {
            assertTrue(!t.hasRawData() && t.getDataLocation() == 1, t.getName());
        }
        assertTrue(stripped.getSerializedSize() < Files.size(model) / 4,
                "stripped graph " + stripped.getSerializedSize() + " bytes");
    }

    private static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        int i = 0;
        for (JsonElement e : a) {
            out[i++] = e.getAsLong();
        }
        return out;
    }
}

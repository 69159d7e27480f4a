package dev.daxload.packager.source;

import static dev.daxload.packager.source.OnnxTestSupport.external;
import static dev.daxload.packager.source.OnnxTestSupport.model;
import static dev.daxload.packager.source.OnnxTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import dev.daxload.packager.source.onnxproto.AttributeProto;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.NodeProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cut, random and mutated files: the reader either returns a model whose tensors are consistent or throws
 * a {@link SourceFormatException} naming the file, never another exception, and never allocates by a
 * length it has not checked.
 */
class OnnxReaderHostileInputTest {
    private static final Map<String, Integer> SIZES = Map.ofEntries(Map.entry("F64", 8), Map.entry("F32", 4),
            Map.entry("F16", 2), Map.entry("BF16", 2), Map.entry("I64", 8), Map.entry("I32", 4), Map.entry("I16", 2),
            Map.entry("I8", 1), Map.entry("U64", 8), Map.entry("U32", 4), Map.entry("U16", 2), Map.entry("U8", 1),
            Map.entry("BOOL", 1), Map.entry("F8_E4M3", 1), Map.entry("F8_E5M2", 1));

    @TempDir
    Path dir;

    /** A small model with every kind of storage: raw_data, typed fields, external data and a subgraph. */
    private byte[] smallModel() throws IOException {
        Files.write(dir.resolve("w.bin"), new byte[64]);
        NodeProto ifNode = NodeProto.newBuilder().setOpType("If").setName("branch").addInput("c").addOutput("y")
                .addAttribute(AttributeProto.newBuilder().setName("then_branch").setType(5)
                        .setG(GraphProto.newBuilder().setName("then").addInitializer(tensor("inner", 1, 2).addFloatData(1).addFloatData(2))))
                .build();
        GraphProto.Builder g = GraphProto.newBuilder().setName("g").addNode(ifNode)
                .addInitializer(tensor("raw", 1, 2, 2).setRawData(ByteString.copyFrom(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})))
                .addInitializer(tensor("ints", 7, 3).addInt64Data(1).addInt64Data(-2).addInt64Data(300))
                .addInitializer(tensor("half", 10, 2).addInt32Data(0x3C00).addInt32Data(0x4000))
                .addInitializer(external(tensor("ext", 1, 4), "w.bin", "16", "16"));
        return model(g).build().toByteArray();
    }

    private static SourceModel readOrRefuse(Path file) {
        try {
            SourceModel m = new OnnxReader().read(file);
            for (SourceTensor t : m.tensors()) {
                long n = Arrays.stream(t.shape()).reduce(1, Math::multiplyExact);
                assertEquals(n * SIZES.get(t.dtype()), t.content().size(), t.toString());
            }
            return m;
        } catch (SourceFormatException e) {
            assertEquals(file, e.file());
            assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
            return null;
        } catch (Throwable e) {
            throw new AssertionError(file + ": expected a model or a SourceFormatException, got " + e, e);
        }
    }

    private void refusedEverywhere(Path file, byte[] bytes, int from, int to, int step) throws IOException {
        for (int cut = from; cut < to; cut += step) {
            Files.write(file, Arrays.copyOf(bytes, cut));
            if (readOrRefuse(file) != null) {
                fail("a file cut to " + cut + " of " + bytes.length + " bytes was read as a model");
            }
        }
    }

    @Test
    void everyCutOfASmallModelIsRefused() throws IOException {
        byte[] whole = smallModel();
        Path file = dir.resolve("cut.onnx");
        Files.write(file, whole);
        assertEquals(4, assertOk(readOrRefuse(file)).tensors().size());
        // The serializer writes opset_import (field 8) last, so every shorter prefix lacks something.
        refusedEverywhere(file, whole, 0, whole.length, 1);
    }

    @Test
    void cutsOfSileroVadAreRefused() throws IOException {
        Path fixture = Fixtures.repositoryTestdata().resolve("silero_vad_op18_ifless.onnx");
        byte[] whole = Files.readAllBytes(fixture);
        ModelProto m = ModelProto.parseFrom(whole);
        // A cut between the trailing top-level fields leaves a valid, smaller message; cuts before them must all fail.
        int tail = ModelProto.newBuilder().addAllOpsetImport(m.getOpsetImportList()).addAllMetadataProps(m.getMetadataPropsList())
                .build().getSerializedSize();
        Path file = dir.resolve("silero-cut.onnx");
        refusedEverywhere(file, whole, 0, 4096, 97);
        refusedEverywhere(file, whole, 4096, whole.length - tail, 49_999);
        refusedEverywhere(file, whole, whole.length - tail - 300, whole.length - tail, 7);
    }

    @Test
    void randomBytesAreRefused() throws IOException {
        SplittableRandom rnd = new SplittableRandom(20261124);
        Path file = dir.resolve("random.onnx");
        int models = 0;
        for (int i = 0; i < 2000; i++) {
            byte[] b = new byte[1 + rnd.nextInt(i < 1000 ? 16 : 4096)];
            rnd.nextBytes(b);
            Files.write(file, b);
            if (readOrRefuse(file) != null) {
                models++;
            }
        }
        assertEquals(0, models, "random bytes read as ONNX models");
    }

    @Test
    void mutatedModelsAreReadConsistentlyOrRefused() throws IOException {
        byte[] whole = smallModel();
        // Each mutant is a file written and read back (~0.5 ms), so this takes a fiftieth of the fuzz knob.
        int mutants = Math.max(100, Integer.getInteger("daxload.fuzz.mutants", 100_000) / 50);
        SplittableRandom rnd = new SplittableRandom(7);
        Path file = dir.resolve("mutant.onnx");
        int refused = 0;
        for (int i = 0; i < mutants; i++) {
            byte[] b = whole.clone();
            for (int k = 1 + rnd.nextInt(3); k > 0; k--) {
                b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
            }
            Files.write(file, b);
            if (readOrRefuse(file) == null) {
                refused++;
            }
        }
        assertTrue(refused > mutants / 10, refused + " of " + mutants + " mutants refused");
    }

    @Test
    void dimsThatOverflowAndLengthsThatDisagreeAreRefused() {
        Path file = dir.resolve("bad.onnx");
        OnnxReaderTypedAndExternalTest.refusedAt(file, model(tensor("over", 1, 1L << 62, 4).setRawData(ByteString.copyFrom(new byte[4]))),
                "'over'", "overflow");
        OnnxReaderTypedAndExternalTest.refusedAt(file, model(tensor("over2", 7, Long.MAX_VALUE).setRawData(ByteString.copyFrom(new byte[8]))),
                "'over2'", "overflow");
        OnnxReaderTypedAndExternalTest.refusedAt(file, model(tensor("short", 7, 2).setRawData(ByteString.copyFrom(new byte[3]))),
                "'short'", "raw_data has 3 bytes, dims and data_type need 16");
        OnnxReaderTypedAndExternalTest.refusedAt(file, model(tensor("empty", 1, 1).setRawData(ByteString.EMPTY)),
                "'empty'", "raw_data has 0 bytes");
    }

    @Test
    void lengthPrefixesBeyondTheFileAndDeepNestingAreRefused() throws IOException {
        Path file = dir.resolve("len.onnx");
        // graph (field 7, length-delimited) claiming 2^31 - 1 bytes, followed by 3
        Files.write(file, new byte[] {0x3A, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x07, 1, 2, 3});
        assertEquals(null, readOrRefuse(file));
        // raw_data claiming 1 GiB inside a well-formed prefix
        Files.write(file, new byte[] {0x08, 0x09, 0x3A, 0x08, 0x2A, 0x06, 0x4A, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0x04, 0});
        assertEquals(null, readOrRefuse(file));

        GraphProto.Builder g = GraphProto.newBuilder().setName("leaf");
        for (int depth = 0; depth < 200; depth++) {
            g = GraphProto.newBuilder().setName("d" + depth).addNode(NodeProto.newBuilder().setOpType("If")
                    .addAttribute(AttributeProto.newBuilder().setName("then_branch").setG(g)));
        }
        Files.write(file, model(g).build().toByteArray());
        assertEquals(null, readOrRefuse(file));

        Files.write(file, new byte[0]);
        assertEquals(null, readOrRefuse(file));
        Files.write(file, ModelProto.newBuilder().setIrVersion(9).build().toByteArray());
        assertEquals(null, readOrRefuse(file));
    }

    private static SourceModel assertOk(SourceModel m) {
        assertNotNull(m, "the uncut model was refused");
        return m;
    }
}

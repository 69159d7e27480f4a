package dev.daxload.packager.source;

import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.OperatorSetIdProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Helpers for the ONNX reader's tests: small models built with the generated classes, and hashing. */
final class OnnxTestSupport {
    private OnnxTestSupport() {
    }

    /** The bytes {@code content} writes, read back from a scratch file it was written into at an odd position. */
    static byte[] written(FileContent content, Path scratchDir) throws IOException {
        Path f = Files.createTempFile(scratchDir, "content", ".bin");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long at = 4099; // not 0, so a write that ignores its position shows
            content.writeTo(ch, at);
            if (content.size() > 0 && ch.size() != at + content.size()) {
                throw new AssertionError(content.describe() + " wrote " + (ch.size() - at) + " bytes, size() says " + content.size());
            }
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(content.size()));
            while (buf.hasRemaining()) {
                if (ch.read(buf, at + buf.position()) < 0) {
                    throw new AssertionError("short read");
                }
            }
            return buf.array();
        } finally {
            Files.delete(f);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static TensorProto.Builder tensor(String name, int dataType, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(dataType);
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    static TensorProto.Builder external(TensorProto.Builder t, String location, String offset, String length) {
        t.setDataLocation(1).addExternalData(entry("location", location));
        if (offset != null) {
            t.addExternalData(entry("offset", offset));
        }
        if (length != null) {
            t.addExternalData(entry("length", length));
        }
        return t;
    }

    static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    static ModelProto.Builder model(GraphProto.Builder graph) {
        return ModelProto.newBuilder()
                .setIrVersion(9)
                .setProducerName("daxload-test")
                .setGraph(graph)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17));
    }

    static ModelProto.Builder model(TensorProto.Builder... initializers) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g");
        for (TensorProto.Builder t : initializers) {
            g.addInitializer(t);
        }
        return model(g);
    }

    static Path write(Path file, ModelProto.Builder model) throws IOException {
        Files.write(file, model.build().toByteArray());
        return file;
    }
}

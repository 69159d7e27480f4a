package dev.daxload.cli;

import com.google.protobuf.ByteString;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.OperatorSetIdProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The training run behind {@code bin/daxload}'s AOT cache (JDK 25): packs small models of each kind
 * and runs the common commands on the image, all in one JVM, so the archive written at exit holds the
 * classes every command needs. An archive made from whichever command happened to run first (what
 * {@code -XX:+AutoCreateSharedArchive} does) held only picocli's for {@code --help} and left
 * {@code pack-model} of bge-small-en-v1.5 at 0.46-0.55 s where this one gives 0.35-0.37 s.
 *
 * <pre>java --enable-native-access=ALL-UNNAMED -XX:AOTCacheOutput=daxload.aot -cp ... dev.daxload.cli.StartupTraining</pre>
 *
 * <p>Exits 0 when every command succeeded, 1 otherwise (the archive is then discarded by the launcher).
 */
public final class StartupTraining {
    private StartupTraining() {}

    public static void main(String[] args) throws IOException {
        System.exit(train() == 0 ? 0 : 1);
    }

    /** Runs the training commands; returns how many failed (each is named on standard error). */
    static int train() throws IOException {
        Path dir = Files.createTempDirectory("daxload-training-");
        PrintStream out = System.out;
        PrintStream err = System.err;
        int failed = 0;
        try {
            Path onnx = onnx(dir.resolve("m.onnx"));
            Path st = safetensors(dir.resolve("w.safetensors"));
            Path csv = Files.writeString(dir.resolve("vocab.csv"), "token,id\nhello,1\nworld,2\n");
            Path image = dir.resolve("m.daxfs");
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            System.setErr(new PrintStream(OutputStream.nullOutputStream()));
            String img = image.toString();
            String[][] commands = {
                {"pack-model", "-q", "--name", "a", onnx.toString(), "--name", "b", st.toString(),
                    "--table", "vocab=" + csv + ":key=token", "-o", img},
                {"tensors", img},
                {"tensors", "--json", img, "b"},
                {"ls", "-R", img},
                {"inspect", img},
                {"inspect", "--json", img},
                {"verify", "--checksums", img},
                {"verify", "--json", img},
                {"ls", "--json", img},
                {"--version"},
                {"lookup", img, "b", "vocab", "hello"},
                {"cat", img, "a/manifest.json"},
                {"extract", img, dir.resolve("x").toString()},
                {"pack", dir.resolve("x").toString(), "-o", dir.resolve("tree.daxfs").toString()},
            };
            for (String[] c : commands) {
                if (Daxload.run(c) != 0) {
                    failed++;
                    err.println("daxload training: '" + String.join(" ", c) + "' failed");
                }
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
            deleteTree(dir);
        }
        return failed;
    }

    private static Path onnx(Path file) throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g");
        for (int i = 0; i < 3; i++) {
            g.addInitializer(TensorProto.newBuilder().setName("w" + i).setDataType(1).addDims(4)
                    .setRawData(ByteString.copyFrom(new byte[16])));
        }
        g.addInitializer(TensorProto.newBuilder().setName("t").setDataType(1).addDims(2).addFloatData(1f).addFloatData(2f));
        ModelProto m = ModelProto.newBuilder().setIrVersion(9).setGraph(g)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).build();
        return Files.write(file, m.toByteArray());
    }

    private static Path safetensors(Path file) throws IOException {
        byte[] header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"__metadata__\":{\"k\":\"v\"}}"
                .getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + 16).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        return Files.write(file, b.array());
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}

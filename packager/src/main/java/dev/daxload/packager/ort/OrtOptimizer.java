package dev.daxload.packager.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.daxload.djl.onnx.internal.OrtFormKey;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Runs ONNX Runtime once over a model so that it writes its own optimized form: the graph after every
 * optimizer ran ({@code setOptimizedModelFilePath}), weights as external data in one data file, and the
 * CPU kernels' prepacked weights serialized into the same file
 * ({@code session.save_external_prepacked_constant_initializers}). The result is only valid for the ORT
 * version and processor features it was made with: {@link OrtFormKey}.
 */
public final class OrtOptimizer {
    /** The data file's name as ORT writes it into the graph's external data entries. */
    static final String DATA_NAME = "model.data";

    private OrtOptimizer() {}

    /**
     * ORT's form in a temporary directory, deleted on {@link #close()}.
     *
     * @param graph the optimized graph
     * @param data its data file
     * @param key what it depends on
     */
    public record Form(Path graph, Path data, OrtFormKey key) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try (Stream<Path> s = Files.walk(graph.getParent())) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * Makes ORT's form of {@code onnx} (a model file whose external data, if any, lies beside it), or of
     * a graph whose weights {@code options} supplies already.
     */
    public static Form optimize(Path onnx, SessionOptions options) throws IOException {
        Path dir = Files.createTempDirectory("daxload-ort-pack-");
        Path graph = dir.resolve("model.onnx");
        try {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            options.setOptimizationLevel(SessionOptions.OptLevel.valueOf(OrtLoadPlan.OPTIMIZATION));
            options.setOptimizedModelFilePath(graph.toString());
            options.addConfigEntry("session.optimized_model_external_initializers_file_name", DATA_NAME);
            options.addConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            options.addConfigEntry("session.save_external_prepacked_constant_initializers", "1");
            try (OrtSession session = env.createSession(onnx.toString(), options)) {
                // Creating the session writes the form; nothing is run.
            }
            Path data = dir.resolve(DATA_NAME);
            if (!Files.isRegularFile(graph)) {
                throw new IOException(onnx + ": ONNX Runtime wrote no optimized graph");
            }
            if (!Files.exists(data)) {
                Files.createFile(data); // a model with no initializer of 1 KiB or more
            }
            return new Form(graph, data, OrtFormKey.running(OrtLoadPlan.OPTIMIZATION));
        } catch (OrtException e) {
            new Form(graph, dir.resolve(DATA_NAME), null).close();
            throw new IOException(onnx + ": ONNX Runtime could not optimize the model: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            new Form(graph, dir.resolve(DATA_NAME), null).close();
            throw e;
        }
    }
}

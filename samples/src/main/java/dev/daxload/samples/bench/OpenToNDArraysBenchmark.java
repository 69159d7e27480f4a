package dev.daxload.samples.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.daxload.model.ModelWeights;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Time from "open the image" to "every tensor is a PyTorch NDArray", against the two ways of getting
 * the same arrays without an image, in the same JMH run: DJL's {@code NDList.decode} of a safetensors
 * file of the same tensors, and reading each tensor into a direct buffer for {@code manager.create}.
 *
 * <p>Each operation starts from nothing held (a fresh {@code NDManager}, the image not mapped) and ends
 * with everything closed, so it is the whole cost a process pays to have its weights as arrays. Files
 * are in the page cache (the warm-up reads them), so the baselines are timed at memory speed, their
 * best case; the first start of a process from a cold cache is what {@code samples/bench/startup.sh}
 * measures instead.
 *
 * <p>The copying baselines run on the real models only ({@code smallModel}): on the 8.6 GB synthetic
 * one they would need 8.6 GB (DJL: 17 GB, and it cannot read files over 2 GiB) per operation. The
 * image is measured on every size; {@code synthetic-100m} has the same 1,000 tensors as
 * {@code synthetic-8g} in 1/86 of the bytes, so the two differ only in size: the cost grows with the
 * number of tensors (one native tensor each), not with their bytes.
 *
 * <p>Run through {@code samples/bench/jmh.sh}; the inputs come from {@link BenchFiles} (made by the
 * script; {@code -Ddaxload.bench.dir} says where).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx3g", "-Dai.djl.offline=true",
    "-DPYTORCH_FLAVOR=cpu", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
public class OpenToNDArraysBenchmark {

    /** Every model, for the image path. */
    @State(Scope.Benchmark)
    public static class AnyModel {
        @Param({"minilm", "bge", "synthetic-100m", "synthetic-8g"})
        public String model;
        Path image;

        @Setup
        public void setup() throws IOException {
            image = existing(BenchFiles.DIR.resolve(model + ".daxfs"));
        }
    }

    /** The models small enough to copy, for the baselines. */
    @State(Scope.Benchmark)
    public static class SmallModel {
        @Param({"minilm", "bge"})
        public String smallModel;
        Path safetensors;

        @Setup
        public void setup() throws IOException {
            safetensors = existing(BenchFiles.DIR.resolve(smallModel + ".safetensors"));
        }
    }

    @Benchmark
    public int daxfsViews(AnyModel m) throws IOException {
        // Declared in this order so the manager (whose arrays point into the mapping) closes first.
        try (ModelWeights w = ModelWeights.open(m.image, m.model);
             NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            NDList arrays = Loads.views(manager, w);
            return arrays.size();
        }
    }

    @Benchmark
    public int djlDecode(SmallModel m) throws IOException {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            return Loads.djlDecode(manager, m.safetensors).size();
        }
    }

    @Benchmark
    public int directBufferCopy(SmallModel m) throws IOException {
        try (NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            return Loads.directCopy(manager, m.safetensors).size();
        }
    }

    private static Path existing(Path p) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new IOException(p + " is missing: run samples/bench/jmh.sh, which makes the benchmark inputs");
        }
        return p;
    }
}

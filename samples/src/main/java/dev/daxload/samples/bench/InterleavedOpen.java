package dev.daxload.samples.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.daxload.image.MapOptions;
import dev.daxload.image.internal.Mmap;
import dev.daxload.model.ModelWeights;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The size check of {@link OpenToNDArraysBenchmark} with the two sizes interleaved in one JVM: JMH
 * runs one parameter's forks after the other's, so a change in the shared machine's load between them
 * reads as a difference between the models. Here rounds alternate between the images (same tensors,
 * different sizes), each round timing a batch of whole operations (open, views of every tensor, close)
 * and, apart, the steps: mapping and unmapping alone, and {@code ModelWeights.open} + close alone.
 *
 * <pre>usage: InterleavedOpen [ROUNDS [OPS_PER_ROUND [MODEL...]]]   (default 10 200 synthetic-100m synthetic-8g)</pre>
 */
public final class InterleavedOpen {
    private InterleavedOpen() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int ops = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        List<String> models = args.length > 2 ? List.of(args).subList(2, args.length) : List.of("synthetic-100m", "synthetic-8g");
        int warmupRounds = 3; // JIT warm-up, discarded
        double[][][] ms = new double[models.size()][3][rounds];
        for (int r = -warmupRounds; r < rounds; r++) {
            for (int k = 0; k < models.size(); k++) {
                // Alternate which model goes first, so neither always follows the other.
                int m = (r & 1) == 0 ? k : models.size() - 1 - k;
                String model = models.get(m);
                Path image = BenchFiles.DIR.resolve(model + ".daxfs");
                long t0 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    try (ModelWeights w = ModelWeights.open(image, model);
                         NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                        Loads.views(manager, w);
                    }
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    try (Arena arena = Arena.ofShared()) {
                        Mmap.map(image, MapOptions.copyOnWrite(), arena);
                    }
                }
                long t2 = System.nanoTime();
                for (int i = 0; i < ops; i++) {
                    ModelWeights.open(image, model).close();
                }
                long t3 = System.nanoTime();
                if (r >= 0) {
                    ms[m][0][r] = (t1 - t0) / 1e6 / ops;
                    ms[m][1][r] = (t2 - t1) / 1e6 / ops;
                    ms[m][2][r] = (t3 - t2) / 1e6 / ops;
                    System.out.printf("round %2d %-16s whole op %7.3f ms   map+unmap %6.3f ms   open+close %7.3f ms%n",
                            r + 1, model, ms[m][0][r], ms[m][1][r], ms[m][2][r]);
                }
            }
        }
        System.out.printf("%nmedians of %d rounds x %d ops (ms per op):%n", rounds, ops);
        List<double[]> medians = new ArrayList<>();
        for (int m = 0; m < models.size(); m++) {
            double[] med = {median(ms[m][0]), median(ms[m][1]), median(ms[m][2])};
            medians.add(med);
            System.out.printf("%-16s whole op %7.3f   map+unmap %6.3f   open+close %7.3f%n", models.get(m), med[0], med[1], med[2]);
        }
        for (int m = 1; m < models.size(); m++) {
            System.out.printf("%s / %s: whole op %.2f, map+unmap %.2f, open+close %.2f%n", models.get(m), models.get(0),
                    medians.get(m)[0] / medians.get(0)[0], medians.get(m)[1] / medians.get(0)[1], medians.get(m)[2] / medians.get(0)[2]);
        }
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}

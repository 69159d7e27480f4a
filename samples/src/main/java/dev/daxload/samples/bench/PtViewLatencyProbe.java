package dev.daxload.samples.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.daxload.model.ModelWeights;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Steady-state compute over daxload's PyTorch views against the same weights as arrays PyTorch owns:
 * every 2-D weight of a model (bge-small: 74 matrices) multiplied by an activation of {@code seq} rows,
 * the two sets taking turns pass by pass, p50/p90 of a pass. Answers whether a view (4 KiB-aligned,
 * contiguous, memory the engine did not allocate) costs speed in the kernels themselves.
 *
 * <pre>usage: PtViewLatencyProbe MODEL [PASSES]   (BENCH/MODEL.daxfs and BENCH/MODEL.safetensors, from BenchFiles)</pre>
 */
public final class PtViewLatencyProbe {
    private PtViewLatencyProbe() {}

    public static void main(String[] args) throws Exception {
        String model = args[0];
        int passes = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        try (NDManager m = NDManager.newBaseManager("PyTorch");
             ModelWeights w = ModelWeights.open(BenchFiles.DIR.resolve(model + ".daxfs"), model)) {
            NDList views = Loads.views(m, w);
            NDList owned = Loads.directCopy(m, BenchFiles.DIR.resolve(model + ".safetensors"));
            NDList[] sets = {matrices(views), matrices(owned)};
            String[] names = {"views", "owned"};
            for (int seq : new int[] {16, 128, 512}) {
                double[][] ms = new double[2][passes];
                for (int i = 0; i < 3; i++) {
                    pass(m, sets[0], seq);
                    pass(m, sets[1], seq);
                }
                for (int i = 0; i < passes; i++) {
                    for (int k = 0; k < 2; k++) {
                        int j = (k + i) % 2;
                        ms[j][i] = pass(m, sets[j], seq);
                    }
                }
                for (int j = 0; j < 2; j++) {
                    Arrays.sort(ms[j]);
                    System.out.printf("PT mode=%s seq=%d matrices=%d p50_ms=%.2f p90_ms=%.2f n=%d%n", names[j], seq, sets[j].size(),
                            ms[j][passes / 2], ms[j][(int) Math.ceil(passes * 0.9) - 1], passes);
                }
            }
            m.close(); // the views before the mapping they point into
        }
    }

    /** The 2-D F32 weights, in name order (both lists hold the same tensors). */
    static NDList matrices(NDList all) {
        NDList out = new NDList();
        all.stream().filter(a -> a.getShape().dimension() == 2 && a.getDataType() == ai.djl.ndarray.types.DataType.FLOAT32)
                .sorted(java.util.Comparator.comparing(NDArray::getName)).forEach(out::add);
        return out;
    }

    /** x [seq, in] times every weight [out, in] transposed; returns the pass's time in ms. */
    static double pass(NDManager m, NDList weights, int seq) {
        try (NDManager sub = m.newSubManager()) {
            long t = System.nanoTime();
            for (NDArray w : weights) {
                NDArray x = sub.ones(new Shape(seq, w.getShape().get(1)));
                NDArray y = x.matMul(w.transpose());
                y.getFloat(0, 0); // wait for the result
            }
            return (System.nanoTime() - t) / 1e6;
        }
    }
}

package dev.daxload.samples.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import dev.daxload.model.ModelWeights;
import java.nio.file.Path;

/**
 * One of the processes of {@code samples/bench/pss.sh}: loads a model's weights as PyTorch arrays one
 * way, makes every page of them resident, prints {@code READY <pid>} and holds them until killed, so
 * the script can read the process's memory.
 *
 * <pre>
 * usage: WeightsHolder views MODEL    (the image: ModelWeights.open + PtTensorViews.viewAll, then one read per page)
 *        WeightsHolder decode MODEL   (NDList.decode of the safetensors file)
 *        WeightsHolder direct MODEL   (each tensor read into a direct buffer, manager.create)
 *        WeightsHolder none MODEL     (the engine and a manager, no weights: what a process costs without them)
 * </pre>
 *
 * A full GC runs before {@code READY} in every mode, so that garbage the loading left in the heap (DJL's
 * whole-file {@code byte[]}) is not counted as the weights.
 */
public final class WeightsHolder {
    private WeightsHolder() {}

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String model = args[1];
        Path image = BenchFiles.DIR.resolve(model + ".daxfs");
        Path safetensors = BenchFiles.DIR.resolve(model + ".safetensors");
        ModelWeights weights = mode.equals("views") ? ModelWeights.open(image, model) : null;
        NDManager manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        NDList arrays = switch (mode) {
            case "views" -> Loads.views(manager, weights);
            case "decode" -> Loads.djlDecode(manager, safetensors);
            case "direct" -> Loads.directCopy(manager, safetensors);
            case "none" -> new NDList();
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        };
        long sum = weights == null ? 0 : Loads.touch(weights);
        System.gc();
        System.out.println("READY " + ProcessHandle.current().pid() + " mode=" + mode + " arrays=" + arrays.size() + " touch=" + sum);
        System.out.flush();
        // Held until the script kills the process; the references keep everything reachable.
        Thread.sleep(Long.MAX_VALUE);
        manager.close();
        if (weights != null) {
            weights.close();
        }
    }
}

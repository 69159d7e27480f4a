package dev.daxload.samples.bench;

import ai.djl.Device;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import dev.daxload.model.ModelWeights;
import dev.daxload.samples.SentenceEmbeddingTranslator;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/**
 * One fresh process's start-up, for {@code samples/bench/startup.sh}: loads a model one way and prints
 * how long after the JVM started the model was ready, measured from inside (the JVM's own start time, so
 * the launcher script's overhead is not counted):
 *
 * <pre>READY mode=M ready_ms=T load_ms=L [first_ms=F]</pre>
 *
 * {@code ready_ms}: JVM start to model ready; {@code load_ms}: the loading call alone (engine start
 * included where the mode starts the engine); {@code first_ms}: JVM start to the first embedding
 * computed (Criteria modes), which is when a view's pages are first read; {@code own_ms}: daxload's own
 * share, from the call of {@code ModelWeights.open} to every tensor a view (a PyTorch array in {@code pt-views});
 * {@code own_cpu_ms}: the CPU time of the main thread over the same span (background JIT threads not counted);
 * {@code own_proc_cpu_ms}: the whole process's CPU time over the same span (daxload's helper threads, the JIT, the GC).
 *
 * <pre>
 * usage: StartupProbe criteria-daxfs MODEL         (minilm or bge: Criteria with a daxfs: URL of BenchFiles' image;
 *                                                   prepacking off, the URL's default: weights used in place)
 *        StartupProbe criteria-daxfs-prepack MODEL (the same with prepacking=true: ONNX Runtime's default settings)
 *        StartupProbe criteria-onnx MODEL          (the original ONNX file, Criteria.optModelPath, ONNX Runtime's defaults)
 *        StartupProbe open MODEL                (daxload alone, no engine: ModelWeights.open, every tensor a TensorView)
 *        StartupProbe open-shared MODEL         (the same, mapped read-only shared instead of copy-on-write)
 *        StartupProbe pt-views MODEL            (ModelWeights.open + PtTensorViews.viewAll)
 *        StartupProbe pt-views-populate MODEL   (the same, every page faulted in at open: MapOptions.withPopulate)
 *        StartupProbe pt-views-huge MODEL       (the same with MADV_HUGEPAGE: MapOptions.withHugePages)
 *        StartupProbe pt-decode MODEL           (NDList.decode of the model's safetensors file)
 *        StartupProbe pt-direct MODEL           (each tensor read into a direct buffer, manager.create)
 *        (the pt- modes take a third argument, touch: then a first computation reads every
 *        element of every array, the sum of each, and first_ms is JVM start to its end)
 * </pre>
 */
public final class StartupProbe {
    private StartupProbe() {}

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        String model = args[1];
        boolean touch = args.length > 2 && args[2].equals("touch");
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        long t0 = System.nanoTime();
        switch (mode) {
            case "criteria-daxfs", "criteria-daxfs-prepack", "criteria-onnx" -> {
                try (HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(BenchFiles.tokenizer(model))) {
                    SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizer, true);
                    long l0 = System.nanoTime();
                    Criteria.Builder<String, float[]> b = Criteria.builder().setTypes(String.class, float[].class).optTranslator(translator);
                    if (mode.startsWith("criteria-daxfs")) {
                        b.optModelUrls("daxfs://" + BenchFiles.DIR.resolve(model + ".daxfs").toAbsolutePath() + "?model=" + model
                                + (mode.endsWith("-prepack") ? "&prepacking=true" : ""));
                    } else {
                        // ONNX Runtime's defaults (Criteria cannot pass session config entries), so prepacking
                        // is on here: criteria-daxfs-prepack is the image with the same session settings.
                        Path onnx = BenchFiles.onnx(model).toAbsolutePath();
                        b.optModelPath(onnx.getParent()).optModelName(stripOnnx(onnx)).optEngine("OnnxRuntime");
                    }
                    try (ZooModel<String, float[]> zoo = b.build().loadModel()) {
                        long ready = System.currentTimeMillis();
                        long load = System.nanoTime() - l0;
                        try (Predictor<String, float[]> p = zoo.newPredictor()) {
                            float[] e = p.predict("Every process on the host shares one physical copy.");
                            long first = System.currentTimeMillis();
                            report(mode, ready - jvmStart, load, " first_ms=" + (first - jvmStart) + " dim=" + e.length);
                        }
                    }
                }
            }
            // daxload alone, no engine: ModelWeights.open (map, check, index, manifest, every tensor a
            // TensorView), then the same steps split (DaxImage.open, then ModelWeights.of), in one process:
            // the first call pays the class loading and linking, the second shows what is left warm-ish.
            case "open", "open-shared" -> {
                Path image = BenchFiles.DIR.resolve(model + ".daxfs");
                // open: copy-on-write (ModelWeights' default, what PyTorch views need: FileChannel.map(PRIVATE), or mmap through FFM where the file is not writable);
                // open-shared: read-only shared (what ONNX Runtime initializers can use: FileChannel.map).
                MapOptions options = mode.equals("open") ? MapOptions.copyOnWrite() : MapOptions.readOnly();
                long c1 = cpuNanos();
                long p1 = processCpuNanos();
                long t1 = System.nanoTime();
                int n;
                try (ModelWeights w = ModelWeights.open(image, model, options)) {
                    n = w.tensors().size();
                }
                long t2 = System.nanoTime();
                long c2 = cpuNanos();
                long p2 = processCpuNanos();
                long t3, t4;
                try (DaxImage img = DaxImage.open(image, options)) {
                    t3 = System.nanoTime();
                    ModelWeights.of(img, model).close();
                    t4 = System.nanoTime();
                }
                report(mode, System.currentTimeMillis() - jvmStart, t2 - t1, String.format(
                        " own_ms=%.1f own_cpu_ms=%.1f own_proc_cpu_ms=%.1f again_map_ms=%.1f again_manifest_views_ms=%.1f tensors=%d",
                        (t2 - t1) / 1e6, (c2 - c1) / 1e6, (p2 - p1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6, n));
            }
            // The PyTorch modes start the engine first and time each step, to show where the time goes.
            case "pt-views", "pt-views-populate", "pt-views-huge" -> {
                // populate: every page of the mapping faulted in at open (MADV_POPULATE_READ), so the first
                // computation takes no page faults; huge: MADV_HUGEPAGE, so page-cache folios of 2 MiB can be
                // mapped whole (where the file system keeps them) instead of 4 KiB at a time.
                MapOptions options = MapOptions.copyOnWrite().withPopulate(mode.endsWith("-populate")).withHugePages(mode.endsWith("-huge"));
                try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                    long c1 = cpuNanos();
                    long p1 = processCpuNanos();
                    long t1 = System.nanoTime();
                    try (ModelWeights w = ModelWeights.open(BenchFiles.DIR.resolve(model + ".daxfs"), model, options)) {
                        long t2 = System.nanoTime();
                        NDList l = Loads.views(m, w);
                        long t3 = System.nanoTime();
                        long c3 = cpuNanos();
                        long p3 = processCpuNanos();
                        long ready = System.currentTimeMillis();
                        report(mode, ready - jvmStart, t3 - t0, String.format(
                                " engine_ms=%.1f open_ms=%.1f views_ms=%.1f own_ms=%.1f own_cpu_ms=%.1f own_proc_cpu_ms=%.1f tensors=%d",
                                (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t3 - t1) / 1e6, (c3 - c1) / 1e6, (p3 - p1) / 1e6,
                                l.size()) + touch(touch, l, jvmStart));
                        m.close(); // before the weights: the arrays point into the mapping
                    }
                }
            }
            case "pt-decode", "pt-direct" -> {
                Path st = BenchFiles.DIR.resolve(model + ".safetensors");
                try (NDManager m = NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
                    long t1 = System.nanoTime();
                    NDList l = mode.equals("pt-decode") ? Loads.djlDecode(m, st) : Loads.directCopy(m, st);
                    long t2 = System.nanoTime();
                    report(mode, System.currentTimeMillis() - jvmStart, t2 - t0, String.format(
                            " engine_ms=%.1f copy_ms=%.1f tensors=%d", (t1 - t0) / 1e6, (t2 - t1) / 1e6, l.size()) + touch(touch, l, jvmStart));
                }
            }
            default -> throw new IllegalArgumentException("unknown mode " + mode);
        }
    }

    /**
     * With {@code touch}: a first computation that reads every element of every array (the sum of each,
     * in libtorch), as a model's first forward pass reads every weight; for views, the pages come from
     * the page cache (or the disk) now. Returns " first_ms=T touch_ms=D" (JVM start to its end, its own
     * time), or "" without.
     */
    private static String touch(boolean touch, NDList arrays, long jvmStart) {
        if (!touch) {
            return "";
        }
        long t0 = System.nanoTime();
        double sum = 0;
        for (ai.djl.ndarray.NDArray a : arrays) {
            try (ai.djl.ndarray.NDArray s = a.sum(); ai.djl.ndarray.NDArray d = s.toType(ai.djl.ndarray.types.DataType.FLOAT64, false)) {
                sum += d.getDouble();
            }
        }
        long t1 = System.nanoTime();
        return String.format(" first_ms=%d touch_ms=%.1f sum=%s", System.currentTimeMillis() - jvmStart, (t1 - t0) / 1e6, sum);
    }

    /** CPU time of this thread: what the work itself took, whatever else the machine was running. */
    private static long cpuNanos() {
        return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /**
     * CPU time of the whole process (every thread: daxload's own helpers, and also the JIT compilers and
     * the GC), so that work moved off the main thread is still counted.
     */
    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void report(String mode, long readyMs, long loadNanos, String extra) {
        System.out.printf("READY mode=%s ready_ms=%d load_ms=%.1f%s%n", mode, readyMs, loadNanos / 1e6, extra);
        System.out.flush();
    }

    private static String stripOnnx(Path onnx) {
        String n = onnx.getFileName().toString();
        return n.substring(0, n.length() - ".onnx".length());
    }
}

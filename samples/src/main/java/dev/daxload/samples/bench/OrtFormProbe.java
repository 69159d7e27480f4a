package dev.daxload.samples.bench;

import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.ort.OrtFormPackager;
import dev.daxload.packager.ort.OrtOptimizer;
import dev.daxload.packager.source.OnnxReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;

/**
 * One process of {@code samples/bench/ort-form.sh}: an ONNX model (bge-small) served through DJL's ONNX
 * Runtime engine one of four ways, all with ORT's default session settings:
 *
 * <ul>
 *   <li>{@code onnx}: the original {@code .onnx} file;
 *   <li>{@code ort-best}: ONNX Runtime's own best form of it (optimized graph, weights as external data,
 *       prepacked blobs serialized beside them), made once by {@code make};
 *   <li>{@code daxfs}: today's {@code daxfs:} defaults (tensors as initializers over the image, not prepacked);
 *   <li>{@code daxfs-form}: {@code daxfs:} of an image packed with {@code --ort-prepack}: ORT's form from
 *       the image, its blobs mapped from the image file.
 * </ul>
 *
 * <pre>
 * usage: OrtFormProbe make MODEL            makes BENCH/MODEL-ortbest/ and BENCH/MODEL-ortform.daxfs (once)
 *        OrtFormProbe start MODE MODEL      READY mode=M load_ms=L first_ms=F (F: JVM start to first answer, seq 16)
 *        OrtFormProbe latency M1,M2.. MODEL LAT mode=M seq=S batch=B p50_ms=.. p90_ms=.. n=..  for each mode and shape,
 *                                          the modes loaded in one JVM and taking turns request by request
 *        OrtFormProbe hold MODE MODEL       answers once, prints READY, then waits to be killed
 *        OrtFormProbe graph MODEL OUT       writes the optimized graph of MODEL's first form in its image to OUT
 *                                          (for samples/bench/ort-memory-routes.sh)
 * </pre>
 */
public final class OrtFormProbe {
    static final int[] SEQS = {16, 128, 512};
    static final int[] BATCHES = {1, 8};

    private OrtFormProbe() {}

    public static void main(String[] args) throws Exception {
        String what = args[0];
        if (what.equals("make")) {
            make(args[1]);
            return;
        }
        if (what.equals("graph")) {
            try (dev.daxload.image.DaxImage image = dev.daxload.image.DaxImage.open(ortFormImage(args[1]))) {
                Files.write(Path.of(args[2]), dev.daxload.djl.onnx.internal.OrtImageForm.list(image, args[1]).get(0).graph(image));
            }
            return;
        }
        String mode = args[1];
        String model = args[2];
        if (what.equals("latency")) {
            latency(mode.split(","), model);
            return;
        }
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
        long l0 = System.nanoTime();
        try (ZooModel<NDList, NDList> zoo = criteria(mode, model).loadModel();
             Predictor<NDList, NDList> p = zoo.newPredictor();
             NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
            long loaded = System.nanoTime();
            float first = answer(p, m, 1, 16);
            long firstAt = System.currentTimeMillis();
            switch (what) {
                case "start" -> System.out.printf("READY mode=%s load_ms=%.1f first_ms=%d check=%.6f%n",
                        mode, (loaded - l0) / 1e6, firstAt - jvmStart, first);
                case "hold" -> {
                    System.out.printf("READY mode=%s pid=%d%n", mode, ProcessHandle.current().pid());
                    System.out.flush();
                    Thread.sleep(Long.MAX_VALUE); // the script kills us once it has read our memory
                }
                default -> throw new IllegalArgumentException("unknown command " + what);
            }
        }
    }

    /**
     * Serving latency of several ways in one JVM: every way loaded, then for each shape the ways take
     * turns request by request (the order rotating), so a slow spell of the shared machine falls on all
     * of them alike and the ratios between them hold even when absolute times move.
     */
    static void latency(String[] modes, String model) throws Exception {
        double scale = Double.parseDouble(System.getProperty("reps.scale", "1"));
        int n = modes.length;
        java.util.List<ZooModel<NDList, NDList>> zoos = new java.util.ArrayList<>();
        java.util.List<Predictor<NDList, NDList>> ps = new java.util.ArrayList<>();
        try (NDManager m = NDManager.newBaseManager("OnnxRuntime")) {
            for (String mode : modes) {
                ZooModel<NDList, NDList> z = criteria(mode, model).loadModel();
                zoos.add(z);
                ps.add(z.newPredictor());
            }
            for (int batch : BATCHES) {
                for (int seq : SEQS) {
                    int reps = (int) Math.max(5, Math.round(scale * Math.min(100, 16 * 400 / (seq * batch) + 5)));
                    double[][] ms = new double[n][reps];
                    for (int i = 0; i < Math.max(2, reps / 5); i++) {
                        for (Predictor<NDList, NDList> p : ps) {
                            answer(p, m, batch, seq); // warm-up: arena growth, first touch of pages
                        }
                    }
                    for (int i = 0; i < reps; i++) {
                        for (int k = 0; k < n; k++) {
                            int j = (k + i) % n;
                            long t = System.nanoTime();
                            answer(ps.get(j), m, batch, seq);
                            ms[j][i] = (System.nanoTime() - t) / 1e6;
                        }
                    }
                    for (int j = 0; j < n; j++) {
                        Arrays.sort(ms[j]);
                        System.out.printf("LAT mode=%s seq=%d batch=%d p50_ms=%.2f p90_ms=%.2f n=%d%n",
                                modes[j], seq, batch, ms[j][reps / 2], ms[j][(int) Math.ceil(reps * 0.9) - 1], reps);
                    }
                }
            }
        } finally {
            ps.forEach(Predictor::close);
            zoos.forEach(ZooModel::close);
        }
    }

    static Criteria<NDList, NDList> criteria(String mode, String model) {
        Criteria.Builder<NDList, NDList> b = Criteria.builder().setTypes(NDList.class, NDList.class)
                .optTranslator(new NoopTranslator()).optEngine("OnnxRuntime");
        switch (mode) {
            case "onnx" -> {
                Path onnx = BenchFiles.onnx(model).toAbsolutePath();
                String n = onnx.getFileName().toString();
                b.optModelPath(onnx.getParent()).optModelName(n.substring(0, n.length() - ".onnx".length()));
            }
            case "ort-best" -> b.optModelPath(ortBest(model).toAbsolutePath()).optModelName("model");
            case "daxfs" -> b.optModelUrls("daxfs://" + BenchFiles.DIR.resolve(model + ".daxfs").toAbsolutePath() + "?model=" + model);
            case "daxfs-form" -> b.optModelUrls("daxfs://" + ortFormImage(model).toAbsolutePath() + "?model=" + model
                    + System.getProperty("daxload.bench.query", ""));
            default -> throw new IllegalArgumentException("unknown mode " + mode + "; expected onnx, ort-best, daxfs or daxfs-form");
        }
        return b.build();
    }

    static Path ortBest(String model) {
        return BenchFiles.DIR.resolve(model + "-ortbest");
    }

    static Path ortFormImage(String model) {
        return BenchFiles.DIR.resolve(model + "-ortform.daxfs");
    }

    /** Runs the model once on {@code batch} sequences of {@code seq} token ids; returns one output value. */
    static float answer(Predictor<NDList, NDList> p, NDManager m, int batch, int seq) throws Exception {
        try (NDManager sub = m.newSubManager()) {
            NDList out = p.predict(bertInputs(sub, batch, seq));
            return out.get(0).toFloatArray()[seq * 384 / 2];
        }
    }

    /**
     * {@code batch} sequences of {@code seq} token ids (the same ids every time: [CLS], spread ids, [SEP]) with
     * their attention mask and token types, named as a BERT export's inputs are, made by {@code manager}.
     */
    static NDList bertInputs(NDManager manager, int batch, int seq) {
        long[] ids = new long[batch * seq];
        for (int i = 0; i < ids.length; i++) {
            int pos = i % seq;
            ids[i] = pos == 0 ? 101 : pos == seq - 1 ? 102 : 1000 + (i * 7919L) % 20000;
        }
        long[] ones = new long[ids.length];
        Arrays.fill(ones, 1);
        ai.djl.ndarray.types.Shape shape = new ai.djl.ndarray.types.Shape(batch, seq);
        NDArray inputIds = manager.create(ids, shape);
        inputIds.setName("input_ids");
        NDArray mask = manager.create(ones, shape);
        mask.setName("attention_mask");
        NDArray types = manager.create(new long[ids.length], shape); // ORT's manager makes it natively
        types.setName("token_type_ids");
        return new NDList(inputIds, mask, types);
    }

    /** ORT's best form of MODEL's .onnx, and an image of MODEL with that form in it (each made once). */
    static void make(String model) throws Exception {
        Path onnx = BenchFiles.onnx(model);
        Path best = ortBest(model);
        if (!Files.isRegularFile(best.resolve("model.onnx"))) {
            try (SessionOptions o = new SessionOptions(); OrtOptimizer.Form form = OrtOptimizer.optimize(onnx, o)) {
                Path tmp = Files.createDirectories(BenchFiles.DIR.resolve(model + "-ortbest.tmp"));
                Files.copy(form.graph(), tmp.resolve("model.onnx"), StandardCopyOption.REPLACE_EXISTING);
                Files.copy(form.data(), tmp.resolve("model.data"), StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, best, StandardCopyOption.ATOMIC_MOVE);
            }
        }
        Path image = ortFormImage(model);
        if (!Files.isRegularFile(image)) {
            try (OrtFormPackager forms = new OrtFormPackager()) {
                ModelPackager p = new ModelPackager();
                ModelPackager.Model m = p.model(model).add(new OnnxReader().read(onnx));
                Path tok = BenchFiles.tokenizer(model);
                m.sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
                forms.optimize(m, onnx);
                p.write(new ImageWriter(), image);
            }
        }
        System.out.println(best + " " + image);
    }
}

package dev.daxload.samples.bench;

import ai.djl.Model;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.NoopTranslator;
import ai.djl.util.Pair;
import dev.daxload.model.ModelWeights;
import dev.daxload.samples.bert.BertEncoder;
import dev.daxload.samples.bert.OnnxBertNames;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Item 3 of issue 21: a whole model served through DJL's PyTorch engine, its weights daxload's views of
 * an image against the same model loaded the plain way. The model is all-MiniLM-L6-v2 ({@code minilm}) or
 * bge-small ({@code bge}) as a {@link BertEncoder} with the real weights:
 *
 * <ul>
 *   <li>{@code views}: {@code daxfs:} URL, engine PyTorch, the encoder as {@code daxfs.block}: every
 *       parameter a view of the image ({@code PtParameterBinding});
 *   <li>{@code copied}: the same encoder, its parameters from DJL's own safetensors reader
 *       ({@code NDList.decode}: the bytes copied into memory the engine's tensors own).
 * </ul>
 *
 * Both answer through a DJL {@code Predictor}; the outputs must be equal bit for bit (checked on every
 * shape). Latency per request at sequence 16 and 128, batch 1 and 8, the two taking turns request by
 * request in this one JVM (so the shared machine's slow spells fall on both), p50/p90.
 *
 * <pre>usage: PtBertLatencyProbe MODEL [REPS_SCALE]   prints LAT mode=.. seq=.. batch=.. p50_ms=.. p90_ms=.. n=..</pre>
 */
public final class PtBertLatencyProbe {
    static final int[] SEQS = {16, 128};
    static final int[] BATCHES = {1, 8};

    private PtBertLatencyProbe() {}

    public static void main(String[] args) throws Exception {
        String model = args[0];
        double scale = args.length > 1 ? Double.parseDouble(args[1]) : 1;
        BertEncoder.Config config = config(model);
        Path image = BenchFiles.DIR.resolve(model + ".daxfs").toAbsolutePath();
        Map<String, String> names;
        try (ModelWeights w = ModelWeights.open(image, model)) {
            names = OnnxBertNames.of(w.tensors().keySet(), config.layers());
        }
        try (ZooModel<NDList, NDList> views = Criteria.builder().setTypes(NDList.class, NDList.class)
                        .optModelUrls("daxfs://" + image + "?model=" + model).optEngine("PyTorch")
                        .optArgument("daxfs.block", new BertEncoder.Factory(config)).optArgument("daxfs.names", names)
                        .optTranslator(new NoopTranslator()).build().loadModel();
             Model copied = copied(model, config, names);
             Predictor<NDList, NDList> pv = views.newPredictor();
             Predictor<NDList, NDList> pc = copied.newPredictor(new NoopTranslator());
             NDManager m = NDManager.newBaseManager("PyTorch")) {
            ((BertEncoder) views.getBlock()).checkShapes();
            ((BertEncoder) copied.getBlock()).checkShapes();
            String[] modes = {"views", "copied"};
            List<Predictor<NDList, NDList>> ps = List.of(pv, pc);
            for (int batch : BATCHES) {
                for (int seq : SEQS) {
                    float[] a = answer(pv, m, batch, seq);
                    float[] b = answer(pc, m, batch, seq);
                    if (!Arrays.equals(a, b)) {
                        throw new AssertionError("views and copied answer differently at seq " + seq + " batch " + batch);
                    }
                    int reps = (int) Math.max(5, Math.round(scale * Math.min(100, 16 * 400 / (seq * batch) + 5)));
                    double[][] ms = new double[2][reps];
                    for (int i = 0; i < Math.max(2, reps / 5); i++) {
                        answer(pv, m, batch, seq);
                        answer(pc, m, batch, seq);
                    }
                    for (int i = 0; i < reps; i++) {
                        for (int k = 0; k < 2; k++) {
                            int j = (k + i) % 2;
                            long t = System.nanoTime();
                            answer(ps.get(j), m, batch, seq);
                            ms[j][i] = (System.nanoTime() - t) / 1e6;
                        }
                    }
                    for (int j = 0; j < 2; j++) {
                        Arrays.sort(ms[j]);
                        System.out.printf("LAT mode=%s seq=%d batch=%d p50_ms=%.2f p90_ms=%.2f n=%d equal=true%n",
                                modes[j], seq, batch, ms[j][reps / 2], ms[j][(int) Math.ceil(reps * 0.9) - 1], reps);
                    }
                }
            }
        }
    }

    static BertEncoder.Config config(String model) {
        return switch (model) {
            case "minilm" -> BertEncoder.Config.MINILM_L6;
            case "bge" -> BertEncoder.Config.BGE_SMALL;
            default -> throw new IllegalArgumentException("unknown model " + model + "; expected minilm or bge");
        };
    }

    /** The encoder with its parameters read the plain DJL way: {@code NDList.decode} of the model's safetensors file. */
    static Model copied(String model, BertEncoder.Config config, Map<String, String> names) throws Exception {
        Model m = Model.newInstance(model + "-copied", "PyTorch");
        try {
            BertEncoder block = new BertEncoder(config);
            Map<String, NDArray> byName = new HashMap<>();
            for (NDArray a : Loads.djlDecode(m.getNDManager(), BenchFiles.DIR.resolve(model + ".safetensors"))) {
                byName.put(a.getName(), a);
            }
            for (Pair<String, Parameter> p : block.getParameters()) {
                NDArray a = byName.get(names.getOrDefault(p.getKey(), p.getKey()));
                if (a == null) {
                    throw new IllegalStateException("no tensor for parameter " + p.getKey());
                }
                p.getValue().setArray(a);
            }
            m.setBlock(block);
            return m;
        } catch (Exception | Error e) {
            m.close();
            throw e;
        }
    }

    /** The model's answer to {@code batch} sequences of {@code seq} token ids (the same ids every time). */
    static float[] answer(Predictor<NDList, NDList> p, NDManager m, int batch, int seq) throws Exception {
        try (NDManager sub = m.newSubManager()) {
            return p.predict(OrtFormProbe.bertInputs(sub, batch, seq)).head().toFloatArray();
        }
    }
}

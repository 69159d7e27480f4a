package dev.daxload.samples.bert;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which tensor of a BERT exported to ONNX by PyTorch's exporter (HuggingFace's all-MiniLM-L6-v2 and
 * bge-small as published) each {@link BertEncoder} parameter is. The exporter keeps the names of
 * embeddings, biases and norms, and turns every {@code Linear} into a {@code MatMul} over an unnamed,
 * transposed initializer {@code onnx::MatMul_<n>} ({@code [in, out]}), numbered in graph order: per layer
 * query, key, value, attention output, intermediate, output. So the matmul tensors, sorted by number,
 * taken six at a time, are the layers' projections in that order; the shapes are checked when the
 * parameters are bound, and a test compares the encoder's answers with ONNX Runtime's on the same file.
 */
public final class OnnxBertNames {
    private static final String MATMUL = "onnx::MatMul_";
    static final List<String> PROJECTIONS = List.of("attention.self.query", "attention.self.key", "attention.self.value",
            "attention.output.dense", "intermediate.dense", "output.dense");

    private OnnxBertNames() {}

    /**
     * Block parameter name to tensor name, for the parameters whose tensor has another name (the
     * projections); the others have their tensor's name.
     *
     * @param tensorNames every tensor name of the exported model
     * @param layers the encoder's layer count
     */
    public static Map<String, String> of(Collection<String> tensorNames, int layers) {
        List<String> matmuls = new ArrayList<>(tensorNames.stream().filter(n -> n.startsWith(MATMUL)).toList());
        if (matmuls.size() != layers * PROJECTIONS.size()) {
            throw new IllegalArgumentException("expected " + layers * PROJECTIONS.size() + " " + MATMUL + "* tensors for "
                    + layers + " layers, found " + matmuls.size());
        }
        matmuls.sort(Comparator.comparingLong(n -> Long.parseLong(n.substring(MATMUL.length()))));
        Map<String, String> out = new HashMap<>();
        for (int i = 0; i < layers; i++) {
            for (int k = 0; k < PROJECTIONS.size(); k++) {
                out.put("encoder.layer." + i + "." + PROJECTIONS.get(k) + ".matmul", matmuls.get(i * PROJECTIONS.size() + k));
            }
        }
        return out;
    }
}

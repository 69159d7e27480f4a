package dev.daxload.samples.bert;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder (HuggingFace's {@code BertModel} at inference: embeddings, post-norm layers with exact
 * GELU, no pooler) written with DJL's NDArray operations, so that a BERT exported to ONNX (all-MiniLM-L6-v2,
 * bge-small) runs on DJL's PyTorch engine with its own weights. DJL's {@code BertBlock} is not that model
 * (its embedding norm is a batch norm), hence this block.
 *
 * <p>Parameters are named as the HuggingFace tensors ({@code encoder.layer.0.attention.self.query.bias});
 * the projections keep the layout an ONNX export stores them in, {@code [in, out]} ({@code
 * ...query.matmul}), and are applied as {@code x.matMul(w)}, so that each one can be the exported
 * tensor itself: a view of an image binds as it lies, no transposed copy. {@link OnnxBertNames} maps these
 * names to an export's tensor names. Input: {@code input_ids, attention_mask, token_type_ids}, each
 * {@code [batch, seq]} int64; output: the last hidden state {@code [batch, seq, hidden]}.
 */
public final class BertEncoder extends AbstractBlock {
    private static final byte VERSION = 1;
    /** HuggingFace BERT's layer-norm epsilon. */
    static final float EPS = 1e-12f;

    private final Config config;
    private final Map<String, Parameter> params = new java.util.HashMap<>();
    private final Map<String, Shape> shapes = new java.util.HashMap<>();

    /** The shape of a BERT: sizes of the vocabulary, positions, token types, hidden state, MLP; layers and heads. */
    public record Config(int vocab, int positions, int types, int hidden, int intermediate, int layers, int heads) {
        /** all-MiniLM-L6-v2. */
        public static final Config MINILM_L6 = new Config(30522, 512, 2, 384, 1536, 6, 12);
        /** bge-small-en-v1.5. */
        public static final Config BGE_SMALL = new Config(30522, 512, 2, 384, 1536, 12, 12);
    }

    public BertEncoder(Config config) {
        super(VERSION);
        this.config = config;
        int h = config.hidden();
        param("embeddings.word_embeddings.weight", config.vocab(), h);
        param("embeddings.position_embeddings.weight", config.positions(), h);
        param("embeddings.token_type_embeddings.weight", config.types(), h);
        norm("embeddings.LayerNorm", h);
        for (int i = 0; i < config.layers(); i++) {
            String l = "encoder.layer." + i + ".";
            for (String p : List.of("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense")) {
                param(l + p + ".matmul", h, h);
                param(l + p + ".bias", h);
            }
            norm(l + "attention.output.LayerNorm", h);
            param(l + "intermediate.dense.matmul", h, config.intermediate());
            param(l + "intermediate.dense.bias", config.intermediate());
            param(l + "output.dense.matmul", config.intermediate(), h);
            param(l + "output.dense.bias", h);
            norm(l + "output.LayerNorm", h);
        }
    }

    /** The parameter names in declaration order: the embeddings, then each layer's. */
    public List<String> parameterNames() {
        List<String> out = new ArrayList<>();
        getParameters().forEach(p -> out.add(p.getKey()));
        return out;
    }

    private void param(String name, long... shape) {
        // No shape on the Parameter: DJL refuses setArray on a parameter that has one; shapes are checked
        // against the arrays bound (checkShapes), which PtParameterBinding and a copy both go through.
        Parameter p = addParameter(Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build());
        params.put(name, p);
        shapes.put(name, new Shape(shape));
    }

    /**
     * Checks every bound parameter array against the shape this configuration expects.
     *
     * @throws IllegalStateException naming the first parameter whose array is missing or of another shape
     */
    public void checkShapes() {
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            NDArray a = e.getValue().getArray();
            if (!shapes.get(e.getKey()).equals(a.getShape())) {
                throw new IllegalStateException("parameter '" + e.getKey() + "' is " + a.getShape() + ", expected " + shapes.get(e.getKey()));
            }
        }
    }

    private void norm(String prefix, int h) {
        param(prefix + ".weight", h);
        param(prefix + ".bias", h);
    }

    private NDArray p(ParameterStore ps, NDArray on, String name) {
        return ps.getValue(params.get(name), on.getDevice(), false);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray mask = inputs.get(1);
        NDArray types = inputs.get(2);
        long batch = ids.getShape().get(0);
        long seq = ids.getShape().get(1);
        int h = config.hidden();
        int heads = config.heads();
        int hd = h / heads;
        NDManager m = ids.getManager();
        NDArray positions = m.arange(0, (int) seq, 1, DataType.INT64).expandDims(0);
        NDArray x = embed(ids, p(ps, ids, "embeddings.word_embeddings.weight"))
                .add(embed(positions, p(ps, ids, "embeddings.position_embeddings.weight")))
                .add(embed(types, p(ps, ids, "embeddings.token_type_embeddings.weight")));
        x = layerNorm(ps, x, "embeddings.LayerNorm");
        // [batch, 1, 1, seq]: 0 where attended, a large negative number where padded
        NDArray maskBias = mask.toType(DataType.FLOAT32, false).sub(1).mul(1e4f).reshape(batch, 1, 1, seq);
        float scale = (float) (1 / Math.sqrt(hd));
        for (int i = 0; i < config.layers(); i++) {
            String l = "encoder.layer." + i + ".";
            NDArray q = heads(dense(ps, x, l + "attention.self.query"), batch, seq, heads, hd);
            NDArray k = heads(dense(ps, x, l + "attention.self.key"), batch, seq, heads, hd);
            NDArray v = heads(dense(ps, x, l + "attention.self.value"), batch, seq, heads, hd);
            NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(scale).add(maskBias).softmax(-1);
            NDArray ctx = scores.matMul(v).transpose(0, 2, 1, 3).reshape(batch, seq, h);
            x = layerNorm(ps, dense(ps, ctx, l + "attention.output.dense").add(x), l + "attention.output.LayerNorm");
            NDArray mid = Activation.gelu(dense(ps, x, l + "intermediate.dense"));
            x = layerNorm(ps, dense(ps, mid, l + "output.dense").add(x), l + "output.LayerNorm");
        }
        return new NDList(x);
    }

    private static NDArray embed(NDArray ids, NDArray table) {
        return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
    }

    private NDArray dense(ParameterStore ps, NDArray x, String prefix) {
        return x.matMul(p(ps, x, prefix + ".matmul")).add(p(ps, x, prefix + ".bias"));
    }

    private static NDArray heads(NDArray x, long batch, long seq, int heads, int hd) {
        return x.reshape(batch, seq, heads, hd).transpose(0, 2, 1, 3);
    }

    private NDArray layerNorm(ParameterStore ps, NDArray x, String prefix) {
        return x.getNDArrayInternal().layerNorm(x, new Shape(config.hidden()), p(ps, x, prefix + ".weight"), p(ps, x, prefix + ".bias"), EPS)
                .singletonOrThrow();
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape in = inputShapes[0];
        return new Shape[] {new Shape(in.get(0), in.get(1), config.hidden())};
    }

    /** The architecture for a {@code daxfs:} URL's {@code daxfs.block} argument. */
    public static final class Factory implements BlockFactory {
        private static final long serialVersionUID = 1L;
        private final Config config;

        public Factory(Config config) {
            this.config = config;
        }

        @Override
        public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) {
            return new BertEncoder(config);
        }
    }
}

package dev.daxload.samples;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.NoBatchifyTranslator;
import ai.djl.translate.TranslatorContext;
import java.util.function.Supplier;

/**
 * Sentence embeddings from a BERT-style encoder (all-MiniLM-L6-v2, bge-small): tokenize, run, average
 * the token vectors under the attention mask, normalize to unit length, the way sentence-transformers
 * does for these models.
 */
public final class SentenceEmbeddingTranslator implements NoBatchifyTranslator<String, float[]> {
    private static final String MASK = "daxload.attentionMask";

    /** How token vectors become one sentence vector. */
    public enum Pooling {
        /** The mean of the token vectors under the attention mask (all-MiniLM-L6-v2). */
        MEAN,
        /** The first token's vector, {@code [CLS]} (bge-small-en-v1.5). */
        CLS
    }

    private final Supplier<HuggingFaceTokenizer> tokenizer;
    private final boolean withTokenTypes;
    private final Pooling pooling;

    /**
     * Mean pooling.
     *
     * @param tokenizer the model's tokenizer
     * @param withTokenTypes whether the graph takes a {@code token_type_ids} input
     */
    public SentenceEmbeddingTranslator(HuggingFaceTokenizer tokenizer, boolean withTokenTypes) {
        this(tokenizer, withTokenTypes, Pooling.MEAN);
    }

    /**
     * @param tokenizer the model's tokenizer
     * @param withTokenTypes whether the graph takes a {@code token_type_ids} input
     * @param pooling how token vectors are combined
     */
    public SentenceEmbeddingTranslator(HuggingFaceTokenizer tokenizer, boolean withTokenTypes, Pooling pooling) {
        this(() -> tokenizer, withTokenTypes, pooling);
    }

    /**
     * With a tokenizer that may still be loading: {@code tokenizer} is asked on the first input (a
     * server loads it on another thread while the model loads).
     *
     * @param tokenizer gives the model's tokenizer, waiting for it if need be
     * @param withTokenTypes whether the graph takes a {@code token_type_ids} input
     * @param pooling how token vectors are combined
     */
    public SentenceEmbeddingTranslator(Supplier<HuggingFaceTokenizer> tokenizer, boolean withTokenTypes, Pooling pooling) {
        this.tokenizer = tokenizer;
        this.withTokenTypes = withTokenTypes;
        this.pooling = pooling;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, String text) {
        Encoding enc = tokenizer.get().encode(text);
        NDManager m = ctx.getNDManager();
        long[] mask = enc.getAttentionMask();
        ctx.setAttachment(MASK, mask); // per call, not a field: predictors on several threads share this translator
        // Made in their [1, tokens] shape rather than reshaped: ONNX Runtime's arrays have no reshape of their
        // own, which DJL would borrow from PyTorch, its "alternative engine" (loading libtorch for nothing).
        Shape batchOfOne = new Shape(1, mask.length);
        NDArray ids = m.create(enc.getIds(), batchOfOne);
        ids.setName("input_ids");
        NDArray attention = m.create(mask, batchOfOne);
        attention.setName("attention_mask");
        if (!withTokenTypes) {
            return new NDList(ids, attention);
        }
        NDArray types = m.create(enc.getTypeIds(), batchOfOne);
        types.setName("token_type_ids");
        return new NDList(ids, attention, types);
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
        NDArray hidden = list.get(0); // [1, tokens, dim]
        long tokens = hidden.getShape().get(1);
        int dim = (int) hidden.getShape().get(2);
        float[] h = hidden.toFloatArray();
        long[] mask = (long[]) ctx.getAttachment(MASK);
        double[] sum = new double[dim];
        long count = 0;
        for (int t = 0; t < tokens; t++) {
            if (mask[t] == 0 || (pooling == Pooling.CLS && t > 0)) {
                continue;
            }
            count++;
            for (int d = 0; d < dim; d++) {
                sum[d] += h[t * dim + d];
            }
        }
        double norm = 0;
        for (int d = 0; d < dim; d++) {
            sum[d] /= Math.max(1, count);
            norm += sum[d] * sum[d];
        }
        norm = Math.max(Math.sqrt(norm), 1e-12);
        float[] out = new float[dim];
        for (int d = 0; d < dim; d++) {
            out[d] = (float) (sum[d] / norm);
        }
        return out;
    }
}

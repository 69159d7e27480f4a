package dev.daxload.djl.onnx.internal;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession.SessionOptions;
import dev.daxload.manifest.DType;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.io.IOException;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Hands a model's weights to ONNX Runtime as initializers over the image's memory.
 *
 * <p>{@link SessionOptions#addInitializer} keeps a reference to caller memory for the life of the
 * session, so each weight is an {@link OnnxTensor} over a direct buffer of the mapping: no copy. With
 * {@code session.disable_prepacking=1} ONNX Runtime also leaves them in place; with prepacking on it
 * copies matmul weights into its own packed layout (faster matmuls, a private copy of those weights
 * per process): {@code docs/benchmarks.md} measures both.
 */
public final class OrtInitializers implements AutoCloseable {
    private final List<OnnxTensor> tensors;

    private OrtInitializers(List<OnnxTensor> tensors) {
        this.tensors = tensors;
    }

    /**
     * Adds every tensor of {@code weights} to {@code options} as an initializer of the same name.
     *
     * @param prepacking let ONNX Runtime copy weights into packed layouts
     * @return the tensors, to close once the session is closed
     */
    public static OrtInitializers supply(ModelWeights weights, SessionOptions options, boolean prepacking) throws IOException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<OnnxTensor> made = new ArrayList<>();
        try {
            if (!prepacking) {
                options.addConfigEntry("session.disable_prepacking", "1");
            }
            for (TensorView v : weights.tensors().values()) {
                if (v.byteSize() > Integer.MAX_VALUE - 64) {
                    throw new IOException("model '" + weights.name() + "': tensor '" + v.name() + "' is " + v.byteSize()
                            + " bytes; ONNX Runtime's Java API takes at most 2 GiB per initializer");
                }
                OnnxTensor t = OnnxTensor.createTensor(env, v.segment().asByteBuffer().order(ByteOrder.nativeOrder()), v.shape(), javaType(v));
                made.add(t);
                options.addInitializer(v.name(), t);
            }
            return new OrtInitializers(made);
        } catch (OrtException e) {
            made.forEach(OnnxTensor::close);
            throw new IOException("model '" + weights.name() + "': ONNX Runtime refused an initializer: " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            made.forEach(OnnxTensor::close);
            throw e;
        }
    }

    private static OnnxJavaType javaType(TensorView v) throws IOException {
        return switch (v.dtype()) {
            case F32 -> OnnxJavaType.FLOAT;
            case F64 -> OnnxJavaType.DOUBLE;
            case F16 -> OnnxJavaType.FLOAT16;
            case BF16 -> OnnxJavaType.BFLOAT16;
            case I8 -> OnnxJavaType.INT8;
            case U8 -> OnnxJavaType.UINT8;
            case I16 -> OnnxJavaType.INT16;
            case I32 -> OnnxJavaType.INT32;
            case I64 -> OnnxJavaType.INT64;
            case BOOL -> OnnxJavaType.BOOL;
            default -> throw new IOException("tensor '" + v.name() + "': dtype " + v.dtype()
                    + " has no ONNX Runtime Java type" + (v.dtype() == DType.U16 || v.dtype() == DType.U32 || v.dtype() == DType.U64
                            ? " (unsigned types wider than 8 bits are not in its Java API)" : ""));
        };
    }

    int count() {
        return tensors.size();
    }

    @Override
    public void close() {
        tensors.forEach(OnnxTensor::close);
    }
}

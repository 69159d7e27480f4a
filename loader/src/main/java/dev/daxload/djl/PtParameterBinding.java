package dev.daxload.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Binds a PyTorch block's parameters to views of the image (see {@link ModelBinder}): the block comes
 * from the caller's architecture, each parameter gets the tensor of the same name (or the name the
 * caller maps it to), and nothing is read from a parameter file.
 */
final class PtParameterBinding {
    /** Argument naming the architecture: a {@link BlockFactory}, or its class name. */
    static final String BLOCK = "daxfs.block";
    /**
     * Argument mapping block parameter names to tensor names where they differ: a {@code Map<String,
     * String>} or a {@code Function<String, String>}.
     */
    static final String NAMES = "daxfs.names";

    private PtParameterBinding() {}

    static Block bind(Model model, Path modelPath, Map<String, ?> arguments, ModelWeights weights, PtTensorViews.Writes writes)
            throws IOException {
        Block block = architecture(arguments, weights.name()).newBlock(model, modelPath, arguments);
        Function<String, String> names = names(arguments.get(NAMES));
        NDManager manager = model.getNDManager();
        List<String> missing = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            String tensorName = names.apply(p.getKey());
            TensorView view = tensorName == null ? null : weights.tensors().get(tensorName);
            if (view == null) {
                missing.add(p.getKey() + (tensorName != null && !tensorName.equals(p.getKey()) ? " (as '" + tensorName + "')" : ""));
                continue;
            }
            Parameter param = p.getValue();
            if (param.getShape() != null && !Arrays.equals(param.getShape().getShape(), view.shape())) {
                throw new IOException("model '" + weights.name() + "': parameter '" + p.getKey() + "' has shape " + param.getShape()
                        + " but tensor '" + view.name() + "' has " + Arrays.toString(view.shape()));
            }
            param.setArray(PtTensorViews.view(manager, view, writes));
        }
        if (!missing.isEmpty()) {
            List<String> some = weights.tensors().keySet().stream().limit(8).toList();
            throw new IOException("model '" + weights.name() + "': no tensor for " + missing.size() + " block parameters, e.g. "
                    + missing.subList(0, Math.min(5, missing.size())) + "; tensors in the image include " + some
                    + "; map names with .optArgument(\"" + NAMES + "\", Map.of(parameter, tensor))");
        }
        return block;
    }

    private static BlockFactory architecture(Map<String, ?> arguments, String model) throws IOException {
        Object arch = arguments.get(BLOCK);
        if (arch instanceof BlockFactory f) {
            return f;
        }
        if (arch instanceof String className) {
            try {
                return Class.forName(className, true, Thread.currentThread().getContextClassLoader())
                        .asSubclass(BlockFactory.class).getDeclaredConstructor().newInstance();
            } catch (ReflectiveOperationException | ClassCastException e) {
                throw new IOException("daxfs: " + BLOCK + " '" + className + "' is not a BlockFactory with a no-argument constructor", e);
            }
        }
        throw new IOException("daxfs: model '" + model + "' runs on PyTorch as a DJL block: name its architecture with "
                + ".optArgument(\"" + BLOCK + "\", factory), a BlockFactory or its class name");
    }

    @SuppressWarnings("unchecked")
    private static Function<String, String> names(Object mapping) throws IOException {
        if (mapping == null) {
            return Function.identity();
        }
        if (mapping instanceof Map<?, ?> m) {
            return name -> m.containsKey(name) ? (String) m.get(name) : name;
        }
        if (mapping instanceof Function<?, ?> f) {
            return (Function<String, String>) f;
        }
        throw new IOException("daxfs: " + NAMES + " must be a Map<String, String> or a Function<String, String>");
    }
}

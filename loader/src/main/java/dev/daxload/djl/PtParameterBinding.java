package dev.daxload.djl;

import ai.djl.Model;
import ai.djl.nn.Block;
import dev.daxload.model.ModelWeights;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** Binds a PyTorch block's parameters to views of the image (see {@link ModelBinder}). */
final class PtParameterBinding {
    private PtParameterBinding() {}

    static Block bind(Model model, Path modelPath, Map<String, ?> arguments, ModelWeights weights) throws IOException {
        throw new IOException("daxfs: PyTorch parameter binding is not wired yet");
    }
}

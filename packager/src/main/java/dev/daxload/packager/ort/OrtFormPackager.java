package dev.daxload.packager.ort;

import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.model.ModelPackager;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts ONNX Runtime's optimized form of a model into its image ({@link OrtImageForm} describes the
 * layout): the data file with what ORT changed or made (prepacked blobs, fused weights; page-aligned,
 * like every large file of an image), the key, and the graph, made once the image's layout is final so
 * that its external data entries can give absolute offsets into the image: into the data file, or into
 * the model's own tensor files for the initializers ORT left unchanged (weights once on disk). Holds the temporary files ORT wrote until
 * {@link #close()}, which must come after the image is written.
 */
public final class OrtFormPackager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OrtFormPackager.class);
    private static final Attributes FILE = new Attributes(0444, 0, 0);
    private static final Attributes DIR = new Attributes(0555, 0, 0);

    private final List<OrtOptimizer.Form> forms = new ArrayList<>();

    /**
     * Runs ONNX Runtime over {@code onnx} (a model file, its external data beside it) and adds the
     * resulting form under {@code model}.
     *
     * @return the form's directory in the image
     */
    public String optimize(ModelPackager.Model model, java.nio.file.Path onnx) throws IOException {
        try (ai.onnxruntime.OrtSession.SessionOptions options = new ai.onnxruntime.OrtSession.SessionOptions()) {
            return add(model, OrtOptimizer.optimize(onnx, options));
        }
    }

    /** Adds {@code form} (made by {@link OrtOptimizer}) under {@code model}; the form now belongs to this packager. */
    public String add(ModelPackager.Model model, OrtOptimizer.Form form) throws IOException {
        forms.add(form);
        return addForm(model.directory(OrtImageForm.DIR), model.name(), form, model::tensorFile);
    }

    /**
     * Adds {@code form}'s files under {@code ortDir} ({@code <model>/ort}) as {@code <key id>/...}. The
     * initializers ORT left as they were are read from the model's tensor files ({@link OrtDataCompactor}):
     * only what ORT changed or made is stored again.
     *
     * @param tensors the image's file of a tensor of the model, by tensor name, or null
     * @return the form's directory in the image
     */
    static String addForm(Directory ortDir, String model, OrtOptimizer.Form form, Function<String, RegularFile> tensors) throws IOException {
        String id = form.key().id();
        if (ortDir.get(id) != null) {
            throw new IllegalArgumentException("model '" + model + "' already holds an ONNX Runtime form for key " + id);
        }
        byte[] graph = Files.readAllBytes(form.graph());
        String where = model + "/" + OrtImageForm.DIR + "/" + id + "/" + OrtImageForm.GRAPH_FILE;
        // Refuses a bad graph now, not at write time.
        OrtDataCompactor.Compaction data = OrtDataCompactor.compact(graph, form.data(), tensors, where);
        Directory dir = ortDir.directory(id, DIR);
        dir.file(OrtImageForm.KEY_FILE, FileContent.of(form.key().toJson()), FILE);
        RegularFile dataFile = dir.file(OrtImageForm.DATA_FILE, FileContent.of(data.data(), data.size()), FILE);
        dir.file(OrtImageForm.GRAPH_FILE, FileContent.late(layout -> OrtGraphRelocator.relocate(
                graph, OrtOptimizer.DATA_NAME, data.originalSize(), data.placement(layout, dataFile), where).graph()), FILE);
        LOG.debug("{}: {} initializers ({} bytes) read from the model's tensors; ORT's data file {} -> {} bytes",
                where, data.shared().size(), data.sharedBytes(), data.originalSize(), data.size());
        return model + "/" + OrtImageForm.DIR + "/" + id;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (OrtOptimizer.Form f : forms) {
            try {
                f.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        forms.clear();
        if (first != null) {
            throw first;
        }
    }
}

package dev.daxload.packager.ort;

import ai.onnxruntime.OrtSession.SessionOptions;
import dev.daxload.djl.onnx.internal.OrtFormKey;
import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.Attributes;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageTree.RegularFile;
import dev.daxload.packager.image.ImageWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Adds ONNX Runtime's optimized form, made on this machine, to the ONNX models of an image made
 * elsewhere: ORT opens each model's graph with its weights read from the image, writes its form, and a
 * new image is written holding everything the old one held plus {@code <model>/ort/<key id>/} (a form
 * already there for the same key is replaced; forms for other keys are kept, so one image can carry
 * forms for several processors). The new image replaces {@code output} only once it is complete.
 */
public final class ImagePrepacker {
    private static final Attributes DIR = new Attributes(0555, 0, 0);

    private ImagePrepacker() {}

    /** What was done, for the command line to report. */
    public record Result(List<String> forms, List<String> skipped) {}

    /**
     * @param models the models to prepack, or empty for every ONNX model of the image
     * @param alignment the new image's alignment for large files ({@link ImageWriter#alignment})
     */
    public static Result prepack(Path input, Path output, List<String> models, long alignment) throws IOException {
        List<String> forms = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<OrtOptimizer.Form> made = new ArrayList<>();
        try (DaxImage image = DaxImage.open(input)) {
            List<String> all = ModelCatalog.models(image);
            for (String m : models) {
                if (!all.contains(m)) {
                    throw new IOException(input + ": holds no model '" + m + "' (models: " + all + ")");
                }
            }
            OrtFormKey key = OrtFormKey.running(OrtLoadPlan.OPTIMIZATION);
            List<String> chosen = new ArrayList<>();
            for (String m : models.isEmpty() ? all : models) {
                var source = ModelCatalog.load(image, m).source();
                String format = source.has("format") ? source.get("format").getAsString() : "";
                if (!format.contains("onnx") || image.lookup(m + "/files/" + dev.daxload.packager.source.OnnxReader.GRAPH_FILE).isEmpty()) {
                    if (!models.isEmpty()) {
                        throw new IOException(input + ": model '" + m + "' is not an ONNX model (source format '" + format + "')");
                    }
                    skipped.add(m);
                    continue;
                }
                chosen.add(m);
            }
            if (chosen.isEmpty()) {
                throw new IOException(input + ": holds no ONNX model to prepack (models: " + all + ")");
            }
            List<String> replaced = chosen.stream().map(m -> m + "/" + OrtImageForm.DIR + "/" + key.id()).toList();
            ImageTreeCopy.Copy copy = ImageTreeCopy.of(image, input, replaced);
            for (String m : chosen) {
                OrtOptimizer.Form form;
                try (ImageOnnxModel onnx = ImageOnnxModel.of(image, input, m); SessionOptions options = new SessionOptions()) {
                    form = OrtOptimizer.optimize(onnx.graph(), options);
                }
                made.add(form);
                Directory modelDir = copy.models().get(m);
                Map<String, String> files = new HashMap<>();
                ModelCatalog.load(image, m).tensors().forEach(t -> files.put(t.name(), t.file()));
                forms.add(OrtFormPackager.addForm(modelDir.directory(OrtImageForm.DIR, DIR), m, form, name -> tensorFile(modelDir, files.get(name))));
            }
            new ImageWriter().alignment(alignment).write(copy.tree(), output);
        } finally {
            for (OrtOptimizer.Form f : made) {
                f.close();
            }
        }
        return new Result(forms, skipped);
    }

    /** The copied tree's file at {@code relative} (e.g. {@code tensors/x}) under a model directory, or null. */
    private static RegularFile tensorFile(Directory modelDir, String relative) {
        if (relative == null) {
            return null;
        }
        ImageTree.Node n = modelDir;
        for (String part : relative.split("/")) {
            if (!(n instanceof Directory d)) {
                return null;
            }
            n = d.get(part);
        }
        return n instanceof RegularFile f ? f : null;
    }

}

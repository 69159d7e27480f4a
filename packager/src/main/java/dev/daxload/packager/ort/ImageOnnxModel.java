package dev.daxload.packager.ort;

import dev.daxload.djl.onnx.internal.OrtImageForm;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.packager.source.onnxproto.GraphProto;
import dev.daxload.packager.source.onnxproto.ModelProto;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A model of an image as an ONNX file ONNX Runtime can open, without copying its weights: the image's
 * graph ({@code files/model.onnx}, whose initializers name a placeholder file) with every initializer
 * pointed at its tensor inside the image, through a link to the image file beside the graph. For
 * images packed elsewhere, so ORT can make its optimized form from what the image holds.
 */
final class ImageOnnxModel implements AutoCloseable {
    private final Path dir;

    private ImageOnnxModel(Path dir) {
        this.dir = dir;
    }

    Path graph() {
        return dir.resolve("model.onnx");
    }

    static ImageOnnxModel of(DaxImage image, Path imageFile, String model) throws IOException {
        String where = image.source() + ":/" + model + "/files/" + OnnxReader.GRAPH_FILE;
        ModelManifest manifest = ModelCatalog.load(image, model);
        Map<String, TensorEntry> tensors = manifest.tensorsByName();
        ModelProto proto = ModelProto.parseFrom(ImageTreeCopy.read(image, model + "/files/" + OnnxReader.GRAPH_FILE));
        GraphProto.Builder g = proto.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            boolean placeholder = t.getDataLocation() == 1 && t.getExternalDataList().stream()
                    .anyMatch(e -> e.getKey().equals("location") && e.getValue().equals(OnnxReader.EXTERNAL_PLACEHOLDER));
            if (!placeholder) {
                continue;
            }
            TensorEntry entry = tensors.get(t.getName());
            if (entry == null) {
                throw new IOException(where + ": initializer '" + t.getName() + "' has no tensor in the manifest");
            }
            g.setInitializer(i, t.toBuilder().clearExternalData()
                    .addExternalData(entry("location", OrtImageForm.IMAGE_LINK))
                    .addExternalData(entry("offset", Long.toString(entry.offset())))
                    .addExternalData(entry("length", Long.toString(entry.length()))));
        }
        Path dir = Files.createTempDirectory("daxload-ort-prepack-");
        try {
            Files.write(dir.resolve("model.onnx"), proto.toBuilder().setGraph(g).build().toByteArray());
            Files.createSymbolicLink(dir.resolve(OrtImageForm.IMAGE_LINK), imageFile.toRealPath());
            return new ImageOnnxModel(dir);
        } catch (IOException | RuntimeException e) {
            new ImageOnnxModel(dir).close();
            throw e;
        }
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    @Override
    public void close() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

package dev.daxload.registry;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.TreeSet;

/**
 * How a daxload image travels as a CNCF ModelPack artifact: an OCI image manifest with artifact type
 * {@value #ARTIFACT_TYPE}, a {@value #CONFIG_TYPE} config describing the models from the image's own manifests, and
 * one layer that is the image file itself, uncompressed and untarred ({@value #LAYER_TYPE}), so that its digest is the
 * sha256 of the image and registries serve ranges of it. Nothing in them depends on the time of the push: the same
 * image pushed twice gives the same manifest digest, which is what servers pin.
 */
public final class ModelPackArtifact {
    /** The ModelPack artifact type. */
    public static final String ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json";
    /** The ModelPack config media type. */
    public static final String CONFIG_TYPE = "application/vnd.cncf.model.config.v1+json";
    /** ModelPack's media type for weights stored as they are (no tar, no compression). */
    public static final String LAYER_TYPE = "application/vnd.cncf.model.weight.v1.raw";
    /** ModelPack's annotation naming a layer's file. */
    public static final String FILEPATH_ANNOTATION = "org.cncf.model.filepath";
    /** daxload's own annotation on the image layer: the DAXFS format version of the image. */
    public static final String IMAGE_ANNOTATION = "dev.daxload.image.format";

    private ModelPackArtifact() {
    }

    /** The image layer of an artifact: its digest, size and file name. */
    public record ImageLayer(String digest, long size, String fileName) {
    }

    /**
     * The config document for {@code image}: ModelPack's descriptor/config/modelfs, and under {@code dev.daxload}
     * each model's name, source format, tensor count, parameter count and dtypes, and the image format version.
     */
    public static byte[] config(DaxImage image, String imageDigest, String title) throws IOException {
        JsonObject descriptor = new JsonObject();
        descriptor.addProperty("name", title);
        JsonArray models = new JsonArray();
        long parameters = 0;
        TreeSet<String> precisions = new TreeSet<>();
        TreeSet<String> formats = new TreeSet<>();
        for (String name : ModelCatalog.models(image)) {
            ModelManifest m = ModelCatalog.load(image, name);
            long modelParameters = 0;
            TreeSet<String> dtypes = new TreeSet<>();
            for (TensorEntry t : m.tensors()) {
                modelParameters += t.elementCount();
                dtypes.add(t.dtype().name().toLowerCase(Locale.ROOT));
            }
            parameters += modelParameters;
            precisions.addAll(dtypes);
            String format = m.source().has("format") ? m.source().get("format").getAsString() : "unknown";
            formats.add(format);
            JsonObject o = new JsonObject();
            o.addProperty("name", name);
            o.addProperty("format", format);
            o.addProperty("tensors", m.tensors().size());
            o.addProperty("parameters", modelParameters);
            JsonArray d = new JsonArray();
            dtypes.forEach(d::add);
            o.add("dtypes", d);
            o.addProperty("sideFiles", m.files().size());
            o.addProperty("tables", m.tables().size());
            models.add(o);
        }
        JsonObject config = new JsonObject();
        config.addProperty("format", formats.size() == 1 ? formats.first() : formats.isEmpty() ? "daxfs" : "mixed");
        config.addProperty("paramSize", paramSize(parameters));
        if (!precisions.isEmpty()) {
            config.addProperty("precision", precisions.size() == 1 ? precisions.first() : "mixed");
        }
        JsonObject modelfs = new JsonObject();
        modelfs.addProperty("type", "layers");
        JsonArray diffIds = new JsonArray();
        diffIds.add(imageDigest);
        modelfs.add("diff_ids", diffIds);
        JsonObject daxload = new JsonObject();
        daxload.addProperty("imageFormat", image.superblock().version());
        daxload.addProperty("imageBytes", image.segment().byteSize());
        daxload.add("models", models);
        JsonObject root = new JsonObject();
        root.add("descriptor", descriptor);
        root.add("config", config);
        root.add("modelfs", modelfs);
        root.add("dev.daxload", daxload);
        return new GsonBuilder().disableHtmlEscaping().create().toJson(root).getBytes(StandardCharsets.UTF_8);
    }

    /** The OCI image manifest that ties the config and the image layer together. */
    public static byte[] manifest(byte[] config, ImageLayer layer, int imageFormat) {
        JsonObject m = new JsonObject();
        m.addProperty("schemaVersion", 2);
        m.addProperty("mediaType", RegistryClient.OCI_MANIFEST);
        m.addProperty("artifactType", ARTIFACT_TYPE);
        m.add("config", descriptor(CONFIG_TYPE, Digests.of(config), config.length));
        JsonObject l = descriptor(LAYER_TYPE, layer.digest(), layer.size());
        JsonObject ann = new JsonObject();
        ann.addProperty(FILEPATH_ANNOTATION, layer.fileName());
        ann.addProperty(IMAGE_ANNOTATION, Integer.toString(imageFormat));
        l.add("annotations", ann);
        JsonArray layers = new JsonArray();
        layers.add(l);
        m.add("layers", layers);
        return new GsonBuilder().disableHtmlEscaping().create().toJson(m).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The daxload image layer of a fetched manifest.
     *
     * @throws RegistryException naming {@code ref} when the manifest is not an OCI image manifest, or holds no layer
     *                           carrying daxload's annotation
     */
    public static ImageLayer imageLayer(RegistryClient.FetchedManifest fetched, ImageReference ref) throws RegistryException {
        JsonObject m;
        try {
            JsonElement e = JsonParser.parseString(new String(fetched.body(), StandardCharsets.UTF_8));
            m = e.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new RegistryException(ref + " (" + fetched.digest() + "): the manifest is not JSON");
        }
        String mediaType = m.has("mediaType") ? m.get("mediaType").getAsString() : fetched.mediaType();
        if (!mediaType.equals(RegistryClient.OCI_MANIFEST)) {
            throw new RegistryException(ref + " (" + fetched.digest() + "): a " + mediaType
                    + ", not an OCI image manifest; daxload images travel as ModelPack artifacts (daxload push)");
        }
        JsonArray layers = m.has("layers") && m.get("layers").isJsonArray() ? m.getAsJsonArray("layers") : new JsonArray();
        StringBuilder seen = new StringBuilder();
        for (JsonElement e : layers) {
            JsonObject l = e.getAsJsonObject();
            String type = l.has("mediaType") ? l.get("mediaType").getAsString() : "?";
            seen.append(seen.isEmpty() ? "" : ", ").append(type);
            JsonObject ann = l.has("annotations") ? l.getAsJsonObject("annotations") : new JsonObject();
            if (ann.has(IMAGE_ANNOTATION)) {
                String digest = l.get("digest").getAsString();
                Digests.check(digest, ref + " layer");
                long size = l.get("size").getAsLong();
                if (size < 0) {
                    throw new RegistryException(ref + ": layer " + digest + " declares a negative size");
                }
                String file = Optional.ofNullable(ann.get(FILEPATH_ANNOTATION)).map(JsonElement::getAsString).orElse("image.daxfs");
                return new ImageLayer(digest, size, file);
            }
        }
        String artifactType = m.has("artifactType") ? m.get("artifactType").getAsString() : "none";
        throw new RegistryException(ref + " (" + fetched.digest() + "): holds no daxload image (artifact type " + artifactType
                + ", layers: " + (seen.isEmpty() ? "none" : seen) + "; a daxload image layer carries the annotation "
                + IMAGE_ANNOTATION + ")");
    }

    private static JsonObject descriptor(String mediaType, String digest, long size) {
        JsonObject o = new JsonObject();
        o.addProperty("mediaType", mediaType);
        o.addProperty("digest", digest);
        o.addProperty("size", size);
        return o;
    }

    /** ModelPack's {@code <count><scale>}: 22.7m, 6.7b. */
    static String paramSize(long parameters) {
        String[] scales = {"", "k", "m", "b", "t", "q"};
        double v = parameters;
        int i = 0;
        while (v >= 1000 && i < scales.length - 1) {
            v /= 1000;
            i++;
        }
        return i == 0 ? Long.toString(parameters) : String.format(Locale.ROOT, "%.1f%s", v, scales[i]);
    }
}

package dev.daxload.registry;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.nio.charset.StandardCharsets;

/**
 * The OCI container image form of an image ({@code daxload push --as-image}): a config whose one layer is an
 * uncompressed tar (so its diff ID is its digest) and a manifest naming it. Nothing depends on the time of the push.
 */
final class ContainerImage {
    static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
    static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar";

    private ContainerImage() {
    }

    static byte[] config(String tarDigest) {
        JsonObject c = new JsonObject();
        c.addProperty("architecture", switch (System.getProperty("os.arch")) {
            case "aarch64" -> "arm64";
            case "x86_64", "amd64" -> "amd64";
            default -> System.getProperty("os.arch");
        });
        c.addProperty("os", "linux");
        c.add("config", new JsonObject());
        JsonObject rootfs = new JsonObject();
        rootfs.addProperty("type", "layers");
        JsonArray diffIds = new JsonArray();
        diffIds.add(tarDigest);
        rootfs.add("diff_ids", diffIds);
        c.add("rootfs", rootfs);
        JsonArray history = new JsonArray();
        JsonObject h = new JsonObject();
        h.addProperty("created_by", "daxload push --as-image");
        history.add(h);
        c.add("history", history);
        return json(c);
    }

    static byte[] manifest(byte[] config, String tarDigest, long tarSize, String fileName) {
        JsonObject m = new JsonObject();
        m.addProperty("schemaVersion", 2);
        m.addProperty("mediaType", RegistryClient.OCI_MANIFEST);
        JsonObject cfg = new JsonObject();
        cfg.addProperty("mediaType", CONFIG_TYPE);
        cfg.addProperty("digest", Digests.of(config));
        cfg.addProperty("size", config.length);
        m.add("config", cfg);
        JsonObject layer = new JsonObject();
        layer.addProperty("mediaType", LAYER_TYPE);
        layer.addProperty("digest", tarDigest);
        layer.addProperty("size", tarSize);
        JsonObject ann = new JsonObject();
        ann.addProperty(ModelPackArtifact.FILEPATH_ANNOTATION, fileName);
        layer.add("annotations", ann);
        JsonArray layers = new JsonArray();
        layers.add(layer);
        m.add("layers", layers);
        return json(m);
    }

    private static byte[] json(JsonObject o) {
        return new GsonBuilder().disableHtmlEscaping().create().toJson(o).getBytes(StandardCharsets.UTF_8);
    }
}

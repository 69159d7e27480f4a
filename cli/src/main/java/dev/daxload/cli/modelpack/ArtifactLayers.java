package dev.daxload.cli.modelpack;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.RegistryClient;
import dev.daxload.registry.RegistryException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The layers of a ModelPack artifact (model-spec, {@code specs-go/v1/mediatype.go}) that {@code pull --pack} takes:
 * weights ({@code application/vnd.cncf.model.weight.v1.raw|tar}) and the files that go with them (weight configs,
 * docs, code: {@code ...weight.config.v1.raw|tar}, {@code ...doc.v1.*}, {@code ...code.v1.*}), each with its path
 * in {@code org.cncf.model.filepath}. Compressed layers and any other type are refused by name.
 */
public final class ArtifactLayers {
    static final String ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json";
    static final String FILEPATH = "org.cncf.model.filepath";
    private static final String PREFIX = "application/vnd.cncf.model.";
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

    /** One layer: a weight file (read as it streams) or a side file (fetched whole). */
    public record Layer(String digest, long size, String path, boolean weight, boolean tar) {
    }

    private ArtifactLayers() {
    }

    /**
     * The layers of {@code fetched}, in manifest order.
     *
     * @throws RegistryException naming {@code ref} and the manifest digest for anything that is not a ModelPack
     *                           artifact of weight files daxload can stream
     */
    public static List<Layer> of(RegistryClient.FetchedManifest fetched, ImageReference ref) throws RegistryException {
        String where = ref.digest().isPresent() ? ref.toString() : ref + " (" + fetched.digest() + ")";
        JsonObject m;
        try {
            m = JsonParser.parseString(new String(fetched.body(), StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new RegistryException(where + ": the manifest is not a JSON object");
        }
        String artifactType = string(m, "artifactType");
        String configType = m.has("config") && m.get("config").isJsonObject() ? string(m.getAsJsonObject("config"), "mediaType") : null;
        if (!ARTIFACT_TYPE.equals(artifactType) && !"application/vnd.cncf.model.config.v1+json".equals(configType)) {
            throw new RegistryException(where + ": not a ModelPack artifact (artifactType " + artifactType + ", config " + configType
                    + "; expected " + ARTIFACT_TYPE + ")");
        }
        JsonArray layers = m.has("layers") && m.get("layers").isJsonArray() ? m.getAsJsonArray("layers") : new JsonArray();
        List<Layer> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            JsonElement e = layers.get(i);
            String at = where + " layers[" + i + "]";
            if (!e.isJsonObject()) {
                throw new RegistryException(at + ": not an object");
            }
            JsonObject l = e.getAsJsonObject();
            String type = string(l, "mediaType");
            String digest = string(l, "digest");
            if (digest == null || !DIGEST.matcher(digest).matches()) {
                throw new RegistryException(at + ": digest " + digest + " (expected sha256: and 64 lower-case hex digits)");
            }
            long size = l.has("size") && l.get("size").isJsonPrimitive() ? l.get("size").getAsLong() : -1;
            if (size < 0) {
                throw new RegistryException(at + " (" + digest + "): no size, or a negative one");
            }
            JsonObject ann = l.has("annotations") && l.get("annotations").isJsonObject() ? l.getAsJsonObject("annotations") : new JsonObject();
            String path = string(ann, FILEPATH);
            if (type == null || !type.startsWith(PREFIX)) {
                throw new RegistryException(at + " (" + digest + "): media type " + type + " is not a ModelPack layer");
            }
            String kind = type.substring(PREFIX.length());
            boolean weight;
            boolean tar;
            switch (kind) {
                case "weight.v1.raw" -> { weight = true; tar = false; }
                case "weight.v1.tar" -> { weight = true; tar = true; }
                case "weight.config.v1.raw", "doc.v1.raw", "code.v1.raw" -> { weight = false; tar = false; }
                case "weight.config.v1.tar", "doc.v1.tar", "code.v1.tar" -> { weight = false; tar = true; }
                default -> throw new RegistryException(at + " (" + digest + "): media type " + type + " is not packed by pull --pack"
                        + (kind.endsWith("+gzip") || kind.endsWith("+zstd")
                        ? " (compressed layers are not streamed; push with modctl's --raw or uncompressed tar)"
                        : " (it takes weight, weight.config, doc and code layers, .v1.raw or .v1.tar)"));
            }
            if (path == null) {
                throw new RegistryException(at + " (" + digest + "): no " + FILEPATH + " annotation (the file's path in the model)");
            }
            checkPath(path, at + " (" + digest + ") " + FILEPATH);
            if (hidden(path)) {
                continue; // pack-model skips hidden files (.gitattributes, .cache) too
            }
            out.add(new Layer(digest, size, path, weight, tar));
        }
        if (out.stream().noneMatch(Layer::weight)) {
            throw new RegistryException(where + ": no weight layer (" + PREFIX + "weight.v1.raw or .tar)");
        }
        return out;
    }

    /** A relative path inside the model: no leading '/', no '.' or '..' parts, no empty parts. */
    static void checkPath(String path, String what) throws RegistryException {
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..") || part.indexOf('\0') >= 0) {
                throw new RegistryException(what + ": '" + path + "' is not a relative path inside the model"
                        + " (no leading '/', no empty, '.' or '..' parts)");
            }
        }
    }

    private static boolean hidden(String path) {
        for (String part : path.split("/")) {
            if (part.startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static String string(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e != null && e.isJsonPrimitive() ? e.getAsString() : null;
    }
}

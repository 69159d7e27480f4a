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
 *
 * <p>Docker Model Runner's own artifacts (config {@code application/vnd.docker.ai.model.config.v0.1+json} or
 * {@code v0.2}) are read too: {@code application/vnd.docker.ai.gguf.v3} and {@code ...safetensors} layers are weights
 * as they are, {@code ...license} and {@code ...chat.template.jinja} side files, {@code ...vllm.config.tar} and
 * {@code ...dir.tar} archives of side files. v0.1 layers carry no path: weights are named as Hugging Face names
 * shards ({@code model.gguf}, {@code model-00001-of-00002.safetensors}), in manifest order.
 */
public final class ArtifactLayers {
    static final String ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json";
    static final String FILEPATH = "org.cncf.model.filepath";
    private static final String PREFIX = "application/vnd.cncf.model.";
    private static final String DMR_PREFIX = "application/vnd.docker.ai.";
    private static final String DMR_CONFIG = DMR_PREFIX + "model.config.";
    private static final String TITLE = "org.opencontainers.image.title";
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");

    /**
     * One layer: a weight file (read as it streams) or a side file (fetched whole); {@code archive}: a tar of
     * several side files, unpacked under {@code path} ({@code ""}: the model's root).
     */
    public record Layer(String digest, long size, String path, boolean weight, boolean tar, boolean archive) {
        Layer(String digest, long size, String path, boolean weight, boolean tar) {
            this(digest, size, path, weight, tar, false);
        }
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
        JsonArray layers = m.has("layers") && m.get("layers").isJsonArray() ? m.getAsJsonArray("layers") : new JsonArray();
        if (configType != null && configType.startsWith(DMR_CONFIG)) {
            return dockerModelRunner(layers, where);
        }
        if (!ARTIFACT_TYPE.equals(artifactType) && !"application/vnd.cncf.model.config.v1+json".equals(configType)) {
            throw new RegistryException(where + ": not a ModelPack artifact (artifactType " + artifactType + ", config " + configType
                    + "; expected " + ARTIFACT_TYPE + " or a Docker Model Runner model, config " + DMR_CONFIG + "*)");
        }
        List<Layer> out = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            JsonElement e = layers.get(i);
            String at = where + " layers[" + i + "]";
            if (!e.isJsonObject()) {
                throw new RegistryException(at + ": not an object");
            }
            JsonObject l = e.getAsJsonObject();
            String type = string(l, "mediaType");
            String digest = digest(l, at);
            long size = size(l, at, digest);
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

    /** The layers of a Docker Model Runner artifact (its {@code types.go} media types). */
    private static List<Layer> dockerModelRunner(JsonArray layers, String where) throws RegistryException {
        List<JsonObject> objects = new ArrayList<>();
        int ggufs = 0;
        int safetensors = 0;
        for (int i = 0; i < layers.size(); i++) {
            if (!layers.get(i).isJsonObject()) {
                throw new RegistryException(where + " layers[" + i + "]: not an object");
            }
            JsonObject l = layers.get(i).getAsJsonObject();
            objects.add(l);
            String type = string(l, "mediaType");
            ggufs += (DMR_PREFIX + "gguf.v3").equals(type) ? 1 : 0;
            safetensors += (DMR_PREFIX + "safetensors").equals(type) ? 1 : 0;
        }
        List<Layer> out = new ArrayList<>();
        int gguf = 0;
        int st = 0;
        int licenses = 0;
        for (int i = 0; i < objects.size(); i++) {
            JsonObject l = objects.get(i);
            String at = where + " layers[" + i + "]";
            String type = string(l, "mediaType");
            String digest = digest(l, at);
            long size = size(l, at, digest);
            JsonObject ann = l.has("annotations") && l.get("annotations").isJsonObject() ? l.getAsJsonObject("annotations") : new JsonObject();
            String named = string(ann, FILEPATH) != null ? string(ann, FILEPATH) : string(ann, TITLE);
            String kind = type == null || !type.startsWith(DMR_PREFIX) ? null : type.substring(DMR_PREFIX.length());
            Layer layer = switch (kind == null ? "" : kind) {
                case "gguf.v3" -> new Layer(digest, size, named != null ? named : shardName("model", ++gguf, ggufs, "gguf"), true, false);
                case "safetensors" -> new Layer(digest, size, named != null ? named : shardName("model", ++st, safetensors, "safetensors"), true, false);
                case "license" -> new Layer(digest, size, named != null ? named : (++licenses == 1 ? "LICENSE" : "LICENSE-" + licenses), false, false);
                case "chat.template.jinja" -> new Layer(digest, size, named != null ? named : "chat_template.jinja", false, false);
                case "vllm.config.tar", "dir.tar" -> new Layer(digest, size, "", false, true, true);
                default -> throw new RegistryException(at + " (" + digest + "): media type " + type + " is not packed by pull --pack"
                        + " (from a Docker Model Runner artifact it takes gguf.v3 and safetensors weights, license and"
                        + " chat.template.jinja files, vllm.config.tar and dir.tar archives)");
            };
            if (!layer.archive()) {
                checkPath(layer.path(), at + " (" + digest + ") path");
                if (hidden(layer.path())) {
                    continue;
                }
            }
            out.add(layer);
        }
        if (out.stream().noneMatch(Layer::weight)) {
            throw new RegistryException(where + ": no weight layer (" + DMR_PREFIX + "gguf.v3 or " + DMR_PREFIX + "safetensors)");
        }
        return out;
    }

    private static String digest(JsonObject layer, String at) throws RegistryException {
        String digest = string(layer, "digest");
        if (digest == null || !DIGEST.matcher(digest).matches()) {
            throw new RegistryException(at + ": digest " + digest + " (expected sha256: and 64 lower-case hex digits)");
        }
        return digest;
    }

    private static long size(JsonObject layer, String at, String digest) throws RegistryException {
        long size = layer.has("size") && layer.get("size").isJsonPrimitive() ? layer.get("size").getAsLong() : -1;
        if (size < 0) {
            throw new RegistryException(at + " (" + digest + "): no size, or a negative one");
        }
        return size;
    }

    /** {@code model.gguf} for one file, {@code model-00001-of-00003.gguf} for shards (Hugging Face's names). */
    private static String shardName(String stem, int index, int count, String ext) {
        return count == 1 ? stem + "." + ext : String.format("%s-%05d-of-%05d.%s", stem, index, count, ext);
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

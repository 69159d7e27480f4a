package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Reads a safetensors model split into shards, as Hugging Face saves it: an index
 * ({@code model.safetensors.index.json}: {@code {"metadata": {...}, "weight_map": {tensor: shard}}}) beside
 * the shard files. Given the index or the directory holding it, every shard named by the weight map is read
 * once with {@link SafetensorsReader}'s checks, and the two must agree exactly: every mapped tensor is in
 * the shard the index names, every tensor of a shard is mapped to that shard (so no tensor is in two
 * shards), and shard names stay inside the index's directory.
 *
 * <p>Metadata: the index's {@code metadata} object, plus each shard's {@code __metadata__} entries that
 * the index does not set. When shards disagree on a key, all shards' metadata is kept under
 * {@code "shard_metadata"} by shard file name.
 */
public final class ShardedSafetensorsReader implements SourceReader {
    /** The index file name {@code save_pretrained} writes. */
    public static final String INDEX = "model.safetensors.index.json";
    private static final String INDEX_SUFFIX = ".safetensors.index.json";
    private static final long MAX_INDEX = 256L << 20;

    @Override
    public String format() {
        return "safetensors";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        return findIndex(path) != null;
    }

    /** The index for {@code path}: the path itself, or the one index in a directory; null if none. */
    static Path findIndex(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            return path.getFileName().toString().endsWith(INDEX_SUFFIX) ? path : null;
        }
        if (!Files.isDirectory(path)) {
            return null;
        }
        Path standard = path.resolve(INDEX);
        if (Files.isRegularFile(standard)) {
            return standard;
        }
        try (Stream<Path> s = Files.list(path)) {
            List<Path> found = s.filter(p -> p.getFileName().toString().endsWith(INDEX_SUFFIX) && Files.isRegularFile(p))
                    .toList();
            return found.size() == 1 ? found.getFirst() : null;
        }
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        Path index = findIndex(path);
        if (index == null) {
            throw new SourceFormatException(path, -1, "no " + INDEX + " (or single *" + INDEX_SUFFIX + ") found");
        }
        Path dir = index.toAbsolutePath().normalize().getParent();
        JsonObject indexMeta = new JsonObject();
        Map<String, String> weightMap = new LinkedHashMap<>();
        parseIndex(index, indexMeta, weightMap);

        // shards in name order: Hugging Face numbers them model-0000k-of-0000n, so this is their natural order
        TreeMap<String, Path> shards = new TreeMap<>();
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            String shard = e.getValue();
            if (!shards.containsKey(shard)) {
                shards.put(shard, shardPath(index, dir, shard, e.getKey()));
            }
        }
        List<Path> files = new ArrayList<>();
        files.add(index);
        List<SourceTensor> tensors = new ArrayList<>();
        Map<String, Map<String, String>> shardMeta = new LinkedHashMap<>();
        Set<String> found = new HashSet<>();
        for (Map.Entry<String, Path> s : shards.entrySet()) {
            SafetensorsReader.Parsed p = SafetensorsReader.parse(s.getValue());
            files.add(s.getValue());
            shardMeta.put(s.getKey(), p.metadata());
            for (SourceTensor t : p.tensors()) {
                String mapped = weightMap.get(t.name());
                if (mapped == null) {
                    throw new SourceFormatException(s.getValue(), -1, "tensor \"" + t.name()
                            + "\" is in this shard but not in the weight_map of " + index.getFileName());
                }
                if (!mapped.equals(s.getKey())) {
                    throw new SourceFormatException(s.getValue(), -1, "tensor \"" + t.name() + "\" is in this shard but "
                            + index.getFileName() + " maps it to " + mapped);
                }
                found.add(t.name());
                tensors.add(t);
            }
        }
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            if (!found.contains(e.getKey())) {
                throw new SourceFormatException(index, -1, "weight_map maps tensor \"" + e.getKey() + "\" to "
                        + e.getValue() + ", which does not contain it");
            }
        }
        return new SourceModel("safetensors", files, merge(indexMeta, shardMeta), tensors, Map.of());
    }

    private static Path shardPath(Path index, Path dir, String shard, String tensor) throws SourceFormatException {
        Path p;
        try {
            p = dir.resolve(shard).normalize();
        } catch (RuntimeException e) {
            throw new SourceFormatException(index, -1, "weight_map entry \"" + tensor + "\" names an invalid shard path \""
                    + shard + "\"");
        }
        if (shard.isEmpty() || Path.of(shard).isAbsolute() || !p.startsWith(dir) || p.equals(dir)) {
            throw new SourceFormatException(index, -1, "weight_map entry \"" + tensor + "\" names shard \"" + shard
                    + "\", which is not a file inside " + dir);
        }
        if (!Files.isRegularFile(p)) {
            throw new SourceFormatException(index, -1, "weight_map entry \"" + tensor + "\" names shard \"" + shard
                    + "\", which does not exist");
        }
        return p;
    }

    private static void parseIndex(Path index, JsonObject meta, Map<String, String> weightMap) throws IOException {
        long size = Files.size(index);
        if (size > MAX_INDEX) {
            throw new SourceFormatException(index, -1, "index is " + size + " bytes, over the " + MAX_INDEX + "-byte limit");
        }
        MemoryBudget.require(index, -1, "index size", size, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(index))).toString();
        } catch (CharacterCodingException e) {
            throw new SourceFormatException(index, -1, "index is not valid UTF-8");
        }
        boolean sawMap = false;
        try {
            JsonReader r = StrictJson.reader(text);
            StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "the index");
            r.beginObject();
            Set<String> keys = new HashSet<>();
            while (r.hasNext()) {
                String k = r.nextName();
                StrictJson.unique(keys, k, r);
                switch (k) {
                    case "metadata" -> {
                        if (r.peek() == JsonToken.NULL) {
                            r.nextNull();
                        } else {
                            StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "metadata");
                            StrictJson.tree(r).getAsJsonObject().entrySet().forEach(e -> meta.add(e.getKey(), e.getValue()));
                        }
                    }
                    case "weight_map" -> {
                        sawMap = true;
                        StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "weight_map");
                        r.beginObject();
                        while (r.hasNext()) {
                            String tensor = r.nextName();
                            if (weightMap.containsKey(tensor)) {
                                throw new StrictJson.Problem("tensor \"" + tensor + "\" appears twice in weight_map");
                            }
                            weightMap.put(tensor, StrictJson.string(r, "shard of \"" + tensor + "\""));
                        }
                        r.endObject();
                    }
                    default -> r.skipValue();
                }
            }
            r.endObject();
            StrictJson.end(r);
        } catch (StrictJson.Problem e) {
            throw new SourceFormatException(index, -1, e.getMessage());
        } catch (IOException | IllegalStateException e) {
            throw new SourceFormatException(index, -1, "not valid JSON: " + StrictJson.describe(e));
        }
        if (!sawMap) {
            throw new SourceFormatException(index, -1, "the index has no weight_map");
        }
    }

    private static JsonObject merge(JsonObject indexMeta, Map<String, Map<String, String>> shardMeta) {
        JsonObject out = indexMeta.deepCopy();
        Map<String, String> agreed = new LinkedHashMap<>();
        boolean conflict = false;
        for (Map<String, String> m : shardMeta.values()) {
            for (Map.Entry<String, String> e : m.entrySet()) {
                String prev = agreed.putIfAbsent(e.getKey(), e.getValue());
                conflict |= prev != null && !prev.equals(e.getValue());
            }
        }
        for (Map.Entry<String, String> e : agreed.entrySet()) {
            if (!out.has(e.getKey())) {
                out.addProperty(e.getKey(), e.getValue());
            }
        }
        if (conflict) {
            JsonObject per = new JsonObject();
            shardMeta.forEach((shard, m) -> {
                JsonObject o = new JsonObject();
                m.forEach(o::addProperty);
                per.add(shard, o);
            });
            out.add("shard_metadata", per);
        }
        return out;
    }
}

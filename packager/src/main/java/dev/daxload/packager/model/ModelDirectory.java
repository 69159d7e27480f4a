package dev.daxload.packager.model;

import dev.daxload.packager.source.SourceFormatException;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceReader;
import dev.daxload.packager.source.SourceReaders;
import java.io.IOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A model directory as HuggingFace lays it out (or a snapshot of one in its cache, whose files are
 * symlinks): weights in one format, and side files (config.json, tokenizer.json, vocab.txt, a
 * sentence-transformers {@code 1_Pooling/config.json}) that go with them. Weights are taken in one
 * format, by preference: sharded or single safetensors, then PyTorch state dicts ({@code
 * pytorch_model.bin}, sharded too), then ONNX ({@code model.onnx}, or {@code onnx/model.onnx}), then
 * GGUF. The same weights in other formats ({@code tf_model.h5}, {@code flax_model.msgpack}, a second
 * export) are left out and listed; every other file is a side file under its relative path. Hidden
 * files ({@code .git}, {@code .gitattributes}, {@code .cache}) are skipped.
 *
 * @param weights the sources read, in the chosen format
 * @param sideFiles relative path (with {@code /}) to file, in path order
 * @param leftOut files holding weights in a format not taken, relative to the directory
 * @param format the format the weights were taken in
 */
public record ModelDirectory(List<SourceModel> weights, Map<String, Path> sideFiles, List<String> leftOut, String format) {
    /** Extensions of files that hold weights, readable here or not: never copied as side files. */
    private static final Set<String> WEIGHT_EXTENSIONS = Set.of("safetensors", "bin", "pt", "pth", "onnx", "onnx_data",
            "gguf", "ggml", "h5", "msgpack", "ot", "ckpt", "tflite", "pb", "mlmodel", "npz", "npy", "pdparams", "keras");

    /** True when {@code file}'s name says it holds weights (a shard index counts). */
    public static boolean looksLikeWeights(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".index.json")) {
            String inner = name.substring(0, name.length() - ".index.json".length());
            return WEIGHT_EXTENSIONS.contains(extension(inner));
        }
        return WEIGHT_EXTENSIONS.contains(extension(name)) || name.endsWith(".onnx.data");
    }

    private static String extension(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? "" : name.substring(dot + 1);
    }

    /**
     * Plans {@code dir}: reads its weights (headers only) and lists its side files.
     *
     * @throws SourceFormatException naming the directory when it holds no weights daxload reads
     */
    public static ModelDirectory read(Path dir, SourceReaders readers) throws IOException {
        List<Path> files = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
            walk.filter(p -> !p.equals(dir)).filter(p -> !hidden(dir, p)).filter(Files::isRegularFile)
                    .sorted(Comparator.comparing(p -> dir.relativize(p).toString())).forEach(files::add);
        }
        List<SourceModel> weights = new ArrayList<>();
        String format = null;
        // A reader that takes the directory itself: a sharded safetensors index, a raw-tensor directory.
        Optional<SourceReader> whole = readers.find(dir);
        if (whole.isPresent()) {
            weights.add(whole.get().read(dir));
            format = whole.get().format();
        } else {
            for (List<Path> candidates : List.of(top(dir, files, "model.safetensors"), topWithExtension(dir, files, ".safetensors"),
                    top(dir, files, "pytorch_model.bin"), topWithExtension(dir, files, ".bin", ".pt", ".pth"),
                    top(dir, files, "model.onnx"), top(dir, files, "onnx/model.onnx"), topWithExtension(dir, files, ".onnx"),
                    topWithExtension(dir, files, ".gguf"))) {
                List<SourceModel> read = new ArrayList<>();
                String f = null;
                for (Path p : candidates) {
                    Optional<SourceReader> r = readers.find(p);
                    if (r.isPresent()) {
                        read.add(r.get().read(p));
                        f = r.get().format();
                    }
                }
                if (!read.isEmpty()) {
                    weights.addAll(read);
                    format = f;
                    break;
                }
            }
        }
        if ("pytorch".equals(format)) {
            checkShardIndex(dir, weights);
        }
        if (weights.isEmpty()) {
            throw new SourceFormatException(dir, -1, "a directory with no weights daxload reads (looked for a safetensors"
                    + " index, model.safetensors, pytorch_model.bin, model.onnx, a .gguf); for a plain tree use --tree");
        }
        Set<Path> consumed = new HashSet<>();
        Set<String> consumedExtensions = new HashSet<>();
        for (SourceModel m : weights) {
            for (Path p : m.files()) {
                consumedExtensions.add(extension(p.getFileName().toString().toLowerCase(Locale.ROOT)));
                consumed.add(real(p));
            }
        }
        Map<String, Path> side = new LinkedHashMap<>();
        List<String> leftOut = new ArrayList<>();
        for (Path p : files) {
            if (consumed.contains(real(p))) {
                continue;
            }
            String rel = dir.relativize(p).toString().replace(java.io.File.separatorChar, '/');
            String name = p.getFileName().toString();
            if (name.endsWith(".index.json")
                    && consumedExtensions.contains(extension(name.substring(0, name.length() - ".index.json".length())))) {
                continue; // the shard index of the weights taken (pytorch_model.bin.index.json)
            }
            if (looksLikeWeights(p)) {
                leftOut.add(rel);
            } else {
                side.put(rel, p);
            }
        }
        return new ModelDirectory(weights, side, leftOut, format);
    }

    /**
     * PyTorch shards ({@code pytorch_model-00001-of-00002.bin}) are whole state dicts each; their index
     * ({@code pytorch_model.bin.index.json}, {@code weight_map}: tensor to shard) must agree with them
     * exactly, so that a missing or extra shard is an error rather than a model with holes.
     */
    private static void checkShardIndex(Path dir, List<SourceModel> weights) throws IOException {
        Path index = dir.resolve("pytorch_model.bin.index.json");
        if (!Files.isRegularFile(index)) {
            if (weights.size() > 1) {
                throw new SourceFormatException(dir, -1, weights.size() + " PyTorch files and no pytorch_model.bin.index.json"
                        + " saying which tensors each holds; name the files to pack");
            }
            return;
        }
        com.google.gson.JsonObject map;
        try {
            map = com.google.gson.JsonParser.parseString(Files.readString(index)).getAsJsonObject().getAsJsonObject("weight_map");
        } catch (RuntimeException e) {
            throw new SourceFormatException(index, -1, "not an index with a weight_map object: " + e.getMessage(), e);
        }
        if (map == null) {
            throw new SourceFormatException(index, -1, "no weight_map object");
        }
        Map<String, String> found = new LinkedHashMap<>();
        for (SourceModel m : weights) {
            String shard = m.files().getFirst().getFileName().toString();
            for (var t : m.tensors()) {
                if (found.put(t.name(), shard) != null) {
                    throw new SourceFormatException(m.files().getFirst(), -1, "tensor \"" + t.name() + "\" is also in "
                            + found.get(t.name()));
                }
                var mapped = map.get(t.name());
                if (mapped == null || !mapped.isJsonPrimitive() || !mapped.getAsString().equals(shard)) {
                    throw new SourceFormatException(index, -1, "tensor \"" + t.name() + "\" is in " + shard + " but the"
                            + " weight_map says " + (mapped == null ? "nothing of it" : mapped));
                }
            }
        }
        for (var e : map.entrySet()) {
            if (!found.containsKey(e.getKey())) {
                throw new SourceFormatException(index, -1, "weight_map maps tensor \"" + e.getKey() + "\" to " + e.getValue()
                        + ", which is not among the shards read");
            }
        }
    }

    /** The file itself, symlinks resolved: a reader and the directory walk may name it differently. */
    private static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    private static boolean hidden(Path dir, Path p) {
        for (Path part : dir.relativize(p)) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static List<Path> top(Path dir, List<Path> files, String relative) {
        Path want = dir.resolve(relative);
        return files.contains(want) ? List.of(want) : List.of();
    }

    private static List<Path> topWithExtension(Path dir, List<Path> files, String... extensions) {
        List<Path> out = new ArrayList<>();
        for (Path p : files) {
            String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
            if (p.getParent().equals(dir) && Stream.of(extensions).anyMatch(name::endsWith)) {
                out.add(p);
            }
        }
        return out;
    }
}

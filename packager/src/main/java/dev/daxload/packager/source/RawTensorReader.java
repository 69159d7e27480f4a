package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Reads raw tensor files described by a small JSON spec, {@value #SPEC}, in the same directory:
 *
 * <pre>{@code
 * {"format": "daxload-raw/1",                      // optional; if present, exactly this
 *  "metadata": {"any": "JSON object"},              // optional; becomes the model's metadata
 *  "tensors": [
 *    {"name": "encoder.weight", "file": "encoder.bin", "dtype": "F32", "shape": [384, 384],
 *     "offset": 0,                                  // optional, default 0
 *     "byte_order": "little"}                       // optional, "little" (default) or "big"
 *  ]}
 * }</pre>
 *
 * <p>{@code dtype} is a safetensors name or a GGML block-quantized name (Q4_0, Q8_0, Q4_K, ...); the
 * byte count follows from it and the shape (outermost first; for GGML types the last dimension must be a
 * whole number of blocks). {@code file} is a relative path that must stay inside the spec's directory.
 * Every range is checked against its file, tensors in one file may not overlap, names are unique, and
 * unknown fields are refused so that a typo ({@code "ofset"}) cannot silently mean offset 0. Big-endian
 * tensors are byte-swapped while copied (element types only, not sub-byte or quantized ones).
 */
public final class RawTensorReader implements SourceReader {
    /** The spec's file name. */
    public static final String SPEC = "tensors.json";
    /** The value of the optional {@code format} field. */
    public static final String FORMAT = "daxload-raw/1";
    private static final long MAX_SPEC = 64L << 20;
    private static final Set<String> FIELDS = Set.of("name", "file", "dtype", "shape", "offset", "byte_order");

    private record Spec(String name, String file, String dtype, long[] shape, long offset, boolean big, String where) {
    }

    private record Placed(String name, Path file, long offset, long length) {
    }

    @Override
    public String format() {
        return "raw";
    }

    @Override
    public boolean accepts(Path path) {
        return specOf(path) != null;
    }

    private static Path specOf(Path path) {
        if (Files.isDirectory(path) && Files.isRegularFile(path.resolve(SPEC))) {
            return path.resolve(SPEC);
        }
        if (Files.isRegularFile(path) && path.getFileName().toString().equals(SPEC)) {
            return path;
        }
        return null;
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        Path spec = specOf(path);
        if (spec == null) {
            throw new SourceFormatException(path, -1, "no " + SPEC + " found");
        }
        Path dir = spec.toAbsolutePath().normalize().getParent();
        JsonObject metadata = new JsonObject();
        List<Spec> specs = parse(spec, metadata);
        List<SourceTensor> tensors = new ArrayList<>();
        Set<Path> files = new LinkedHashSet<>();
        files.add(spec);
        Map<Path, List<Placed>> byFile = new LinkedHashMap<>();
        for (Spec s : specs) {
            Path file = resolve(spec, dir, s);
            files.add(file);
            long length = length(spec, s);
            long size = Files.size(file);
            if (s.offset() > size || length > size - s.offset()) {
                throw new SourceFormatException(file, s.offset(), s.where() + ": bytes [" + s.offset() + ", +" + length
                        + ") run past the end of " + s.file() + " (" + size + " bytes)");
            }
            byFile.computeIfAbsent(file, f -> new ArrayList<>()).add(new Placed(s.name(), file, s.offset(), length));
            FileContent content;
            if (s.big() && length > 0) {
                int bits = Dtypes.bits(s.dtype()).orElse(0);
                if (bits < 16) {
                    content = FileContent.range(file, s.offset(), length); // bytes have no order
                } else {
                    content = new ByteSwappingContent(file, s.offset(), length, s.dtype().equals("C64") ? 4 : bits / 8);
                }
            } else {
                content = FileContent.range(file, s.offset(), length);
            }
            tensors.add(new SourceTensor(s.name(), s.dtype(), s.shape(), content));
        }
        for (List<Placed> placed : byFile.values()) {
            placed.sort(Comparator.comparingLong(Placed::offset).thenComparingLong(Placed::length));
            for (int k = 1; k < placed.size(); k++) {
                Placed a = placed.get(k - 1);
                Placed b = placed.get(k);
                if (b.offset() < a.offset() + a.length()) {
                    throw new SourceFormatException(b.file(), b.offset(), SPEC + ": tensor \"" + b.name() + "\" overlaps tensor \""
                            + a.name() + "\" [" + a.offset() + ", +" + a.length() + ")");
                }
            }
        }
        return new SourceModel("raw", new ArrayList<>(files), metadata, tensors, Map.of());
    }

    private static Path resolve(Path spec, Path dir, Spec s) throws SourceFormatException {
        Path p;
        try {
            p = dir.resolve(s.file()).normalize();
        } catch (RuntimeException e) {
            throw new SourceFormatException(spec, -1, s.where() + ": file \"" + s.file() + "\" is not a valid path");
        }
        if (s.file().isEmpty() || Path.of(s.file()).isAbsolute() || !p.startsWith(dir) || p.equals(dir)) {
            throw new SourceFormatException(spec, -1, s.where() + ": file \"" + s.file()
                    + "\" must be a relative path inside " + dir);
        }
        if (!Files.isRegularFile(p)) {
            throw new SourceFormatException(spec, -1, s.where() + ": file \"" + s.file() + "\" does not exist");
        }
        return p;
    }

    private static long length(Path spec, Spec s) throws SourceFormatException {
        long elements;
        try {
            elements = Dtypes.elementCount(s.shape());
        } catch (ArithmeticException e) {
            throw new SourceFormatException(spec, -1, s.where() + ": shape " + Arrays.toString(s.shape()) + " overflows");
        }
        OptionalInt bits = Dtypes.bits(s.dtype());
        GgmlType ggml = GgmlType.byName(s.dtype());
        try {
            if (bits.isPresent()) {
                if (s.big() && bits.getAsInt() < 8) {
                    throw new SourceFormatException(spec, -1, s.where() + ": byte_order big makes no sense for " + s.dtype());
                }
                return Dtypes.byteLength(elements, bits.getAsInt());
            }
            if (ggml != null) {
                if (s.big()) {
                    throw new SourceFormatException(spec, -1, s.where() + ": quantized " + s.dtype()
                            + " blocks cannot be byte-swapped; store them little-endian");
                }
                long ne0 = s.shape().length == 0 ? 1 : s.shape()[s.shape().length - 1];
                return ggml.byteLength(ne0, elements);
            }
        } catch (ArithmeticException e) {
            throw new SourceFormatException(spec, -1, s.where() + ": shape " + Arrays.toString(s.shape()) + " of "
                    + s.dtype() + " overflows a 64-bit byte count");
        } catch (IllegalArgumentException e) {
            throw new SourceFormatException(spec, -1, s.where() + ": " + e.getMessage());
        }
        throw new SourceFormatException(spec, -1, s.where() + ": unknown dtype \"" + s.dtype() + "\" (known: "
                + Dtypes.known() + " and the GGML quantized types)");
    }

    private static List<Spec> parse(Path spec, JsonObject metadata) throws IOException {
        long size = Files.size(spec);
        if (size > MAX_SPEC) {
            throw new SourceFormatException(spec, -1, "spec is " + size + " bytes, over the " + MAX_SPEC + "-byte limit");
        }
        MemoryBudget.require(spec, -1, "spec size", size, 8); // bytes, string, JSON tree
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(Files.readAllBytes(spec))).toString();
        } catch (CharacterCodingException e) {
            throw new SourceFormatException(spec, -1, "spec is not valid UTF-8");
        }
        List<Spec> out = new ArrayList<>();
        try {
            JsonReader r = StrictJson.reader(text);
            StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "the spec");
            r.beginObject();
            Set<String> keys = new HashSet<>();
            boolean sawTensors = false;
            while (r.hasNext()) {
                String k = r.nextName();
                StrictJson.unique(keys, k, r);
                switch (k) {
                    case "format" -> {
                        String f = StrictJson.string(r, "format");
                        if (!f.equals(FORMAT)) {
                            throw new StrictJson.Problem("format is \"" + f + "\", expected \"" + FORMAT + "\"");
                        }
                    }
                    case "metadata" -> {
                        StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "metadata");
                        StrictJson.tree(r).getAsJsonObject().entrySet().forEach(e -> metadata.add(e.getKey(), e.getValue()));
                    }
                    case "tensors" -> {
                        sawTensors = true;
                        tensors(r, out);
                    }
                    default -> throw new StrictJson.Problem("unknown field \"" + k + "\" at " + r.getPath());
                }
            }
            r.endObject();
            StrictJson.end(r);
            if (!sawTensors) {
                throw new StrictJson.Problem("the spec has no \"tensors\" list");
            }
        } catch (StrictJson.Problem e) {
            throw new SourceFormatException(spec, -1, e.getMessage());
        } catch (IOException | IllegalStateException e) {
            throw new SourceFormatException(spec, -1, "not valid JSON: " + StrictJson.describe(e));
        }
        return out;
    }

    private static void tensors(JsonReader r, List<Spec> out) throws IOException, StrictJson.Problem {
        StrictJson.expect(r, JsonToken.BEGIN_ARRAY, "tensors");
        r.beginArray();
        Set<String> names = new HashSet<>();
        int i = 0;
        while (r.hasNext()) {
            String where = "tensors[" + i + "]";
            StrictJson.expect(r, JsonToken.BEGIN_OBJECT, where);
            r.beginObject();
            Set<String> seen = new HashSet<>();
            String name = null;
            String file = null;
            String dtype = null;
            long[] shape = null;
            long offset = 0;
            boolean big = false;
            while (r.hasNext()) {
                String k = r.nextName();
                StrictJson.unique(seen, k, r);
                switch (k) {
                    case "name" -> name = StrictJson.string(r, "name");
                    case "file" -> file = StrictJson.string(r, "file");
                    case "dtype" -> dtype = StrictJson.string(r, "dtype");
                    case "shape" -> shape = StrictJson.unsignedArray(r, "shape");
                    case "offset" -> offset = StrictJson.unsigned(r, "offset");
                    case "byte_order" -> {
                        String o = StrictJson.string(r, "byte_order");
                        if (!o.equals("little") && !o.equals("big")) {
                            throw new StrictJson.Problem(where + ": byte_order must be \"little\" or \"big\", not \"" + o + "\"");
                        }
                        big = o.equals("big");
                    }
                    default -> throw new StrictJson.Problem(where + ": unknown field \"" + k + "\" (allowed: "
                            + String.join(", ", FIELDS.stream().sorted().toList()) + ")");
                }
            }
            r.endObject();
            if (name == null || file == null || dtype == null || shape == null) {
                throw new StrictJson.Problem(where + " needs name, file, dtype and shape");
            }
            if (!names.add(name)) {
                throw new StrictJson.Problem(where + ": tensor \"" + name + "\" is listed twice");
            }
            out.add(new Spec(name, file, dtype, shape, offset, big, SPEC + " " + where + " (\"" + name + "\")"));
            i++;
        }
        r.endArray();
    }
}

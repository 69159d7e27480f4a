package dev.daxload.manifest;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What {@code /<model>/manifest.json} says about a model: its tensors (name, dtype, shape, absolute
 * offset and length in the image, CRC32C), where it came from, its source metadata, its side files
 * and lookup tables.
 *
 * <p>{@link #parse} checks the manifest's own consistency (types of every field, known dtypes, length
 * equal to shape times dtype size, unique names); {@link ModelCatalog#load} also checks it against the
 * image it sits in, so that no view is ever made over bytes the manifest lied about.
 *
 * @param name the model's name (its directory at the image root)
 * @param source provenance: {@code {"format": ..., "files": [{"path", "size", "sha256"?}]}}
 * @param metadata source metadata (GGUF key/values, safetensors {@code __metadata__}, ONNX producer)
 * @param tensors tensors in source order
 * @param files side files, relative to the model directory ({@code files/tokenizer.json})
 * @param tables lookup tables, relative to the model directory ({@code tables/vocab})
 */
public record ModelManifest(String name, JsonObject source, JsonObject metadata, List<TensorEntry> tensors,
                            List<String> files, List<String> tables) {
    /** The value of the manifest's {@code format} field. */
    public static final String FORMAT = "daxload-model/1";
    /** The manifest's file name inside the model directory. */
    public static final String FILE_NAME = "manifest.json";
    /**
     * The budget a manifest must keep, which {@link #parse} enforces and a packager must not exceed:
     * larger manifests are refused before parsing (a million tensors fit in far less).
     */
    public static final long MAX_BYTES = 256L << 20;
    /** Heap a manifest takes while it is read, per byte of its file (bytes, names, entries), for the heap budget. */
    public static final int HEAP_PER_BYTE = 4;
    /** At most this many tensors per model; the parser stops at the first one more. */
    public static final int MAX_TENSORS = 1 << 20;
    /** At most this many dimensions per tensor. */
    public static final int MAX_RANK = 64;
    /** JSON nesting deeper than this is refused (source metadata nests; nothing daxload writes comes close). */
    public static final int MAX_DEPTH = 64;

    /** Gson's serializer, made only when a manifest is written: building it costs tens of ms in a fresh JVM. */
    private static final class Writer {
        static final Gson GSON = new GsonBuilder().disableHtmlEscaping().setPrettyPrinting().create();
    }

    public ModelManifest {
        tensors = List.copyOf(tensors);
        files = List.copyOf(files);
        tables = List.copyOf(tables);
        source = source.deepCopy();
        metadata = metadata.deepCopy();
    }

    /** The tensor named {@code tensorName}. */
    public Optional<TensorEntry> tensor(String tensorName) {
        for (TensorEntry t : tensors) {
            if (t.name().equals(tensorName)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Tensors by name, in manifest order. */
    public Map<String, TensorEntry> tensorsByName() {
        Map<String, TensorEntry> m = new LinkedHashMap<>();
        for (TensorEntry t : tensors) {
            m.put(t.name(), t);
        }
        return m;
    }

    /** The manifest as UTF-8 JSON. */
    public byte[] toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("format", FORMAT);
        o.addProperty("name", name);
        o.add("source", source);
        o.add("metadata", metadata);
        JsonArray ts = new JsonArray();
        for (TensorEntry t : tensors) {
            JsonObject j = new JsonObject();
            j.addProperty("name", t.name());
            j.addProperty("file", t.file());
            j.addProperty("dtype", t.dtype().name());
            JsonArray shape = new JsonArray();
            for (long d : t.shape()) {
                shape.add(d);
            }
            j.add("shape", shape);
            j.addProperty("offset", t.offset());
            j.addProperty("length", t.length());
            if (t.crc32c() != null) {
                j.addProperty("crc32c", String.format("%08x", t.crc32c()));
            }
            ts.add(j);
        }
        o.add("tensors", ts);
        JsonArray fs = new JsonArray();
        files.forEach(fs::add);
        o.add("files", fs);
        JsonArray tbs = new JsonArray();
        tables.forEach(tbs::add);
        o.add("tables", tbs);
        return Writer.GSON.toJson(o).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses and checks a manifest on its own.
     *
     * @param where names the manifest in messages, e.g. {@code img.daxfs:/minilm/manifest.json}
     */
    public static ModelManifest parse(byte[] json, String where) throws ManifestException {
        if (json.length > MAX_BYTES) {
            throw new ManifestException(where + ": manifest is " + json.length + " bytes, more than the " + MAX_BYTES + " allowed");
        }
        Document doc = readDocument(json, where);
        JsonObject o = doc.object();
        Fields f = new Fields(where);
        String format = f.string(o, "format");
        if (!FORMAT.equals(format)) {
            throw new ManifestException(where + ": field 'format' is '" + format + "', expected '" + FORMAT + "'");
        }
        String name = f.string(o, "name");
        JsonObject source = f.objectOrEmpty(o, "source");
        JsonObject metadata = f.objectOrEmpty(o, "metadata");
        f.array(o, "tensors"); // present and an array; its elements are in doc.tensors()
        List<Object> ts = doc.tensors();
        List<TensorEntry> tensors = new ArrayList<>(ts.size());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < ts.size(); i++) {
            String at = "tensors[" + i + "]";
            if (ts.get(i) instanceof Plain p) {
                tensors.add(p.entry(where, names));
                continue;
            }
            JsonElement element = (JsonElement) ts.get(i);
            if (!element.isJsonObject()) {
                throw new ManifestException(where + ": " + at + " is not an object");
            }
            JsonObject t = element.getAsJsonObject();
            String tname = f.string(t, "name", at);
            at = "tensor '" + tname + "'";
            if (!names.add(tname)) {
                throw new ManifestException(where + ": " + at + " appears twice");
            }
            String file = f.string(t, "file", at);
            String dtypeName = f.string(t, "dtype", at);
            DType dtype = DType.byName(dtypeName).orElseThrow(() ->
                    new ManifestException(where + ": " + "tensor '" + tname + "': unknown dtype '" + dtypeName + "'"));
            JsonArray shapeJson = f.array(t, "shape", at);
            if (shapeJson.size() > MAX_RANK) {
                throw new ManifestException(where + ": " + at + ": shape has " + shapeJson.size() + " dimensions, at most " + MAX_RANK + " allowed");
            }
            long[] shape = new long[shapeJson.size()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = f.nonNegativeLong(shapeJson.get(d), at + ": shape[" + d + "]");
            }
            long offset = f.nonNegativeLong(t.get("offset"), at + ": offset");
            long length = f.nonNegativeLong(t.get("length"), at + ": length");
            String hex = t.has("crc32c") ? f.string(t, "crc32c", at) : null;
            tensors.add(checked(where, at, tname, file, dtype, shape, offset, length, hex));
        }
        List<String> files = f.strings(o, "files");
        List<String> tables = f.strings(o, "tables");
        return new ModelManifest(name, source, metadata, tensors, files, tables);
    }

    /**
     * The checks that relate a tensor's fields to each other, once each field has its type; {@code at}
     * names the tensor in messages (null: made from its name when a check fails).
     */
    private static TensorEntry checked(String where, String at, String tname, String file, DType dtype, long[] shape,
                                       long offset, long length, String crcHex) throws ManifestException {
        long elements = DType.elementCount(shape);
        Optional<Long> expected = elements < 0 ? Optional.empty() : dtype.byteSize(elements);
        if (at == null && (expected.isEmpty() || expected.get() != length || (crcHex != null && !isHex8(crcHex)))) {
            at = "tensor '" + tname + "'";
        }
        if (expected.isEmpty() || expected.get() != length) {
            throw new ManifestException(where + ": " + at + ": length " + length + " does not match shape "
                    + java.util.Arrays.toString(shape) + " of " + dtype
                    + expected.map(e -> " (" + e + " bytes)").orElse(" (not a whole number of blocks, or overflow)"));
        }
        Integer crc = null;
        if (crcHex != null) {
            if (!isHex8(crcHex)) {
                throw new ManifestException(where + ": " + at + ": crc32c '" + crcHex + "' is not 8 hex digits");
            }
            crc = Integer.parseUnsignedInt(crcHex, 16);
        }
        return new TensorEntry(tname, file, dtype, shape, offset, length, crc);
    }

    /** A tensor object whose every field had the expected JSON type, read without a Gson tree. */
    private record Plain(String name, String file, String dtype, long[] shape, long offset, long length, String crc32c) {
        TensorEntry entry(String where, Set<String> names) throws ManifestException {
            // Where-strings are built only on failure: this runs once per tensor, interpreted in a fresh JVM.
            if (!names.add(name)) {
                throw new ManifestException(where + ": tensor '" + name + "' appears twice");
            }
            Optional<DType> d = DType.byName(dtype);
            if (d.isEmpty()) {
                throw new ManifestException(where + ": tensor '" + name + "': unknown dtype '" + dtype + "'");
            }
            return checked(where, null, name, file, d.get(), shape, offset, length, crc32c);
        }
    }

    /** The document: its top-level fields, and its tensors each as a {@link Plain} or, where unusual, a Gson tree. */
    private record Document(JsonObject object, List<Object> tensors) {}

    /**
     * Reads one tensor object the quick way, or returns null with the cursor where it was, for the
     * general way to read it (and report what is wrong with it): any field of an unexpected type, a
     * number written other than plainly, a key twice, a field missing.
     */
    private static Plain readPlain(JsonCursor c) throws ManifestException {
        if (c.peek() != '{') {
            return null;
        }
        JsonCursor.Mark start = c.mark();
        String name = null, file = null, dtype = null, crc = null;
        long[] shape = null;
        long offset = -1, length = -1;
        c.beginObject();
        for (String key = c.nextKey(); key != null; key = c.nextKey()) {
            boolean ok = switch (key) {
                case "name" -> name == null && c.peek() == '"' && (name = c.string()) != null;
                case "file" -> file == null && c.peek() == '"' && (file = c.string()) != null;
                case "dtype" -> dtype == null && c.peek() == '"' && (dtype = c.string()) != null;
                case "crc32c" -> crc == null && c.peek() == '"' && (crc = c.string()) != null;
                case "offset" -> offset < 0 && (offset = c.plainLong()) >= 0;
                case "length" -> length < 0 && (length = c.plainLong()) >= 0;
                case "shape" -> shape == null && (shape = plainShape(c)) != null;
                default -> {
                    c.readTree(); // a field daxload does not read
                    yield true;
                }
            };
            if (!ok) {
                c.reset(start);
                return null;
            }
        }
        if (name == null || file == null || dtype == null || shape == null || offset < 0 || length < 0) {
            c.reset(start);
            return null;
        }
        return new Plain(name, file, dtype, shape, offset, length, crc);
    }

    private static long[] plainShape(JsonCursor c) throws ManifestException {
        if (c.peek() != '[') {
            return null;
        }
        c.beginArray();
        long[] dims = new long[4];
        int n = 0;
        while (c.hasNext()) {
            long d = c.plainLong();
            if (d < 0 || n == MAX_RANK) {
                return null;
            }
            if (n == dims.length) {
                dims = java.util.Arrays.copyOf(dims, n * 2);
            }
            dims[n++] = d;
        }
        return java.util.Arrays.copyOf(dims, n);
    }

    private static boolean isHex8(String s) {
        if (s.length() != 8) {
            return false;
        }
        for (int i = 0; i < 8; i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
                return false;
            }
        }
        return true;
    }

    private static boolean isPlainDigits(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Reads the document with {@link JsonCursor}: the top-level object as a Gson tree whose
     * {@code tensors} array is read element by element, so that a manifest with more than
     * {@link #MAX_TENSORS} tensors is refused as soon as the one too many is met.
     */
    private static Document readDocument(byte[] json, String where) throws ManifestException {
        JsonCursor c = new JsonCursor(json, where);
        if (c.peek() != '{') {
            c.readTree(); // invalid JSON says so; any other value is not a manifest
            c.end();
            throw new ManifestException(where + ": expected a JSON object");
        }
        JsonObject o = new JsonObject();
        List<Object> tensors = new ArrayList<>();
        c.beginObject();
        for (String key = c.nextKey(); key != null; key = c.nextKey()) {
            if (key.equals("tensors") && c.peek() == '[') {
                tensors = new ArrayList<>();
                c.beginArray();
                while (c.hasNext()) {
                    if (tensors.size() == MAX_TENSORS) {
                        throw new ManifestException(where + ": more than " + MAX_TENSORS + " tensors (at byte " + c.position() + "), more than a model may have");
                    }
                    Plain p = readPlain(c);
                    tensors.add(p != null ? p : c.readTree());
                }
                o.add(key, new JsonArray()); // the elements are in the document's tensor list
            } else {
                o.add(key, c.readTree());
            }
        }
        c.end();
        return new Document(o, tensors);
    }

    /** Typed field access with messages that name the field. */
    private record Fields(String where) {
        String string(JsonObject o, String key) throws ManifestException {
            return string(o, key, null);
        }

        String string(JsonObject o, String key, String at) throws ManifestException {
            JsonElement e = o.get(key);
            if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                throw new ManifestException(where + ": " + (at == null ? "" : at + ": ") + "field '" + key + "' is missing or not a string");
            }
            return e.getAsString();
        }

        JsonArray array(JsonObject o, String key) throws ManifestException {
            return array(o, key, null);
        }

        JsonArray array(JsonObject o, String key, String at) throws ManifestException {
            JsonElement e = o.get(key);
            if (e == null || !e.isJsonArray()) {
                throw new ManifestException(where + ": " + (at == null ? "" : at + ": ") + "field '" + key + "' is missing or not an array");
            }
            return e.getAsJsonArray();
        }

        JsonObject objectOrEmpty(JsonObject o, String key) throws ManifestException {
            JsonElement e = o.get(key);
            if (e == null || e.isJsonNull()) {
                return new JsonObject();
            }
            if (!e.isJsonObject()) {
                throw new ManifestException(where + ": field '" + key + "' is not an object");
            }
            return e.getAsJsonObject();
        }

        List<String> strings(JsonObject o, String key) throws ManifestException {
            JsonElement e = o.get(key);
            if (e == null) {
                return List.of();
            }
            if (!e.isJsonArray()) {
                throw new ManifestException(where + ": field '" + key + "' is not an array");
            }
            List<String> out = new ArrayList<>();
            for (JsonElement x : e.getAsJsonArray()) {
                if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isString()) {
                    throw new ManifestException(where + ": field '" + key + "' holds a non-string");
                }
                out.add(x.getAsString());
            }
            return out;
        }

        long nonNegativeLong(JsonElement e, String what) throws ManifestException {
            if (e == null || !e.isJsonPrimitive() || !((JsonPrimitive) e).isNumber()) {
                throw new ManifestException(where + ": " + what + " is missing or not a number");
            }
            String text = e.getAsString();
            if (isPlainDigits(text)) {
                return Long.parseLong(text); // the usual case, without BigDecimal: at most 18 digits fit
            }
            try {
                long v = new java.math.BigDecimal(text).longValueExact();
                if (v < 0) {
                    throw new ManifestException(where + ": " + what + " is negative (" + v + ")");
                }
                return v;
            } catch (ArithmeticException | NumberFormatException x) {
                throw new ManifestException(where + ": " + what + " is not a whole number that fits in 63 bits: " + e.getAsString());
            }
        }
    }
}

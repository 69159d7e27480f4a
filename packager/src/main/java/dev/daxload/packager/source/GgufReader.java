package dev.daxload.packager.source;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a GGUF file (versions 2 and 3, little-endian): key/values into metadata, tensor infos into tensors
 * whose bytes are ranges of the file.
 *
 * <p>Metadata maps each key to {@code {"type": "UINT32", "value": 16000}}, with GGUF's type names
 * ({@code ARRAY[STRING]} for arrays), so a GGUF can be rebuilt without guessing integer widths. Integers
 * stay exact (UINT64 as unsigned), non-finite floats are the strings {@code "NaN"}, {@code "Infinity"},
 * {@code "-Infinity"}. An array keeps at most {@code arrayKeep} elements (nested elements count too);
 * a cut one also gets {@code "count"} and {@code "truncated": true}. Every element is still read and
 * checked, and every count is bounded by the bytes left in the file before anything is looped over or
 * allocated.
 *
 * <p>Tensors: at most 4 dimensions, GGUF's innermost-first dimensions reported outermost first (the
 * row-major shape numpy and PyTorch use), byte sizes from each GGML type's block size and block bytes,
 * offsets aligned to {@code general.alignment} (a UINT32 power of two, default 32), every tensor inside the
 * file and no two overlapping. Plain types keep their safetensors names (F32, F16, BF16, F64, I8...I64);
 * quantized ones keep their GGML names (Q4_0, Q8_0, Q4_K, ...). Big-endian files are read too: their
 * plain tensors are byte-swapped while copied, so the image holds little-endian data as always; their
 * quantized tensors are refused. Refused as well: GGUF v1, unknown or retired GGML type ids, duplicate
 * keys or tensor names.
 */
public final class GgufReader implements SourceReader {
    /** Default number of array elements kept in metadata per key. */
    public static final int DEFAULT_ARRAY_KEEP = 1024;
    private static final int MAGIC = 0x46554747; // "GGUF" read little-endian
    private static final int MAX_NAME = 64 * 1024;
    private static final long MAX_STRING = 64L << 20;
    private static final int MAX_DEPTH = 8;
    /** Heap of one metadata entry beyond its strings (charged by the reader): key, type, JSON objects. */
    private static final long KV_HEAP = 512;
    private static final int MAX_DIMS = 4;
    private static final long DEFAULT_ALIGNMENT = 32;
    private static final String ALIGNMENT_KEY = "general.alignment";
    private static final int MIN_KV = 8 + 4 + 1;
    private static final int MIN_TENSOR_INFO = 8 + 4 + 4 + 8;

    private static final int T_UINT32 = 4;
    private static final int T_STRING = 8;
    private static final int T_ARRAY = 9;
    private static final String[] TYPE_NAMES = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
        "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    /** Encoded size of each value type; 0 for variable-sized ones. */
    private static final int[] FIXED = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

    private final int arrayKeep;

    public GgufReader() {
        this(DEFAULT_ARRAY_KEEP);
    }

    /** @param arrayKeep how many elements of each array value to keep in metadata */
    public GgufReader(int arrayKeep) {
        if (arrayKeep < 0) {
            throw new IllegalArgumentException("arrayKeep " + arrayKeep);
        }
        this.arrayKeep = arrayKeep;
    }

    private record Info(String name, GgmlType type, long[] ne, long offset, long bytes, long at) {
    }

    /** State of reading one key's value: how many array elements may still be kept, and what was cut. */
    private static final class Walk {
        int budget;
        boolean cut;
        long count = -1;
        String arrayType;

        Walk(int budget) {
            this.budget = budget;
        }
    }

    @Override
    public String format() {
        return "gguf";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf")) {
            return true;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill what the file has
            }
            return !b.hasRemaining() && b.getInt(0) == MAGIC;
        }
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            BoundedReader r = new BoundedReader(path, ch, 0, size);
            int magic = r.i32("magic");
            if (magic != MAGIC) {
                throw r.error(0, String.format("not a GGUF file: magic is %08x, expected \"GGUF\"", magic));
            }
            int version = r.i32("version");
            // The magic is written little-endian whatever the file's byte order, so a big-endian file
            // (gguf-py's GGUFWriter(endianess=BIG), llama.cpp's s390x models) shows in the version alone.
            boolean bigEndian = (version & 0xFFFF) == 0 && version != 0;
            if (bigEndian) {
                version = Integer.reverseBytes(version);
                r.order(ByteOrder.BIG_ENDIAN);
            }
            if (version == 1) {
                throw r.error(4, "GGUF version 1 is not supported (it used 32-bit counts and lengths); convert the "
                        + "model again with a current llama.cpp");
            }
            if (version != 2 && version != 3) {
                throw r.error(4, "unsupported GGUF version " + Integer.toUnsignedString(version) + " (2 and 3 are read)");
            }
            long nTensors = count(r, "tensor_count", MIN_TENSOR_INFO);
            MemoryBudget.requireCount(path, r.position() - 8, "tensor_count", nTensors, MemoryBudget.HEAP_PER_TENSOR);
            long nKv = count(r, "metadata_kv_count", MIN_KV);
            MemoryBudget.requireCount(path, r.position() - 8, "metadata_kv_count", nKv, KV_HEAP);

            JsonObject metadata = new JsonObject();
            long alignment = DEFAULT_ALIGNMENT;
            Set<String> keys = new HashSet<>();
            for (long i = 0; i < nKv; i++) {
                long at = r.position();
                String key = name(r, "key of metadata entry #" + i);
                if (!keys.add(key)) {
                    throw r.error(at, "metadata key \"" + key + "\" appears twice");
                }
                long typeAt = r.position();
                int type = r.i32("value type of \"" + key + "\"");
                checkType(r, type, typeAt, key);
                long valueAt = r.position();
                JsonObject entry = new JsonObject();
                Walk walk = new Walk(arrayKeep);
                JsonElement value = value(r, type, key, 0, walk);
                entry.addProperty("type", type == T_ARRAY ? walk.arrayType : TYPE_NAMES[type]);
                entry.add("value", value);
                if (walk.cut) {
                    entry.addProperty("count", walk.count);
                    entry.addProperty("truncated", true);
                }
                metadata.add(key, entry);
                if (key.equals(ALIGNMENT_KEY)) {
                    if (type != T_UINT32) {
                        throw r.error(typeAt, ALIGNMENT_KEY + " must be UINT32, not " + TYPE_NAMES[type]);
                    }
                    alignment = value.getAsLong();
                    if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
                        throw r.error(valueAt, ALIGNMENT_KEY + " = " + alignment + " is not a power of two");
                    }
                }
            }

            List<Info> infos = new ArrayList<>();
            Set<String> names = new HashSet<>();
            for (long i = 0; i < nTensors; i++) {
                Info info = tensorInfo(r, i);
                if (!names.add(info.name())) {
                    throw r.error(info.at(), "tensor \"" + info.name() + "\" appears twice");
                }
                infos.add(info);
            }
            long dataStart = (r.position() + alignment - 1) / alignment * alignment;
            return new SourceModel("gguf", List.of(path), metadata, tensors(path, infos, dataStart, size, alignment, bigEndian),
                    Map.of());
        }
    }

    private static long count(BoundedReader r, String field, int minBytesEach) throws IOException {
        long at = r.position();
        long n = r.i64(field);
        if (n < 0 || n > (r.remaining() / minBytesEach)) {
            throw r.error(at, field + " = " + Long.toUnsignedString(n) + " cannot fit: each entry takes at least "
                    + minBytesEach + " bytes and only " + r.remaining() + " remain");
        }
        return n;
    }

    private static void checkType(BoundedReader r, int type, long at, String key) throws SourceFormatException {
        if (type < 0 || type >= TYPE_NAMES.length) {
            throw r.error(at, "value type of \"" + key + "\" is " + Integer.toUnsignedString(type)
                    + ", not a GGUF type (0-12)");
        }
    }

    private static String name(BoundedReader r, String field) throws IOException {
        long at = r.position();
        long len = r.i64(field + " length");
        if (len < 0 || len > MAX_NAME) {
            throw r.error(at, field + " length " + Long.toUnsignedString(len) + " exceeds " + MAX_NAME + " bytes");
        }
        byte[] b = r.bytes(len, field);
        return r.utf8(b, at + 8, field);
    }

    private JsonElement value(BoundedReader r, int type, String key, int depth, Walk walk) throws IOException {
        String f = "value of \"" + key + "\"";
        return switch (type) {
            case 0 -> new JsonPrimitive(r.u8(f));
            case 1 -> new JsonPrimitive((byte) r.u8(f));
            case 2 -> new JsonPrimitive(r.i16(f) & 0xFFFF);
            case 3 -> new JsonPrimitive(r.i16(f));
            case 4 -> new JsonPrimitive(r.u32(f));
            case 5 -> new JsonPrimitive(r.i32(f));
            case 6 -> number(r.f32(f));
            case 7 -> new JsonPrimitive(r.u8(f) != 0);
            case 8 -> new JsonPrimitive(string(r, f));
            case 9 -> array(r, key, depth, walk);
            case 10 -> {
                long v = r.i64(f);
                yield new JsonPrimitive(v >= 0 ? BigInteger.valueOf(v) : new BigInteger(Long.toUnsignedString(v)));
            }
            case 11 -> new JsonPrimitive(r.i64(f));
            case 12 -> number(r.f64(f));
            default -> throw new IllegalStateException("type checked before");
        };
    }

    private static JsonPrimitive number(double d) {
        if (Double.isNaN(d)) {
            return new JsonPrimitive("NaN");
        }
        if (Double.isInfinite(d)) {
            return new JsonPrimitive(d > 0 ? "Infinity" : "-Infinity");
        }
        return new JsonPrimitive(d);
    }

    private static String string(BoundedReader r, String field) throws IOException {
        long at = r.position();
        long len = stringLength(r, field);
        if (len > MAX_STRING) {
            throw r.error(at, field + ": a string of " + len + " bytes exceeds the " + MAX_STRING + "-byte limit");
        }
        // values are kept even if not valid UTF-8 (some tokenizers hold byte fragments); names are strict
        return new String(r.bytes(len, field), StandardCharsets.UTF_8);
    }

    private static long stringLength(BoundedReader r, String field) throws IOException {
        long at = r.position();
        long len = r.i64(field + " string length");
        if (len < 0 || len > r.remaining()) {
            throw r.error(at, field + ": string length " + Long.toUnsignedString(len) + " runs past the end of the file ("
                    + r.remaining() + " bytes remain)");
        }
        return len;
    }

    private JsonElement array(BoundedReader r, String key, int depth, Walk walk) throws IOException {
        String f = "array \"" + key + "\"";
        if (depth >= MAX_DEPTH) {
            throw r.error(r.position(), f + " nests arrays deeper than " + MAX_DEPTH);
        }
        long typeAt = r.position();
        int et = r.i32(f + " element type");
        checkType(r, et, typeAt, key + "[]");
        long countAt = r.position();
        long n = r.i64(f + " length");
        long min = FIXED[et] > 0 ? FIXED[et] : et == T_STRING ? 8 : 12;
        if (n < 0 || n > r.remaining() / min) {
            throw r.error(countAt, f + " length " + Long.toUnsignedString(n) + " cannot fit: each " + TYPE_NAMES[et]
                    + " takes at least " + min + " bytes and only " + r.remaining() + " remain");
        }
        if (depth == 0) {
            walk.count = n;
            walk.arrayType = "ARRAY[" + TYPE_NAMES[et] + "]";
        }
        JsonArray a = new JsonArray();
        for (long i = 0; i < n; i++) {
            if (walk.budget > 0) {
                walk.budget--;
                a.add(value(r, et, key, depth + 1, walk));
            } else if (FIXED[et] > 0) {
                r.skip((n - i) * FIXED[et], f + " elements");
                walk.cut = true;
                break;
            } else {
                skip(r, et, key, depth + 1);
                walk.cut = true;
            }
        }
        return a;
    }

    /** Validates and steps over one value without keeping it. */
    private static void skip(BoundedReader r, int type, String key, int depth) throws IOException {
        String f = "value of \"" + key + "\"";
        if (FIXED[type] > 0) {
            r.skip(FIXED[type], f);
        } else if (type == T_STRING) {
            r.skip(stringLength(r, f), f);
        } else {
            if (depth >= MAX_DEPTH) {
                throw r.error(r.position(), "array \"" + key + "\" nests arrays deeper than " + MAX_DEPTH);
            }
            long typeAt = r.position();
            int et = r.i32(f + " element type");
            checkType(r, et, typeAt, key + "[]");
            long countAt = r.position();
            long n = r.i64(f + " length");
            long min = FIXED[et] > 0 ? FIXED[et] : et == T_STRING ? 8 : 12;
            if (n < 0 || n > r.remaining() / min) {
                throw r.error(countAt, "array \"" + key + "\" length " + Long.toUnsignedString(n) + " cannot fit in the "
                        + r.remaining() + " bytes that remain");
            }
            if (FIXED[et] > 0) {
                r.skip(n * FIXED[et], f);
            } else {
                for (long i = 0; i < n; i++) {
                    skip(r, et, key, depth + 1);
                }
            }
        }
    }

    private static Info tensorInfo(BoundedReader r, long i) throws IOException {
        long at = r.position();
        String name = name(r, "name of tensor #" + i);
        String t = "tensor \"" + name + "\"";
        long ndAt = r.position();
        long nd = r.u32(t + " n_dims");
        if (nd > MAX_DIMS) {
            throw r.error(ndAt, t + " has " + nd + " dimensions; GGUF allows at most " + MAX_DIMS);
        }
        long[] ne = new long[(int) nd];
        for (int j = 0; j < nd; j++) {
            long dAt = r.position();
            ne[j] = r.i64(t + " dimension " + j);
            if (ne[j] < 0) {
                throw r.error(dAt, t + " dimension " + j + " = " + Long.toUnsignedString(ne[j]) + " is too large");
            }
        }
        long typeAt = r.position();
        long typeId = r.u32(t + " type");
        GgmlType type = GgmlType.byId(typeId);
        if (type == null) {
            throw r.error(typeAt, t + " has GGML type id " + typeId + ", which is unknown or retired by ggml");
        }
        long offAt = r.position();
        long offset = r.i64(t + " offset");
        if (offset < 0) {
            throw r.error(offAt, t + " offset " + Long.toUnsignedString(offset) + " is too large");
        }
        long bytes;
        try {
            bytes = type.byteLength(nd == 0 ? 1 : ne[0], Dtypes.elementCount(ne));
        } catch (ArithmeticException e) {
            throw r.error(ndAt, t + " dimensions " + Arrays.toString(ne) + " overflow a 64-bit byte count");
        } catch (IllegalArgumentException e) {
            throw r.error(ndAt, t + ": " + e.getMessage());
        }
        return new Info(name, type, ne, offset, bytes, at);
    }

    private static List<SourceTensor> tensors(Path path, List<Info> infos, long dataStart, long size, long alignment,
            boolean bigEndian) throws SourceFormatException {
        long dataLen = size - dataStart;
        for (Info i : infos) {
            String t = "tensor \"" + i.name() + "\"";
            if (i.offset() % alignment != 0) {
                throw new SourceFormatException(path, i.at(), t + " offset " + i.offset()
                        + " is not a multiple of the alignment " + alignment);
            }
            if (dataLen < 0 || i.offset() > dataLen || i.bytes() > dataLen - i.offset()) {
                throw new SourceFormatException(path, i.at(), t + " data [" + (dataStart + i.offset()) + ", +" + i.bytes()
                        + ") runs past the end of the file (" + size + " bytes; data section starts at " + dataStart + ")");
            }
        }
        List<Info> byOffset = new ArrayList<>(infos);
        byOffset.sort(Comparator.comparingLong(Info::offset).thenComparingLong(Info::bytes));
        for (int k = 1; k < byOffset.size(); k++) {
            Info a = byOffset.get(k - 1);
            Info b = byOffset.get(k);
            if (b.offset() < a.offset() + a.bytes()) {
                throw new SourceFormatException(path, dataStart + b.offset(), "tensor \"" + b.name() + "\" at relative offset "
                        + b.offset() + " overlaps tensor \"" + a.name() + "\" [" + a.offset() + ", +" + a.bytes() + ")");
            }
        }
        List<SourceTensor> out = new ArrayList<>(infos.size());
        for (Info i : infos) {
            long[] shape = new long[i.ne().length];
            for (int j = 0; j < shape.length; j++) {
                shape[j] = i.ne()[shape.length - 1 - j];
            }
            if (bigEndian && !i.type().isPlain()) {
                // Which fields of a block were swapped depends on the converter; the image would have to
                // guess, so it refuses.
                throw new SourceFormatException(path, i.at(), "tensor \"" + i.name() + "\" is " + i.type()
                        + " in a big-endian GGUF: quantized blocks cannot be turned little-endian without knowing"
                        + " their layout; convert the file with gguf-py's gguf_convert_endian.py first");
            }
            FileContent data = bigEndian && i.type().typeSize() > 1
                    ? new ByteSwappingContent(path, dataStart + i.offset(), i.bytes(), i.type().typeSize())
                    : FileContent.range(path, dataStart + i.offset(), i.bytes());
            out.add(new SourceTensor(i.name(), i.type().dtypeName(), shape, data));
        }
        return out;
    }
}

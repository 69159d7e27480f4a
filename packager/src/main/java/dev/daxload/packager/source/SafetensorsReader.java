package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Reads one {@code .safetensors} file: an 8-byte little-endian header length, a JSON header, then the
 * tensor data. The checks follow the reference (Rust) implementation: the header length is bounded by
 * the file and by 100 MB before anything is allocated, the header is strict UTF-8 JSON, every dtype is one
 * safetensors 0.8 knows, every tensor's byte count equals its shape times its element size (overflow
 * checked, sub-byte types ending on a byte), and the tensors tile the data section exactly: sorted by
 * offset, each begins where the previous one ended and the last ends at the end of the file. Duplicate
 * names are refused too (the reference silently keeps one). {@code __metadata__} (string to string) becomes
 * {@link SourceModel#metadata()}. Tensors are listed in file order.
 */
public final class SafetensorsReader implements SourceReader {
    /** The reference implementation's limit on the JSON header. */
    public static final long MAX_HEADER = 100_000_000L;
    private static final String METADATA = "__metadata__";

    /** A parsed file: what {@link ShardedSafetensorsReader} needs from each shard. */
    record Parsed(Path file, Map<String, String> metadata, List<SourceTensor> tensors) {
    }

    private record Entry(String name, String dtype, long[] shape, long begin, long end) {
    }

    @Override
    public String format() {
        return "safetensors";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            return true;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // fill what the file has
            }
            if (b.position() < 9) {
                return false;
            }
            long n = b.getLong(0);
            return n >= 2 && n <= Math.min(MAX_HEADER, ch.size() - 8) && b.get(8) == '{';
        }
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        Parsed p = parse(path);
        JsonObject meta = new JsonObject();
        p.metadata().forEach(meta::addProperty);
        return new SourceModel("safetensors", List.of(path), meta, p.tensors(), Map.of());
    }

    /** Parses and checks {@code file}; reads only its header. */
    static Parsed parse(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SourceFormatException(file, 0, "file has " + size
                        + " bytes; a safetensors file starts with an 8-byte header length");
            }
            ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lb, 0, file);
            long n = lb.getLong(0);
            if (n < 0 || n > MAX_HEADER) {
                throw new SourceFormatException(file, 0, "header length " + Long.toUnsignedString(n)
                        + " exceeds the " + MAX_HEADER + "-byte limit");
            }
            if (n > size - 8) {
                throw new SourceFormatException(file, 0, "header length " + n + " runs past the end of the file ("
                        + size + " bytes)");
            }
            MemoryBudget.require(file, 0, "header length", n, 8); // bytes, string, JSON tree
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8, file);
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
            } catch (CharacterCodingException e) {
                throw new SourceFormatException(file, 8, "JSON header is not valid UTF-8");
            }
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> entries;
            try {
                entries = header(text, metadata);
            } catch (StrictJson.Problem e) {
                throw new SourceFormatException(file, 8, "JSON header: " + e.getMessage());
            } catch (IOException | IllegalStateException e) {
                throw new SourceFormatException(file, 8, "JSON header is not valid JSON: " + StrictJson.describe(e));
            }
            long dataStart = 8 + n;
            return new Parsed(file, metadata, check(file, entries, dataStart, size - dataStart));
        }
    }

    private static List<Entry> header(String text, Map<String, String> metadata)
            throws IOException, StrictJson.Problem {
        JsonReader r = StrictJson.reader(text);
        StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "the header");
        r.beginObject();
        Set<String> names = new HashSet<>();
        List<Entry> entries = new ArrayList<>();
        while (r.hasNext()) {
            String name = r.nextName();
            if (!names.add(name)) {
                throw new StrictJson.Problem("tensor \"" + name + "\" is listed twice");
            }
            if (name.equals(METADATA)) {
                metadata(r, metadata);
            } else {
                entries.add(entry(r, name));
            }
        }
        r.endObject();
        StrictJson.end(r);
        return entries;
    }

    private static void metadata(JsonReader r, Map<String, String> out) throws IOException, StrictJson.Problem {
        if (r.peek() == JsonToken.NULL) {
            r.nextNull();
            return;
        }
        StrictJson.expect(r, JsonToken.BEGIN_OBJECT, METADATA);
        r.beginObject();
        while (r.hasNext()) {
            String k = r.nextName();
            String v = StrictJson.string(r, METADATA + " value");
            if (out.putIfAbsent(k, v) != null) {
                throw new StrictJson.Problem(METADATA + " key \"" + k + "\" is listed twice");
            }
        }
        r.endObject();
    }

    private static Entry entry(JsonReader r, String name) throws IOException, StrictJson.Problem {
        StrictJson.expect(r, JsonToken.BEGIN_OBJECT, "tensor \"" + name + "\"");
        r.beginObject();
        String dtype = null;
        long[] shape = null;
        long[] offsets = null;
        Set<String> seen = new HashSet<>();
        while (r.hasNext()) {
            String field = r.nextName();
            StrictJson.unique(seen, field, r);
            switch (field) {
                case "dtype" -> dtype = StrictJson.string(r, "dtype of \"" + name + "\"");
                case "shape" -> shape = StrictJson.unsignedArray(r, "shape of \"" + name + "\"");
                case "data_offsets" -> offsets = StrictJson.unsignedArray(r, "data_offsets of \"" + name + "\"");
                default -> r.skipValue(); // the reference ignores unknown fields too
            }
        }
        r.endObject();
        if (dtype == null || shape == null || offsets == null) {
            throw new StrictJson.Problem("tensor \"" + name + "\" lacks "
                    + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets"));
        }
        if (offsets.length != 2) {
            throw new StrictJson.Problem("data_offsets of \"" + name + "\" must be [begin, end], not "
                    + Arrays.toString(offsets));
        }
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static List<SourceTensor> check(Path file, List<Entry> entries, long dataStart, long dataLength)
            throws SourceFormatException {
        for (Entry e : entries) {
            OptionalInt bits = Dtypes.bits(e.dtype());
            if (bits.isEmpty()) {
                throw new SourceFormatException(file, 8, "tensor \"" + e.name() + "\": unknown dtype \"" + e.dtype()
                        + "\" (known: " + Dtypes.known() + ")");
            }
            long bytes;
            try {
                bytes = Dtypes.byteLength(Dtypes.elementCount(e.shape()), bits.getAsInt());
            } catch (ArithmeticException x) {
                throw new SourceFormatException(file, 8, "tensor \"" + e.name() + "\": shape "
                        + Arrays.toString(e.shape()) + " of " + e.dtype() + " overflows a 64-bit byte count");
            } catch (IllegalArgumentException x) {
                throw new SourceFormatException(file, 8, "tensor \"" + e.name() + "\": shape "
                        + Arrays.toString(e.shape()) + " of " + e.dtype() + " does not end on a byte boundary");
            }
            if (e.end() < e.begin()) {
                throw new SourceFormatException(file, 8, "tensor \"" + e.name() + "\": data_offsets [" + e.begin() + ", "
                        + e.end() + "] end before they begin");
            }
            if (e.end() > dataLength) {
                throw new SourceFormatException(file, dataStart + e.begin(), "tensor \"" + e.name() + "\": data_offsets ["
                        + e.begin() + ", " + e.end() + "] run past the end of the data section (" + dataLength + " bytes)");
            }
            if (e.end() - e.begin() != bytes) {
                throw new SourceFormatException(file, dataStart + e.begin(), "tensor \"" + e.name() + "\": data_offsets ["
                        + e.begin() + ", " + e.end() + "] hold " + (e.end() - e.begin()) + " bytes but shape "
                        + Arrays.toString(e.shape()) + " of " + e.dtype() + " needs " + bytes);
            }
        }
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end).thenComparing(Entry::name));
        long cursor = 0;
        Entry prev = null;
        List<SourceTensor> out = new ArrayList<>(sorted.size());
        for (Entry e : sorted) {
            if (e.begin() < cursor) {
                throw new SourceFormatException(file, dataStart + e.begin(), "tensor \"" + e.name() + "\" at ["
                        + e.begin() + ", " + e.end() + "] overlaps tensor \"" + prev.name() + "\" at [" + prev.begin()
                        + ", " + prev.end() + "]");
            }
            if (e.begin() > cursor) {
                throw new SourceFormatException(file, dataStart + cursor, "bytes [" + cursor + ", " + e.begin()
                        + ") of the data section belong to no tensor (before \"" + e.name() + "\")");
            }
            cursor = e.end();
            prev = e;
        }
        if (cursor != dataLength) {
            throw new SourceFormatException(file, dataStart + cursor, "the tensors end at byte " + cursor
                    + " of the data section but the file holds " + dataLength + " data bytes (trailing bytes)");
        }
        // listed in file order; an empty tensor sharing its offset with another is placed by name, as the
        // reference tools list them
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparing(Entry::name));
        for (Entry e : sorted) {
            out.add(new SourceTensor(e.name(), e.dtype(), e.shape(),
                    FileContent.range(file, dataStart + e.begin(), e.end() - e.begin())));
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at, Path file) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, at + b.position());
            if (r < 0) {
                throw new SourceFormatException(file, at + b.position(), "file ended early");
            }
        }
    }
}

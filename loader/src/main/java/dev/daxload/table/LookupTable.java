package dev.daxload.table;

import dev.daxload.image.DaxImage;
import dev.daxload.table.TableLayout.ColumnType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A lookup table answered in place from a mapped {@link DaxImage}; see {@link TableLayout} for what
 * lies in the image.
 *
 * <p>{@link #open} reads the descriptor and checks each file's size against the row count and the
 * column's type, and nothing else: its cost grows with the number of columns, never with the number
 * of rows, and no row data is copied or parsed. Lookups and reads go straight to the image's memory.
 *
 * <p>Open refuses a table whose sizes disagree, so that every read of a row inside {@code [0, rows)}
 * stays inside its file. What open cannot check without reading every row (offsets that go
 * backwards, index slots that name rows past the end) is checked when it is read: such a read
 * throws {@link IllegalStateException} naming the table, and never reads outside the image.
 * Probing stops after {@code capacity} slots, so even an index whose slots are all full ends.
 *
 * <p>Thread-safe: nothing is written after open. Closing the image makes every later read throw
 * {@link IllegalStateException}.
 */
public final class LookupTable {

    /** A column's name, type and 0-based position. */
    public record Column(String name, ColumnType type, int position) {}

    private record Data(Column column, MemorySegment values, MemorySegment offsets, MemorySegment bytes) {}

    private static final Gson STRICT = new GsonBuilder().setStrictness(Strictness.STRICT).create();

    /** An empty view without a restricted call (reinterpret would need native access). */
    private static final MemorySegment EMPTY = MemorySegment.ofArray(new byte[0]);

    private final String where;
    private final long rows;
    private final List<Column> columns;
    private final Data[] data;
    private final Map<String, Integer> byName;
    private final Data key; // null: no index
    private final MemorySegment slots;
    private final long capacity;
    private final int slotWidth;

    private LookupTable(String where, long rows, Data[] data, Map<String, Integer> byName, Data key,
                        MemorySegment slots, long capacity, int slotWidth) {
        this.where = where;
        this.rows = rows;
        this.data = data;
        this.byName = byName;
        List<Column> cols = new ArrayList<>(data.length);
        for (Data d : data) {
            cols.add(d.column);
        }
        this.columns = Collections.unmodifiableList(cols);
        this.key = key;
        this.slots = slots;
        this.capacity = capacity;
        this.slotWidth = slotWidth;
    }

    /**
     * Opens the table in directory {@code tableDir} of {@code image} (for instance
     * {@code "/minilm/tables/vocab"}).
     *
     * @throws TableFormatException if the descriptor or a file breaks {@link TableLayout}
     * @throws IOException if the directory or a file named by the descriptor is missing
     */
    public static LookupTable open(DaxImage image, String tableDir) throws IOException {
        String dir = stripSlashes(tableDir);
        String where = image.source() + ":/" + dir;
        JsonObject d = readDescriptor(image, dir, where);

        String format = string(d, "format", where);
        if (!TableLayout.FORMAT.equals(format)) {
            throw new TableFormatException(where + ": table format '" + format + "' is not " + TableLayout.FORMAT);
        }
        long rows = nonNegativeLong(d, "rows", where);
        if (rows > (1L << 56)) {
            throw new TableFormatException(where + ": " + rows + " rows is more than any image can hold");
        }
        JsonElement colsElement = d.get("columns");
        if (!(colsElement instanceof JsonArray cols) || cols.isEmpty()) {
            throw new TableFormatException(where + ": 'columns' must be a non-empty array");
        }
        Data[] data = new Data[cols.size()];
        Map<String, Integer> byName = new HashMap<>();
        for (int i = 0; i < cols.size(); i++) {
            if (!(cols.get(i) instanceof JsonObject c)) {
                throw new TableFormatException(where + ": column " + i + " is not an object");
            }
            String name = string(c, "name", where + ": column " + i);
            String cw = where + ": column '" + name + "'";
            if (byName.putIfAbsent(name, i) != null) {
                throw new TableFormatException(cw + " appears twice");
            }
            ColumnType type;
            try {
                type = ColumnType.valueOf(string(c, "type", cw));
            } catch (IllegalArgumentException e) {
                throw new TableFormatException(cw + ": unknown type '" + string(c, "type", cw) + "'");
            }
            Column column = new Column(name, type, i);
            if (type == ColumnType.STRING) {
                MemorySegment offsets = file(image, dir, string(c, "offsets", cw), where);
                MemorySegment bytes = file(image, dir, string(c, "bytes", cw), where);
                expectSize(offsets, (rows + 1) * 8, cw + ": offsets file holds " + offsets.byteSize()
                        + " bytes, but " + rows + " rows need " + (rows + 1) * 8);
                long first = offsets.get(TableLayout.I64, 0);
                long last = offsets.get(TableLayout.I64, rows * 8);
                if (first != 0 || last != bytes.byteSize()) {
                    throw new TableFormatException(cw + ": offsets run from " + first + " to " + last
                            + ", but the bytes file holds " + bytes.byteSize() + " bytes");
                }
                data[i] = new Data(column, null, offsets, bytes);
            } else {
                MemorySegment values = file(image, dir, string(c, "values", cw), where);
                expectSize(values, rows * type.width(), cw + ": values file holds " + values.byteSize()
                        + " bytes, but " + rows + " rows of " + type + " need " + rows * type.width());
                data[i] = new Data(column, values, null, null);
            }
        }

        JsonElement indexElement = d.get("index");
        if (indexElement == null || indexElement.isJsonNull()) {
            return new LookupTable(where, rows, data, byName, null, null, 0, 0);
        }
        if (!(indexElement instanceof JsonObject ix)) {
            throw new TableFormatException(where + ": 'index' is not an object");
        }
        String iw = where + ": index";
        expect(ix, "kind", TableLayout.INDEX_HASH, iw);
        expect(ix, "hash", TableLayout.HASH_NAME, iw);
        expect(ix, "probe", TableLayout.PROBE_LINEAR, iw);
        String keyName = string(ix, "key", iw);
        Integer keyPos = byName.get(keyName);
        if (keyPos == null) {
            throw new TableFormatException(iw + ": key column '" + keyName + "' is not a column");
        }
        Data key = data[keyPos];
        if (!key.column.type().canBeKey()) {
            throw new TableFormatException(iw + ": key column '" + keyName + "' is " + key.column.type()
                    + "; keys are strings or integers");
        }
        long capacity = nonNegativeLong(ix, "capacity", iw);
        if (Long.bitCount(capacity) != 1 || capacity <= rows || capacity > (1L << 60)) {
            throw new TableFormatException(iw + ": capacity " + capacity
                    + " is not a power of two greater than the " + rows + " rows");
        }
        String slot = string(ix, "slot", iw);
        int slotWidth = switch (slot) {
            case "I32" -> 4;
            case "I64" -> 8;
            default -> throw new TableFormatException(iw + ": slot type '" + slot + "' is not I32 or I64");
        };
        if (slotWidth == 4 && rows >= Integer.MAX_VALUE) {
            throw new TableFormatException(iw + ": I32 slots cannot name " + rows + " rows");
        }
        MemorySegment slots = file(image, dir, string(ix, "slots", iw), where);
        expectSize(slots, capacity * slotWidth, iw + ": slots file holds " + slots.byteSize()
                + " bytes, but " + capacity + " " + slot + " slots need " + capacity * slotWidth);
        return new LookupTable(where, rows, data, byName, key, slots, capacity, slotWidth);
    }

    /** Image and directory, for messages. */
    public String source() {
        return where;
    }

    public long rows() {
        return rows;
    }

    /** Columns in their stored order. */
    public List<Column> columns() {
        return columns;
    }

    /** The column named {@code name}. */
    public Optional<Column> findColumn(String name) {
        Integer i = byName.get(name);
        return i == null ? Optional.empty() : Optional.of(data[i].column);
    }

    /** The key column, if the table has an index. */
    public Optional<Column> keyColumn() {
        return key == null ? Optional.empty() : Optional.of(key.column);
    }

    /**
     * The row whose string key is {@code key}, or empty when no row has it.
     *
     * @throws IllegalStateException if the table has no key, or its key is not a string column
     */
    public OptionalLong rowOf(String key) {
        requireKey(ColumnType.STRING, "rowOf(String)");
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        if (k.length == 0) {
            return OptionalLong.empty(); // keys are never empty
        }
        MemorySegment ks = MemorySegment.ofArray(k);
        long start = TableLayout.mix(TableLayout.fnv1a64(k));
        for (long p = 0, i = start & (capacity - 1); p < capacity; p++, i = (i + 1) & (capacity - 1)) {
            long row = slotRow(i);
            if (row < 0) {
                return OptionalLong.empty();
            }
            long from = stringStart(this.key, row);
            long to = stringEnd(this.key, row, from);
            if (to - from == k.length && MemorySegment.mismatch(this.key.bytes, from, to, ks, 0, k.length) < 0) {
                return OptionalLong.of(row);
            }
        }
        return OptionalLong.empty();
    }

    /**
     * The row whose integer key is {@code key}, or empty when no row has it.
     *
     * @throws IllegalStateException if the table has no key, or its key is not an integer column
     */
    public OptionalLong rowOf(long key) {
        requireKey(null, "rowOf(long)");
        boolean narrow = this.key.column.type() == ColumnType.I32;
        if (narrow && (int) key != key) {
            return OptionalLong.empty();
        }
        long start = TableLayout.mix(key);
        for (long p = 0, i = start & (capacity - 1); p < capacity; p++, i = (i + 1) & (capacity - 1)) {
            long row = slotRow(i);
            if (row < 0) {
                return OptionalLong.empty();
            }
            long stored = narrow ? this.key.values.get(TableLayout.I32, row * 4) : this.key.values.get(TableLayout.I64, row * 8);
            if (stored == key) {
                return OptionalLong.of(row);
            }
        }
        return OptionalLong.empty();
    }

    /** Position of the column named {@code name}, for the faster by-position reads. */
    public int columnIndex(String name) {
        Integer i = byName.get(name);
        if (i == null) {
            throw new IllegalArgumentException(where + ": no column '" + name + "'; columns are " + names());
        }
        return i;
    }

    /** An integer cell. Works on I64 and I32 columns. */
    public long getLong(String column, long row) {
        return getLong(columnIndex(column), row);
    }

    /** An integer cell by column position. */
    public long getLong(int column, long row) {
        Data d = data(column);
        checkRow(row);
        return switch (d.column.type()) {
            case I64 -> d.values.get(TableLayout.I64, row * 8);
            case I32 -> d.values.get(TableLayout.I32, row * 4);
            default -> throw wrongType(d, "getLong", "I64 or I32");
        };
    }

    /** A numeric cell as a double. Works on every numeric column (I64 values past 2^53 round). */
    public double getDouble(String column, long row) {
        return getDouble(columnIndex(column), row);
    }

    /** A numeric cell as a double, by column position. */
    public double getDouble(int column, long row) {
        Data d = data(column);
        checkRow(row);
        return switch (d.column.type()) {
            case F64 -> d.values.get(TableLayout.F64, row * 8);
            case F32 -> d.values.get(TableLayout.F32, row * 4);
            case I64 -> d.values.get(TableLayout.I64, row * 8);
            case I32 -> d.values.get(TableLayout.I32, row * 4);
            case STRING -> throw wrongType(d, "getDouble", "numeric");
        };
    }

    /** A string cell, decoded from UTF-8 (the one copy a Java string needs). */
    public String getString(String column, long row) {
        return getString(columnIndex(column), row);
    }

    /** A string cell by column position. */
    public String getString(int column, long row) {
        Data d = data(column);
        checkRow(row);
        if (d.column.type() != ColumnType.STRING) {
            throw wrongType(d, "getString", "STRING");
        }
        long from = stringStart(d, row);
        long to = stringEnd(d, row, from);
        if (to - from > Math.min(Integer.MAX_VALUE - 8, Runtime.getRuntime().maxMemory() / 8)) {
            // bytes and string together would take a quarter of the heap: a cell this size is read in place
            throw new IllegalStateException(where + ": column '" + d.column.name() + "' row " + row + " holds " + (to - from)
                    + " bytes, more than this JVM holds as one string (an eighth of the maximum heap); read it in place with getBytes()");
        }
        return new String(d.bytes.asSlice(from, to - from).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }

    /** The UTF-8 bytes of a string cell: a slice of the image, not a copy. */
    public MemorySegment getBytes(String column, long row) {
        Data d = data(columnIndex(column));
        checkRow(row);
        if (d.column.type() != ColumnType.STRING) {
            throw wrongType(d, "getBytes", "STRING");
        }
        long from = stringStart(d, row);
        return d.bytes.asSlice(from, stringEnd(d, row, from) - from);
    }

    /**
     * The values of a numeric column: {@code rows} little-endian values of its dtype, a view of the
     * image (no copy), ready to hand to DJL as a tensor.
     *
     * @throws IllegalArgumentException for a STRING column: see {@link #offsets} and {@link #bytes}
     */
    public MemorySegment column(String name) {
        Data d = data(columnIndex(name));
        if (d.values == null) {
            throw new IllegalArgumentException(where + ": column '" + name + "' is STRING; its views are offsets() and bytes()");
        }
        return d.values;
    }

    /** A string column's {@code rows + 1} I64 offsets, as stored. */
    public MemorySegment offsets(String name) {
        return stringData(name).offsets;
    }

    /** A string column's UTF-8 bytes, as stored. */
    public MemorySegment bytes(String name) {
        return stringData(name).bytes;
    }

    /** The index's slots (I32 or I64, see {@link TableLayout}); empty when the table has no key. */
    public MemorySegment indexSlots() {
        return slots == null ? EMPTY : slots;
    }

    @Override
    public String toString() {
        return "LookupTable[" + where + ", " + rows + " rows, columns " + names()
                + (key == null ? "" : ", key " + key.column.name()) + "]";
    }

    /**
     * The checks {@link #open} leaves to reads, done for every row now: every string column's offsets
     * run forward within its bytes, every index slot is empty or names a row, and the index names
     * each row once. Costs time proportional to the rows and no memory beyond a few counters; for
     * {@code daxload verify}.
     *
     * @throws TableFormatException naming the table, the column or slot, and what was found
     */
    public void checkAll() throws TableFormatException {
        for (Data d : data) {
            if (d.offsets == null) {
                continue;
            }
            long prev = 0;
            for (long row = 0; row < rows; row++) {
                long to = d.offsets.get(TableLayout.I64, (row + 1) * 8);
                if (to < prev || to > d.bytes.byteSize()) {
                    throw new TableFormatException(where + ": column '" + d.column.name() + "' offset " + (row + 1) + " is " + to
                            + ", expected between the previous offset " + prev + " and the bytes file's size " + d.bytes.byteSize());
                }
                prev = to;
            }
        }
        if (key == null) {
            return;
        }
        long used = 0;
        for (long i = 0; i < capacity; i++) {
            long s = slotWidth == 4 ? slots.get(TableLayout.I32, i * 4) : slots.get(TableLayout.I64, i * 8);
            if (s < 0 || s > rows) {
                throw new TableFormatException(where + ": index slot " + i + " holds " + s + ", expected 0 (empty) or a row 1.." + rows);
            }
            if (s != 0) {
                used++;
            }
        }
        if (used != rows) {
            throw new TableFormatException(where + ": the index names " + used + " rows, expected each of the " + rows + " rows once");
        }
        for (long row = 0; row < rows; row++) {
            OptionalLong found;
            try {
                found = key.column.type() == ColumnType.STRING ? rowOfStored(row) : rowOf(getLong(key.column.position(), row));
            } catch (IllegalStateException e) {
                throw new TableFormatException(e.getMessage());
            }
            if (found.isEmpty() || found.getAsLong() != row) {
                throw new TableFormatException(where + ": key of row " + row + " is not found at that row through the index"
                        + (found.isPresent() ? " (found row " + found.getAsLong() + ": a duplicate key)" : ""));
            }
        }
    }

    /** The row the index finds for the string key stored at {@code row}, compared in place (no copy of the key). */
    private OptionalLong rowOfStored(long row) {
        long from = stringStart(key, row);
        long len = stringEnd(key, row, from) - from;
        if (len == 0) {
            return OptionalLong.empty();
        }
        long start = TableLayout.mix(TableLayout.fnv1a64(key.bytes, from, len));
        for (long p = 0, i = start & (capacity - 1); p < capacity; p++, i = (i + 1) & (capacity - 1)) {
            long r = slotRow(i);
            if (r < 0) {
                return OptionalLong.empty();
            }
            long f = stringStart(key, r);
            long t = stringEnd(key, r, f);
            if (t - f == len && MemorySegment.mismatch(key.bytes, f, t, key.bytes, from, from + len) < 0) {
                return OptionalLong.of(r);
            }
        }
        return OptionalLong.empty();
    }

    // --- reading, with the checks open could not afford ---

    /** The row a slot names, or -1 for an empty slot. */
    private long slotRow(long i) {
        long s = slotWidth == 4 ? slots.get(TableLayout.I32, i * 4) : slots.get(TableLayout.I64, i * 8);
        if (s == 0) {
            return -1;
        }
        if (s < 0 || s > rows) {
            throw new IllegalStateException(where + ": index slot " + i + " holds " + s
                    + ", which names no row of " + rows + " (corrupt index)");
        }
        return s - 1;
    }

    private long stringStart(Data d, long row) {
        return d.offsets.get(TableLayout.I64, row * 8);
    }

    private long stringEnd(Data d, long row, long from) {
        long to = d.offsets.get(TableLayout.I64, (row + 1) * 8);
        if (from < 0 || to < from || to > d.bytes.byteSize()) {
            throw new IllegalStateException(where + ": column '" + d.column.name() + "' row " + row + " spans ["
                    + from + ", " + to + ") of " + d.bytes.byteSize() + " bytes (corrupt offsets)");
        }
        return to;
    }

    private void requireKey(ColumnType want, String call) {
        if (key == null) {
            throw new IllegalStateException(where + ": the table has no key index");
        }
        boolean ok = want == null ? key.column.type().isInteger() : key.column.type() == want;
        if (!ok) {
            throw new IllegalStateException(where + ": key column '" + key.column.name() + "' is "
                    + key.column.type() + "; " + call + " does not apply");
        }
    }

    private Data data(int column) {
        if (column < 0 || column >= data.length) {
            throw new IndexOutOfBoundsException(where + ": column " + column + " of " + data.length);
        }
        return data[column];
    }

    private Data stringData(String name) {
        Data d = data(columnIndex(name));
        if (d.column.type() != ColumnType.STRING) {
            throw new IllegalArgumentException(where + ": column '" + name + "' is " + d.column.type() + ", not STRING");
        }
        return d;
    }

    private void checkRow(long row) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException(where + ": row " + row + " of " + rows);
        }
    }

    private IllegalArgumentException wrongType(Data d, String call, String want) {
        return new IllegalArgumentException(where + ": column '" + d.column.name() + "' is " + d.column.type()
                + "; " + call + " reads " + want + " columns");
    }

    private List<String> names() {
        return columns.stream().map(Column::name).toList();
    }

    // --- open's helpers ---

    private static JsonObject readDescriptor(DaxImage image, String dir, String where) throws IOException {
        MemorySegment seg = file(image, dir, TableLayout.DESCRIPTOR, where);
        if (seg.byteSize() > TableLayout.MAX_DESCRIPTOR_BYTES) {
            throw new TableFormatException(where + ": " + TableLayout.DESCRIPTOR + " is " + seg.byteSize()
                    + " bytes; more than " + TableLayout.MAX_DESCRIPTOR_BYTES + " is not a descriptor");
        }
        byte[] raw = seg.toArray(ValueLayout.JAVA_BYTE);
        if (raw.length >= 3 && (raw[0] & 0xff) == 0xef && (raw[1] & 0xff) == 0xbb && (raw[2] & 0xff) == 0xbf) {
            throw new TableFormatException(where + ": " + TableLayout.DESCRIPTOR + " starts with a byte order mark; it must be plain JSON (RFC 8259)");
        }
        // Strict: what the builder writes is plain JSON, so comments, single quotes, unquoted names or
        // trailing data mean the descriptor is not what the builder wrote.
        try (JsonReader reader = new JsonReader(new java.io.StringReader(new String(raw, StandardCharsets.UTF_8)))) {
            reader.setStrictness(Strictness.STRICT);
            JsonElement e = STRICT.getAdapter(JsonElement.class).read(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new TableFormatException(where + ": " + TableLayout.DESCRIPTOR + " holds data after its JSON value");
            }
            if (!(e instanceof JsonObject o)) {
                throw new TableFormatException(where + ": " + TableLayout.DESCRIPTOR + " is not a JSON object");
            }
            return o;
        } catch (JsonParseException | java.io.IOException | IllegalStateException | StackOverflowError e) {
            if (e instanceof TableFormatException t) {
                throw t;
            }
            throw new TableFormatException(where + ": " + TableLayout.DESCRIPTOR + " is not valid JSON: "
                    + String.valueOf(e.getMessage()).replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON"), e);
        }
    }

    private static MemorySegment file(DaxImage image, String dir, String name, String where) throws IOException {
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..") || name.indexOf('\0') >= 0) {
            throw new TableFormatException(where + ": file name '" + name + "' is not a plain name inside the table directory");
        }
        try {
            return image.content(dir.isEmpty() ? name : dir + "/" + name);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(where + "/" + name, null, "a file of the table is missing");
        }
    }

    private static void expectSize(MemorySegment seg, long size, String message) throws TableFormatException {
        if (seg.byteSize() != size) {
            throw new TableFormatException(message);
        }
    }

    private static String string(JsonObject o, String member, String where) throws TableFormatException {
        JsonElement e = o.get(member);
        if (e instanceof JsonPrimitive p && p.isString()) {
            return p.getAsString();
        }
        throw new TableFormatException(where + ": '" + member + "' must be a string" + (e == null ? " (missing)" : ", not " + e));
    }

    private static void expect(JsonObject o, String member, String value, String where) throws TableFormatException {
        String got = string(o, member, where);
        if (!got.equals(value)) {
            throw new TableFormatException(where + ": " + member + " '" + got + "' is not supported (expected '" + value + "')");
        }
    }

    private static long nonNegativeLong(JsonObject o, String member, String where) throws TableFormatException {
        JsonElement e = o.get(member);
        if (e instanceof JsonPrimitive p && p.isNumber()) {
            try {
                long v = Long.parseLong(p.getAsString());
                if (v >= 0) {
                    return v;
                }
            } catch (NumberFormatException ignored) {
                // falls through to the message below: not an integer
            }
        }
        throw new TableFormatException(where + ": '" + member + "' must be a non-negative integer" + (e == null ? " (missing)" : ", not " + e));
    }

    private static String stripSlashes(String path) {
        int a = 0;
        int b = path.length();
        while (a < b && path.charAt(a) == '/') {
            a++;
        }
        while (b > a && path.charAt(b - 1) == '/') {
            b--;
        }
        return path.substring(a, b);
    }
}

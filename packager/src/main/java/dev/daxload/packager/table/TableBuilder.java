package dev.daxload.packager.table;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.table.TableLayout;
import dev.daxload.table.TableLayout.ColumnType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Builds a lookup table (see {@link TableLayout}) from a CSV, TSV or JSON Lines file, and adds it to
 * an {@link ImageTree} to be written with the rest of an image.
 *
 * <pre>{@code
 * try (TableBuilder vocab = TableBuilder.csv(Path.of("vocab.csv")).key("token").type("id", ColumnType.I32)) {
 *     vocab.addTo(tree.root().directory("minilm", attrs).directory("tables", attrs), "vocab");
 *     new ImageWriter().write(tree, image);
 * } // close() deletes the temporary column files, which the writer reads from
 * }</pre>
 *
 * <h2>Types</h2>
 * Unless a column's type is given with {@link #type}, it is inferred from all its non-empty cells:
 * all integers (an optional sign and digits, within a long) make I64; all numbers, some with a
 * fraction, an exponent, more digits than a long holds, or NaN/Inf/Infinity, make F64; anything
 * else, or no value at all, makes STRING. Cells are taken as written (no trimming). A JSON string or
 * boolean always counts as text for inference, so {@code "007"} stays a string; JSON numbers are
 * read from their literal, so large integers stay exact. I32 and F32 are used only when asked for.
 *
 * <h2>Empty cells</h2>
 * An empty CSV field, a JSON null and a missing JSON member are all empty: the empty string in a
 * STRING column, NaN in F64/F32 columns, and an error in integer columns. Key cells must not be
 * empty, and keys must be unique: a duplicate is an error naming both lines.
 *
 * <h2>Memory and files</h2>
 * The input is read twice when some type must be inferred (once to infer, once to convert), and
 * once otherwise; it must be a regular file. Columns are written to temporary files as they are
 * read, and the key index is built in a memory-mapped temporary file, so the heap needed does not
 * grow with the input: a few buffers per column. The temporary files live until {@link #close()},
 * because the {@link FileContent}s that {@link #addTo} hands to the tree read them when the image is
 * written: the caller closes the builder after {@code ImageWriter.write}. A failed build deletes
 * what it wrote and adds nothing to any tree.
 *
 * <p>Not thread-safe.
 */
public final class TableBuilder implements AutoCloseable {

    /** Input formats. */
    public enum Format {
        /** RFC 4180 CSV with a header line; quoted fields may hold commas, quotes and line breaks. */
        CSV,
        /**
         * Tab-separated values (text/tab-separated-values) with a header line: fields split at tabs, no
         * quoting, so quotes are ordinary characters. For tab-separated input with CSV quoting use
         * {@link #CSV} with {@link TableBuilder#delimiter(char) delimiter('\t')}.
         */
        TSV,
        /** One JSON object per line; members name the columns. */
        JSON_LINES
    }

    private static final ImageTree.Attributes DIR_ATTRS = new ImageTree.Attributes(0755, 0, 0);
    private static final ImageTree.Attributes FILE_ATTRS = new ImageTree.Attributes(0644, 0, 0);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final byte[] EMPTY = new byte[0];

    private final Path input;
    private final Format format;
    private char delimiter;
    private String key;
    private final Map<String, ColumnType> forced = new LinkedHashMap<>();
    private Path tempParent;

    private boolean closed;
    private Path work;
    private long rows;
    private List<String> names;
    private ColumnType[] types;
    private final List<Output> outputs = new ArrayList<>();
    private byte[] descriptor;

    private record Output(String name, Path path, long size) {}

    private TableBuilder(Path input, Format format, char delimiter) {
        this.input = Objects.requireNonNull(input);
        this.format = format;
        this.delimiter = delimiter;
    }

    /** A builder over a CSV file (comma-separated unless {@link #delimiter} says otherwise). */
    public static TableBuilder csv(Path file) {
        return new TableBuilder(file, Format.CSV, ',');
    }

    /** A builder over a tab-separated file: no quoting (see {@link Format#TSV}). */
    public static TableBuilder tsv(Path file) {
        return new TableBuilder(file, Format.TSV, '\t');
    }

    /** A builder over a JSON Lines file. */
    public static TableBuilder jsonLines(Path file) {
        return new TableBuilder(file, Format.JSON_LINES, '\0');
    }

    /** A builder over {@code file} in {@code format}. */
    public static TableBuilder of(Path file, Format format) {
        return switch (format) {
            case CSV -> csv(file);
            case TSV -> tsv(file);
            case JSON_LINES -> jsonLines(file);
        };
    }

    /** The field delimiter of CSV input: one character, not a quote, CR or LF. */
    public TableBuilder delimiter(char c) {
        unbuilt();
        if (format != Format.CSV) {
            throw new IllegalStateException(format + " has a fixed delimiter; for another one use CSV");
        }
        if (c == '"' || c == '\r' || c == '\n') {
            throw new IllegalArgumentException("'" + c + "' cannot be a delimiter");
        }
        this.delimiter = c;
        return this;
    }

    /** The column whose values are looked up (strings or integers, unique, never empty); none by default. */
    public TableBuilder key(String column) {
        unbuilt();
        this.key = column;
        return this;
    }

    /** Forces a column's type instead of inferring it. */
    public TableBuilder type(String column, ColumnType type) {
        unbuilt();
        forced.put(Objects.requireNonNull(column), Objects.requireNonNull(type));
        return this;
    }

    /** Where the temporary column files go; the system's temporary directory by default. */
    public TableBuilder tempDirectory(Path dir) {
        unbuilt();
        this.tempParent = dir;
        return this;
    }

    /**
     * Reads the input and writes the table's files. Called by {@link #addTo} if not called before;
     * calling it again does nothing.
     *
     * @throws TableInputException if the input is malformed, a cell does not fit its column's type,
     *     or a key is empty or repeated
     * @throws IllegalArgumentException if a forced type or the key names no column, or the key column
     *     cannot be a key
     */
    public TableBuilder build() throws IOException {
        if (closed) {
            throw new IllegalStateException("the builder is closed");
        }
        if (work != null) {
            return this;
        }
        work = tempParent == null ? Files.createTempDirectory("daxload-table-")
                : Files.createTempDirectory(tempParent, "daxload-table-");
        try {
            infer();
            checkColumns();
            convert();
            if (key != null) {
                buildIndex(names.indexOf(key));
            }
            descriptor = describe();
            return this;
        } catch (IOException | RuntimeException | Error e) {
            try {
                deleteWork();
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            work = null; // a later build() starts over rather than handing out deleted files
            outputs.clear();
            throw e;
        }
    }

    /** Rows read; valid after {@link #build}. */
    public long rows() {
        built();
        return rows;
    }

    /** Column names and their types, in table order; valid after {@link #build}. */
    public Map<String, ColumnType> columnTypes() {
        built();
        Map<String, ColumnType> m = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            m.put(names.get(i), types[i]);
        }
        return Collections.unmodifiableMap(m);
    }

    /**
     * Builds the table if needed, then adds it to {@code tablesDir} as the directory {@code tableName}.
     * Nothing is added unless the whole table is ready.
     *
     * @return the table's directory
     * @throws IllegalArgumentException if {@code tableName} is not a valid name or is taken
     */
    public Directory addTo(Directory tablesDir, String tableName) throws IOException {
        ImageTree.checkName(tableName);
        if (tablesDir.get(tableName) != null) {
            throw new IllegalArgumentException("'" + tableName + "' is already in this directory");
        }
        build();
        Directory d = tablesDir.directory(tableName, DIR_ATTRS);
        d.file(TableLayout.DESCRIPTOR, FileContent.of(descriptor), FILE_ATTRS);
        for (Output o : outputs) {
            d.file(o.name, FileContent.of(o.path, o.size), FILE_ATTRS);
        }
        return d;
    }

    /** Deletes the temporary files. Call it once the image that holds the table is written. Idempotent. */
    @Override
    public void close() throws IOException {
        closed = true;
        deleteWork();
    }

    // --- pass 1: columns and types ---

    private RowSource open(boolean firstPass) throws IOException {
        return switch (format) {
            case JSON_LINES -> new JsonLinesSource(input, firstPass ? List.of() : names, firstPass);
            case TSV -> new TabSeparatedSource(input);
            case CSV -> new DelimitedSource(input, delimiter);
        };
    }

    private void infer() throws IOException {
        try (RowSource src = open(true)) {
            List<String> header = src.columns();
            boolean scan = format == Format.JSON_LINES || !forced.keySet().containsAll(header);
            if (format != Format.JSON_LINES) {
                checkNames(header); // before reading a gigabyte for nothing
            }
            // per column: first line of a decimal, of a text cell; 0 = none
            long[] firstDecimal = new long[header.size()];
            long[] firstText = new long[header.size()];
            boolean[] sawInteger = new boolean[header.size()];
            if (scan) {
                while (src.next()) {
                    int width = src.columns().size();
                    if (width > firstText.length) {
                        firstDecimal = Arrays.copyOf(firstDecimal, width);
                        firstText = Arrays.copyOf(firstText, width);
                        sawInteger = Arrays.copyOf(sawInteger, width);
                    }
                    for (int i = 0; i < width; i++) {
                        String cell = src.cell(i);
                        if (cell == null || firstText[i] != 0) {
                            continue; // once text, always STRING: no need to look further
                        }
                        Cells.Kind kind = src.isText(i) ? Cells.Kind.TEXT : Cells.classify(cell);
                        switch (kind) {
                            case INTEGER -> sawInteger[i] = true;
                            case DECIMAL -> firstDecimal[i] = firstDecimal[i] == 0 ? src.line() : firstDecimal[i];
                            case TEXT -> firstText[i] = src.line();
                        }
                    }
                }
            }
            names = List.copyOf(src.columns());
            if (names.isEmpty()) {
                throw new TableInputException(input, 0, null, "no records: a JSON Lines table needs an object to name its columns");
            }
            checkNames(names);
            types = new ColumnType[names.size()];
            for (int i = 0; i < types.length; i++) {
                ColumnType f = forced.get(names.get(i));
                types[i] = f != null ? f
                        : firstText[i] != 0 ? ColumnType.STRING
                        : firstDecimal[i] != 0 ? ColumnType.F64
                        : sawInteger[i] ? ColumnType.I64
                        : ColumnType.STRING;
            }
            if (key != null) {
                int k = names.indexOf(key);
                if (!types[k].canBeKey()) {
                    String why = forced.containsKey(key) ? "it was forced to " + types[k]
                            : "it holds decimals (first at line " + firstDecimal[k] + ")";
                    throw new IllegalArgumentException(input + ": key column '" + key + "' cannot be a key: " + why
                            + "; keys are strings or integers (force STRING or I64)");
                }
            }
        }
    }

    private void checkNames(List<String> columns) {
        for (String c : forced.keySet()) {
            if (!columns.contains(c)) {
                throw new IllegalArgumentException(input + ": a type is given for column '" + c
                        + "', which is not in the file; columns are " + columns);
            }
        }
        if (key != null && !columns.contains(key)) {
            throw new IllegalArgumentException(input + ": key column '" + key + "' is not in the file; columns are " + columns);
        }
    }

    // --- pass 2: column files ---

    /**
     * Before any column file is made: each column writes through its own buffer (two for strings), and
     * the descriptor grows with the columns; refuse a table whose buffers would not fit the memory
     * budget or whose descriptor the loader would refuse to read.
     */
    private void checkColumns() throws TableInputException {
        long buffers = 0;
        for (ColumnType t : types) {
            buffers += (t == ColumnType.STRING ? 2L : 1L) * ColumnFile.BUFFER;
        }
        long budget = dev.daxload.packager.source.MemoryBudget.bytes();
        if (buffers > budget) {
            throw new TableInputException(input, 1, null, names.size() + " columns need " + (buffers >> 20)
                    + " MiB of write buffers, over this JVM's budget of " + (budget >> 20) + " MiB (a quarter of the maximum heap): raise -Xmx");
        }
        describe(); // its size barely depends on the row count, known only after the data is read
    }

    private void convert() throws IOException {
        int n = names.size();
        ColumnFile[] values = new ColumnFile[n];
        ColumnFile[] bytes = new ColumnFile[n];
        int keyCol = key == null ? -1 : names.indexOf(key);
        ColumnFile lines = null;
        List<ColumnFile> all = new ArrayList<>();
        try (RowSource src = open(false)) {
            if (!src.columns().equals(names)) {
                throw new TableInputException(input, 1, null, "the header changed since the first pass");
            }
            for (int i = 0; i < n; i++) {
                if (types[i] == ColumnType.STRING) {
                    values[i] = track(all, new ColumnFile(work.resolve(TableLayout.offsetsFile(i))));
                    bytes[i] = track(all, new ColumnFile(work.resolve(TableLayout.bytesFile(i))));
                    values[i].putLong(0);
                } else {
                    values[i] = track(all, new ColumnFile(work.resolve(TableLayout.valuesFile(i))));
                }
            }
            if (keyCol >= 0) {
                lines = track(all, new ColumnFile(work.resolve("lines")));
            }
            long count = 0;
            while (src.next()) {
                count++;
                for (int i = 0; i < n; i++) {
                    String cell = src.cell(i);
                    if (i == keyCol && cell == null) {
                        throw new TableInputException(input, src.line(), names.get(i), "the key is empty; every row needs a key");
                    }
                    write(src, i, cell, values[i], bytes[i]);
                }
                if (lines != null) {
                    lines.putLong(src.line());
                }
            }
            rows = count;
        } finally {
            IOException failure = null;
            for (ColumnFile f : all) {
                try {
                    f.close();
                } catch (IOException e) {
                    failure = failure == null ? e : failure;
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
        for (int i = 0; i < n; i++) {
            outputs.add(new Output(values[i].path().getFileName().toString(), values[i].path(), values[i].size()));
            if (bytes[i] != null) {
                outputs.add(new Output(bytes[i].path().getFileName().toString(), bytes[i].path(), bytes[i].size()));
            }
        }
    }

    private static ColumnFile track(List<ColumnFile> all, ColumnFile f) {
        all.add(f);
        return f;
    }

    private void write(RowSource src, int i, String cell, ColumnFile values, ColumnFile bytes) throws IOException {
        switch (types[i]) {
            case STRING -> {
                bytes.put(cell == null ? EMPTY : cell.getBytes(StandardCharsets.UTF_8));
                values.putLong(bytes.size());
            }
            case I64 -> values.putLong(integer(src, i, cell));
            case I32 -> {
                long v = integer(src, i, cell);
                if (v != (int) v) {
                    throw bad(src, i, "expected a 32-bit integer (I32), found " + v);
                }
                values.putInt((int) v);
            }
            case F64 -> values.putDouble(cell == null ? Double.NaN : decimal(src, i, cell));
            case F32 -> {
                double d = cell == null ? Double.NaN : decimal(src, i, cell);
                float f = (float) d;
                if (Float.isInfinite(f) && !Double.isInfinite(d)) {
                    throw bad(src, i, "expected a number within F32 range, found " + Cells.quote(cell));
                }
                values.putFloat(f);
            }
        }
    }

    private long integer(RowSource src, int i, String cell) throws TableInputException {
        if (cell == null) {
            throw bad(src, i, "the cell is empty, but " + types[i] + " columns have no empty value"
                    + " (force the column to F64, where empty is NaN, or to STRING)");
        }
        if (Cells.classify(cell) != Cells.Kind.INTEGER) {
            throw bad(src, i, "expected a 64-bit integer, found " + Cells.quote(cell));
        }
        return Long.parseLong(cell);
    }

    private double decimal(RowSource src, int i, String cell) throws TableInputException {
        if (Cells.classify(cell) == Cells.Kind.TEXT) {
            throw bad(src, i, "expected a number, found " + Cells.quote(cell));
        }
        return Cells.toDouble(cell);
    }

    private TableInputException bad(RowSource src, int i, String problem) {
        return new TableInputException(input, src.line(), names.get(i), problem);
    }

    // --- the key index ---

    /**
     * Fills the slots in row order, from the column files just written (mapped, so neither the keys
     * nor the slots sit in the heap). Row order makes the first of two equal keys the one in the
     * index, and the message name both lines.
     */
    private void buildIndex(int keyCol) throws IOException {
        long capacity = TableLayout.capacityFor(rows);
        int width = TableLayout.slotWidthFor(rows);
        long mask = capacity - 1;
        Path slotsPath = work.resolve(TableLayout.SLOTS_FILE);
        Path linesPath = work.resolve("lines");
        boolean string = types[keyCol] == ColumnType.STRING;
        try (Arena arena = Arena.ofConfined();
             FileChannel ch = FileChannel.open(slotsPath, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), capacity * width - 1); // all slots empty: a hole reads as zeros
            MemorySegment slots = ch.map(FileChannel.MapMode.READ_WRITE, 0, capacity * width, arena);
            if (rows > 0) {
                MemorySegment lines = map(linesPath, arena);
                MemorySegment offsets = string ? map(work.resolve(TableLayout.offsetsFile(keyCol)), arena) : null;
                MemorySegment bytes = string ? map(work.resolve(TableLayout.bytesFile(keyCol)), arena) : null;
                MemorySegment values = string ? null : map(work.resolve(TableLayout.valuesFile(keyCol)), arena);
                boolean narrow = types[keyCol] == ColumnType.I32;
                for (long row = 0; row < rows; row++) {
                    long from = 0;
                    long len = 0;
                    long value = 0;
                    long h;
                    if (string) {
                        from = offsets.get(I64, row * 8);
                        len = offsets.get(I64, row * 8 + 8) - from;
                        h = TableLayout.hashKey(bytes, from, len);
                    } else {
                        value = narrow ? values.get(I32, row * 4) : values.get(I64, row * 8);
                        h = TableLayout.hashKey(value);
                    }
                    // capacity > rows, so an empty slot is always ahead
                    for (long i = h & mask; ; i = (i + 1) & mask) {
                        long s = width == 4 ? slots.get(I32, i * 4) : slots.get(I64, i * 8);
                        if (s == 0) {
                            if (width == 4) {
                                slots.set(I32, i * 4, (int) (row + 1));
                            } else {
                                slots.set(I64, i * 8, row + 1);
                            }
                            break;
                        }
                        long other = s - 1;
                        boolean same;
                        if (string) {
                            long oFrom = offsets.get(I64, other * 8);
                            long oLen = offsets.get(I64, other * 8 + 8) - oFrom;
                            same = oLen == len && MemorySegment.mismatch(bytes, from, from + len, bytes, oFrom, oFrom + oLen) < 0;
                        } else {
                            same = value == (narrow ? values.get(I32, other * 4) : values.get(I64, other * 8));
                        }
                        if (same) {
                            String shown = string
                                    ? new String(bytes.asSlice(from, Math.min(len, 256)).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8)
                                    : Long.toString(value);
                            throw new TableInputException(input, lines.get(I64, row * 8), key,
                                    "duplicate key " + Cells.quote(shown) + ", already at line " + lines.get(I64, other * 8)
                                            + "; keys must be unique");
                        }
                    }
                }
            }
        }
        Files.delete(linesPath);
        outputs.add(new Output(TableLayout.SLOTS_FILE, slotsPath, capacity * width));
    }

    private static MemorySegment map(Path p, Arena arena) throws IOException {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.READ)) {
            return c.map(FileChannel.MapMode.READ_ONLY, 0, c.size(), arena);
        }
    }

    // --- the descriptor ---

    private byte[] describe() throws TableInputException {
        JsonObject d = new JsonObject();
        d.addProperty("format", TableLayout.FORMAT);
        d.addProperty("rows", rows);
        JsonArray cols = new JsonArray();
        for (int i = 0; i < names.size(); i++) {
            JsonObject c = new JsonObject();
            c.addProperty("name", names.get(i));
            c.addProperty("type", types[i].name());
            if (types[i] == ColumnType.STRING) {
                c.addProperty("offsets", TableLayout.offsetsFile(i));
                c.addProperty("bytes", TableLayout.bytesFile(i));
            } else {
                c.addProperty("values", TableLayout.valuesFile(i));
            }
            cols.add(c);
        }
        d.add("columns", cols);
        if (key != null) {
            JsonObject ix = new JsonObject();
            ix.addProperty("kind", TableLayout.INDEX_HASH);
            ix.addProperty("key", key);
            ix.addProperty("hash", TableLayout.HASH_NAME);
            ix.addProperty("probe", TableLayout.PROBE_LINEAR);
            ix.addProperty("capacity", TableLayout.capacityFor(rows));
            ix.addProperty("slot", TableLayout.slotWidthFor(rows) == 4 ? "I32" : "I64");
            ix.addProperty("slots", TableLayout.SLOTS_FILE);
            d.add("index", ix);
        }
        String json = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(d);
        byte[] bytes = (json + "\n").getBytes(StandardCharsets.UTF_8);
        if (bytes.length > TableLayout.MAX_DESCRIPTOR_BYTES) {
            // the loader's own limit: a table it would refuse to open is not written
            throw new TableInputException(input, 1, null, names.size() + " columns make a " + TableLayout.DESCRIPTOR + " of "
                    + bytes.length + " bytes; the loader reads at most " + TableLayout.MAX_DESCRIPTOR_BYTES);
        }
        return bytes;
    }

    // --- housekeeping ---

    private void unbuilt() {
        if (work != null || closed) {
            throw new IllegalStateException("options are set before the table is built");
        }
    }

    private void built() {
        if (work == null || descriptor == null) {
            throw new IllegalStateException("the table is not built yet");
        }
    }

    private void deleteWork() throws IOException {
        Path w = work;
        if (w == null || !Files.exists(w)) {
            return;
        }
        try (Stream<Path> s = Files.walk(w)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

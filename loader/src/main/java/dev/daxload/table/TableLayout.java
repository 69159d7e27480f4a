package dev.daxload.table;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * How a lookup table sits in a DAXFS image: the one description that the packager's
 * {@code TableBuilder} writes and {@link LookupTable} reads.
 *
 * <h2>Files</h2>
 * A table is a directory ({@code /<model>/tables/<name>/} by convention) holding:
 * <ul>
 *   <li>{@value #DESCRIPTOR}: a small JSON object, described below;</li>
 *   <li>per numeric column {@code c<i>.values}: {@code rows} little-endian values of the column's
 *       {@link ColumnType#dtype() dtype};</li>
 *   <li>per string column {@code c<i>.offsets}, {@code rows + 1} little-endian I64 byte offsets
 *       (the first is 0, they never decrease, the last equals the size of the bytes file), and
 *       {@code c<i>.bytes}, the UTF-8 text of every row one after the other (U8). Row {@code r} is
 *       {@code bytes[offsets[r], offsets[r+1])};</li>
 *   <li>{@code index.slots} when the table has a key: the hash index below.</li>
 * </ul>
 * {@code <i>} is the column's 0-based position, so that any column name (slashes, 300 bytes of
 * emoji) is fine; the descriptor maps names to files. Every file is a plain array, so each is also a
 * tensor that DJL can view without copying.
 *
 * <h2>{@value #DESCRIPTOR}</h2>
 * <pre>{@code
 * {"format": "daxload-table/1",
 *  "rows": 3,
 *  "columns": [
 *    {"name": "word",  "type": "STRING", "offsets": "c0.offsets", "bytes": "c0.bytes"},
 *    {"name": "id",    "type": "I64",    "values": "c1.values"},
 *    {"name": "score", "type": "F64",    "values": "c2.values"}],
 *  "index": {"kind": "hash", "key": "word", "hash": "fnv1a64-splitmix64", "probe": "linear",
 *            "capacity": 8, "slot": "I32", "slots": "index.slots"}}
 * }</pre>
 * {@code "index"} is absent when the table has no key column. File names are single path
 * components inside the table directory. Readers refuse a {@code format} they do not know and
 * ignore members they do not know, so later versions may add members without breaking old readers.
 *
 * <h2>Key index</h2>
 * An open-addressing hash table of {@code capacity} slots, {@code capacity} a power of two and
 * the smallest one {@code >= 2 * rows} (at least 2), so it is at most half full. A slot holds
 * {@code row + 1}, or 0 when empty; slots are I32 when {@code rows < 2^31 - 1}, else I64. The key
 * {@code k} starts at slot {@code hash(k) & (capacity - 1)} and moves to the next slot (wrapping)
 * until it finds its row or an empty slot. {@code hash} is {@link #mix} (the splitmix64
 * finalizer) of {@link #fnv1a64} of the key's UTF-8 bytes for string keys, and of the value itself
 * for integer keys (I32 keys are widened to 64 bits first). A lookup reads only the mapped
 * image: the slots, then the key column of the candidate rows. Keys are unique (the builder refuses
 * duplicates) and never empty.
 *
 * <h2>Types and missing values</h2>
 * There is no null bitmap. A missing or empty cell reads as the empty string in a STRING column and
 * as NaN in an F64/F32 column; integer columns have no value to spare, so the builder refuses empty
 * cells in them.
 */
public final class TableLayout {
    private TableLayout() {}

    /** The descriptor's file name inside a table directory. */
    public static final String DESCRIPTOR = "table.json";
    /** The {@code format} member that this version writes and reads. */
    public static final String FORMAT = "daxload-table/1";
    /** The only index kind of format 1. */
    public static final String INDEX_HASH = "hash";
    /** Names the key hash, so that a reader never guesses. */
    public static final String HASH_NAME = "fnv1a64-splitmix64";
    /** Names the probe sequence. */
    public static final String PROBE_LINEAR = "linear";
    /** The index file's name. */
    public static final String SLOTS_FILE = "index.slots";
    /**
     * Descriptors larger than this are refused unread, and the builder refuses to write one: a
     * table.json is about a hundred bytes per column, so this allows thousands of columns while the
     * parse stays a few MB of heap (a 40 MB descriptor parsed in a 64 MB heap ran out of memory).
     */
    public static final long MAX_DESCRIPTOR_BYTES = 1L << 20;

    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** What a column holds. */
    public enum ColumnType {
        /** UTF-8 text: an offsets file and a bytes file. */
        STRING("U8", 0),
        /** 64-bit signed integers. */
        I64("I64", 8),
        /** 32-bit signed integers; only when asked for. */
        I32("I32", 4),
        /** 64-bit IEEE floats. */
        F64("F64", 8),
        /** 32-bit IEEE floats; only when asked for. */
        F32("F32", 4);

        private final String dtype;
        private final int width;

        ColumnType(String dtype, int width) {
            this.dtype = dtype;
            this.width = width;
        }

        /** The safetensors dtype name of the values file (of the bytes file for STRING). */
        public String dtype() {
            return dtype;
        }

        /** Bytes per row in the values file; 0 for STRING, whose rows vary. */
        public int width() {
            return width;
        }

        public boolean isInteger() {
            return this == I64 || this == I32;
        }

        public boolean isFloat() {
            return this == F64 || this == F32;
        }

        /** Whether a column of this type may be a key. */
        public boolean canBeKey() {
            return this == STRING || isInteger();
        }
    }

    /** The values file of numeric column {@code i}. */
    public static String valuesFile(int column) {
        return "c" + column + ".values";
    }

    /** The offsets file of string column {@code i}. */
    public static String offsetsFile(int column) {
        return "c" + column + ".offsets";
    }

    /** The bytes file of string column {@code i}. */
    public static String bytesFile(int column) {
        return "c" + column + ".bytes";
    }

    /** Slot count for {@code rows} keys: the smallest power of two {@code >= 2 * rows}, at least 2. */
    public static long capacityFor(long rows) {
        if (rows < 0 || rows > (1L << 61)) {
            throw new IllegalArgumentException("row count " + rows + " is out of range for an index");
        }
        long want = Math.max(2, rows * 2);
        return Long.highestOneBit(want - 1) << 1;
    }

    /** Bytes per slot for a table of {@code rows} rows: 4 while {@code row + 1} fits an I32. */
    public static int slotWidthFor(long rows) {
        return rows < Integer.MAX_VALUE ? 4 : 8;
    }

    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    /** FNV-1a, 64 bits, over {@code length} bytes of {@code bytes} from {@code offset}. */
    static long fnv1a64(MemorySegment bytes, long offset, long length) {
        long h = FNV_OFFSET;
        for (long i = 0; i < length; i++) {
            h ^= bytes.get(ValueLayout.JAVA_BYTE, offset + i) & 0xFF;
            h *= FNV_PRIME;
        }
        return h;
    }

    /** FNV-1a, 64 bits, over {@code bytes}. */
    static long fnv1a64(byte[] bytes) {
        long h = FNV_OFFSET;
        for (byte b : bytes) {
            h ^= b & 0xFF;
            h *= FNV_PRIME;
        }
        return h;
    }

    /**
     * The splitmix64 finalizer: spreads every input bit over the low bits that pick a slot. FNV-1a
     * alone leaves keys that differ in their last byte in neighbouring slots, and integer keys
     * would otherwise cluster whenever they are consecutive.
     */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** The index hash of a string key. */
    public static long hashKey(String key) {
        return mix(fnv1a64(key.getBytes(StandardCharsets.UTF_8)));
    }

    /** The index hash of a string key held as UTF-8 bytes in memory. */
    public static long hashKey(MemorySegment utf8, long offset, long length) {
        return mix(fnv1a64(utf8, offset, length));
    }

    /** The index hash of an integer key (I32 keys are widened first). */
    public static long hashKey(long key) {
        return mix(key);
    }
}

package dev.daxload.packager.table;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.table.LookupTable;
import dev.daxload.table.TableLayout;
import dev.daxload.table.TableLayout.ColumnType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TableRoundTripTest {
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir Path tmp;

    @Test
    void csvWithQuotedFieldsUnicodeKeysAndInferredTypes() throws Exception {
        Path csv = tmp.resolve("t.csv");
        Files.writeString(csv, """
                id,name,score,count
                "a,b","he said \"\"hi\"\"",1.5,3
                "multi
                line",plain,-2e3,-7
                ключ,"ü🙂
                ",NaN,0
                🙂,,,9223372036854775807
                """);
        TableBuilder b = TableBuilder.csv(csv).key("id");
        Path img = Tables.pack(b, tmp.resolve("t.daxfs"));
        assertThrows(IllegalStateException.class, b::build, "a closed builder refuses to build");

        try (var o = Tables.open(img)) {
            LookupTable t = o.table();
            assertEquals(4, t.rows());
            assertEquals(List.of(ColumnType.STRING, ColumnType.STRING, ColumnType.F64, ColumnType.I64),
                    t.columns().stream().map(LookupTable.Column::type).toList());
            assertEquals("id", t.keyColumn().orElseThrow().name());

            long r0 = t.rowOf("a,b").orElseThrow();
            assertEquals(0, r0);
            assertEquals("he said \"hi\"", t.getString("name", r0));
            assertEquals(1.5, t.getDouble("score", r0));
            assertEquals(3, t.getLong("count", r0));

            long r1 = t.rowOf("multi\nline").orElseThrow();
            assertEquals(1, r1);
            assertEquals(-2000.0, t.getDouble("score", r1));
            assertEquals(-7, t.getLong("count", r1));

            long r2 = t.rowOf("ключ").orElseThrow();
            assertEquals("ü🙂\n", t.getString("name", r2));
            assertTrue(Double.isNaN(t.getDouble("score", r2)));

            long r3 = t.rowOf("🙂").orElseThrow();
            assertEquals("", t.getString("name", r3), "an empty string cell reads as the empty string");
            assertTrue(Double.isNaN(t.getDouble("score", r3)), "an empty F64 cell reads as NaN");
            assertEquals(Long.MAX_VALUE, t.getLong("count", r3));

            assertEquals(OptionalLong.empty(), t.rowOf("a"));
            assertEquals(OptionalLong.empty(), t.rowOf("a,b "));
            assertEquals(OptionalLong.empty(), t.rowOf(""));
            assertThrows(IllegalStateException.class, () -> t.rowOf(3L), "the key is a string column");
            assertThrows(IllegalArgumentException.class, () -> t.getLong("score", 0));
            assertThrows(IllegalArgumentException.class, () -> t.getString("count", 0));
            assertThrows(IndexOutOfBoundsException.class, () -> t.getString("name", 4));
            assertThrows(IndexOutOfBoundsException.class, () -> t.getLong("count", -1));
            assertThrows(IllegalArgumentException.class, () -> t.getLong("nope", 0));

            // zero-copy views: the numbers as stored, the strings as offsets + UTF-8 bytes
            MemorySegment counts = t.column("count");
            assertEquals(4 * 8, counts.byteSize());
            assertEquals(-7, counts.get(I64, 8));
            assertEquals(o.image().content(Tables.DIR_PATH + "/c3.values").address(), counts.address(),
                    "the view is the image's own memory");
            MemorySegment offsets = t.offsets("name");
            assertEquals(5 * 8, offsets.byteSize());
            assertEquals(t.bytes("name").byteSize(), offsets.get(I64, 32));
            assertEquals("ü🙂\n", new String(t.getBytes("name", r2).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertThrows(IllegalArgumentException.class, () -> t.column("name"));
        }
    }

    @Test
    void integerKeysIncludingNegativesAndTheExtremes() throws Exception {
        long[] keys = {0, -1, 1, Long.MIN_VALUE, Long.MAX_VALUE, -9_000_000_000_000L, 42};
        StringBuilder sb = new StringBuilder("k,v\n");
        for (int i = 0; i < keys.length; i++) {
            sb.append(keys[i]).append(',').append(i * 0.25).append('\n');
        }
        Path csv = tmp.resolve("i.csv");
        Files.writeString(csv, sb);
        Path img = Tables.pack(TableBuilder.csv(csv).key("k"), tmp.resolve("i.daxfs"));
        try (var o = Tables.open(img)) {
            LookupTable t = o.table();
            assertEquals(ColumnType.I64, t.keyColumn().orElseThrow().type());
            for (int i = 0; i < keys.length; i++) {
                assertEquals(OptionalLong.of(i), t.rowOf(keys[i]), "key " + keys[i]);
                assertEquals(keys[i], t.getLong("k", i));
                assertEquals(i * 0.25, t.getDouble("v", i));
            }
            for (long absent : new long[] {2, -2, 43, Long.MIN_VALUE + 1, Long.MAX_VALUE - 1}) {
                assertEquals(OptionalLong.empty(), t.rowOf(absent), "key " + absent);
            }
            assertThrows(IllegalStateException.class, () -> t.rowOf("42"), "the key is an integer column");
        }
    }

    @Test
    void tsvWithForcedTypesAndQuotesAsOrdinaryCharacters() throws Exception {
        Path tsv = tmp.resolve("t.tsv");
        // A vocabulary's '"' token stands alone on its line; text/tab-separated-values has no quoting.
        Files.writeString(tsv, "zip\tcity\tpop\tarea\r\n00123\tÅre\t3200\t1.25\r\n"
                + "\"\t\"quoted\" city, with a comma\t-5\t1e3\n\n\"\"\tsay \"hi\t7\t2\n10001\tNew York\t8000000\t");
        TableBuilder b = TableBuilder.tsv(tsv).key("zip").type("zip", ColumnType.STRING)
                .type("pop", ColumnType.I32).type("area", ColumnType.F32);
        b.build();
        assertEquals(Map.of("zip", ColumnType.STRING, "city", ColumnType.STRING, "pop", ColumnType.I32, "area", ColumnType.F32),
                b.columnTypes());
        assertEquals(List.of("zip", "city", "pop", "area"), List.copyOf(b.columnTypes().keySet()));
        Path img = Tables.pack(b, tmp.resolve("t.daxfs"));
        try (var o = Tables.open(img)) {
            LookupTable t = o.table();
            assertEquals(4, t.rows(), "the blank line is skipped, the last line needs no line end");
            long r = t.rowOf("00123").orElseThrow();
            assertEquals("Åre", t.getString("city", r), "CRLF line ends are not part of the last field");
            assertEquals(3200, t.getLong("pop", r));
            assertEquals(1.25f, (float) t.getDouble("area", r));
            long r2 = t.rowOf("\"").orElseThrow();
            assertEquals("\"quoted\" city, with a comma", t.getString("city", r2));
            assertEquals(-5, t.getLong("pop", r2));
            assertEquals(1000.0, t.getDouble("area", r2));
            assertEquals("say \"hi", t.getString("city", t.rowOf("\"\"").orElseThrow()));
            assertTrue(Double.isNaN(t.getDouble("area", t.rowOf("10001").orElseThrow())));
            assertEquals(4 * 4, t.column("pop").byteSize(), "I32 is 4 bytes a row");
            assertEquals(OptionalLong.empty(), t.rowOf("123"));
        }
    }

    @Test
    void tabSeparatedWithCsvQuotingIsCsvWithATabDelimiter() throws Exception {
        Path tsv = tmp.resolve("quoted.txt");
        Files.writeString(tsv, "k\tv\n\"9\t9\"\t\"\"\"\"\n");
        Path img = Tables.pack(TableBuilder.csv(tsv).delimiter('\t').key("k"), tmp.resolve("q.daxfs"));
        try (var o = Tables.open(img)) {
            assertEquals("\"", o.table().getString("v", o.table().rowOf("9\t9").orElseThrow()));
        }
        assertThrows(IllegalStateException.class, () -> TableBuilder.tsv(tsv).delimiter(','));
    }

    @Test
    void jsonLinesWithMissingMembersNullsBooleansAndNumericStrings() throws Exception {
        Path jl = tmp.resolve("t.jsonl");
        Files.writeString(jl, """
                {"word": "the", "id": 1, "weight": 0.5, "code": "007", "stop": true}

                {"id": 2, "word": "naïve \\"quoted\\"", "weight": null}
                {"word": "x", "id": -3, "weight": 2, "extra": "late column"}
                """);
        TableBuilder b = TableBuilder.jsonLines(jl).key("word");
        Path img = Tables.pack(b, tmp.resolve("t.daxfs"));
        try (var o = Tables.open(img)) {
            LookupTable t = o.table();
            assertEquals(List.of("word", "id", "weight", "code", "stop", "extra"),
                    t.columns().stream().map(LookupTable.Column::name).toList());
            assertEquals(List.of(ColumnType.STRING, ColumnType.I64, ColumnType.F64, ColumnType.STRING, ColumnType.STRING, ColumnType.STRING),
                    t.columns().stream().map(LookupTable.Column::type).toList());
            long r = t.rowOf("the").orElseThrow();
            assertEquals("007", t.getString("code", r), "a JSON string stays a string whatever it looks like");
            assertEquals("true", t.getString("stop", r));
            long r2 = t.rowOf("naïve \"quoted\"").orElseThrow();
            assertEquals(2, t.getLong("id", r2));
            assertTrue(Double.isNaN(t.getDouble("weight", r2)));
            assertEquals("", t.getString("code", r2));
            long r3 = t.rowOf("x").orElseThrow();
            assertEquals(2.0, t.getDouble("weight", r3));
            assertEquals("late column", t.getString("extra", r3));
            assertEquals("", t.getString("extra", r));
        }
    }

    @Test
    void aTableWithoutKeyAndOneWithNoRows() throws Exception {
        Path csv = tmp.resolve("n.csv");
        Files.writeString(csv, "a,b\n1,x\n2,y\n");
        try (var o = Tables.open(Tables.pack(TableBuilder.csv(csv), tmp.resolve("n.daxfs")))) {
            assertTrue(o.table().keyColumn().isEmpty());
            assertThrows(IllegalStateException.class, () -> o.table().rowOf("x"));
            assertEquals(2, o.table().getLong("a", 1));
            assertEquals(0, o.table().indexSlots().byteSize());
        }
        Path empty = tmp.resolve("e.csv");
        Files.writeString(empty, "k,v\n");
        try (var o = Tables.open(Tables.pack(TableBuilder.csv(empty).key("k"), tmp.resolve("e.daxfs")))) {
            assertEquals(0, o.table().rows());
            assertEquals(OptionalLong.empty(), o.table().rowOf("anything"));
        }
    }

    @Test
    void aHundredThousandStringKeysAndAHundredThousandRandomIntegerKeys() throws Exception {
        int n = 100_000;
        Path csv = tmp.resolve("big.csv");
        try (var w = Files.newBufferedWriter(csv)) {
            w.write("key,value,half\n");
            for (int i = 0; i < n; i++) {
                w.write("key-" + i + (i % 7 == 0 ? "-ж" : "") + "," + i + "," + (i * 0.5) + "\n");
            }
        }
        try (var o = Tables.open(Tables.pack(TableBuilder.csv(csv).key("key"), tmp.resolve("big.daxfs")))) {
            LookupTable t = o.table();
            assertEquals(n, t.rows());
            assertEquals(TableLayout.capacityFor(n) * 4, t.indexSlots().byteSize());
            int value = t.columnIndex("value");
            for (int i = 0; i < n; i++) {
                String k = "key-" + i + (i % 7 == 0 ? "-ж" : "");
                long r = t.rowOf(k).orElseThrow(() -> new AssertionError(k));
                assertEquals(i, r);
                assertEquals(i, t.getLong(value, r));
                assertEquals(i * 0.5, t.getDouble("half", r));
                assertEquals(k, t.getString("key", r));
            }
            assertEquals(OptionalLong.empty(), t.rowOf("key-" + n));
            assertEquals(OptionalLong.empty(), t.rowOf("key-7"), "key-7 is stored as key-7-ж");
        }

        Random rnd = new Random(7);
        Set<Long> seen = new HashSet<>();
        List<Long> keys = new ArrayList<>();
        Path jl = tmp.resolve("big.jsonl");
        try (var w = Files.newBufferedWriter(jl)) {
            while (keys.size() < n) {
                long k = keys.size() % 3 == 0 ? rnd.nextLong() : rnd.nextInt(1_000_000) - 500_000; // dense and sparse
                if (seen.add(k)) {
                    w.write("{\"k\":" + k + ",\"f\":" + keys.size() + ".5}\n");
                    keys.add(k);
                }
            }
        }
        try (var o = Tables.open(Tables.pack(TableBuilder.jsonLines(jl).key("k"), tmp.resolve("bigi.daxfs")))) {
            LookupTable t = o.table();
            MemorySegment f = t.column("f");
            for (int i = 0; i < n; i++) {
                assertEquals(i, t.rowOf(keys.get(i)).orElseThrow());
                assertEquals(i + 0.5, f.get(F64, i * 8L));
            }
            int absent = 0;
            for (int i = 0; i < 10_000; i++) {
                long k = rnd.nextLong();
                if (!seen.contains(k)) {
                    assertEquals(OptionalLong.empty(), t.rowOf(k));
                    absent++;
                }
            }
            assertTrue(absent > 9_000);
        }
    }

    @Test
    void theDescriptorSaysWhatTheLayoutDocuments() throws Exception {
        Path csv = tmp.resolve("d.csv");
        Files.writeString(csv, "w,n\nx,1\ny,2\nz,3\n");
        Path img = Tables.pack(TableBuilder.csv(csv).key("w"), tmp.resolve("d.daxfs"));
        try (var o = Tables.open(img)) {
            String json = new String(o.image().content(Tables.DIR_PATH + "/table.json").toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            var d = com.google.gson.JsonParser.parseString(json).getAsJsonObject();
            assertEquals("daxload-table/1", d.get("format").getAsString());
            assertEquals(3, d.get("rows").getAsLong());
            var ix = d.getAsJsonObject("index");
            assertEquals("hash", ix.get("kind").getAsString());
            assertEquals("fnv1a64-splitmix64", ix.get("hash").getAsString());
            assertEquals(8, ix.get("capacity").getAsLong());
            assertEquals("I32", ix.get("slot").getAsString());
            // each slot holds row + 1 at the position the documented hash and linear probing give
            MemorySegment slots = o.table().indexSlots();
            for (String k : List.of("x", "y", "z")) {
                long i = TableLayout.hashKey(k) & 7;
                long row = o.table().rowOf(k).orElseThrow();
                while (slots.get(ValueLayout.JAVA_INT_UNALIGNED, i * 4) != row + 1) {
                    assertNotEquals(0, slots.get(ValueLayout.JAVA_INT_UNALIGNED, i * 4), "probe reached an empty slot before " + k);
                    i = (i + 1) & 7;
                }
            }
            assertEquals(List.of("c0.bytes", "c0.offsets", "c1.values", "index.slots", "table.json"),
                    o.image().list(Tables.DIR_PATH).stream().map(e -> e.name()).toList());
            // The same slots as literals (computed outside this code base from the documented hash
            // and probe): a writer and reader that changed together would still fail here.
            assertArrayEquals(new int[] {0, 0, 3, 0, 0, 0, 1, 2}, slots.toArray(ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN)));
        }
    }

    @Test
    void integerKeySlotsArePinnedByLiterals() throws Exception {
        Path csv = tmp.resolve("n.csv");
        Files.writeString(csv, "n,w\n10,a\n11,b\n12,c\n13,d\n-1,e\n14,f\n16,g\n");
        Path img = Tables.pack(TableBuilder.csv(csv).key("n"), tmp.resolve("n.daxfs"));
        try (var o = Tables.open(img)) {
            assertEquals(ColumnType.I64, o.table().keyColumn().orElseThrow().type());
            // capacity 16 for 7 rows; row + 1 at mix(key) & 15, linear probing: 14 meets 10 at slot 9
            // and moves to 10, 16 meets 11 at slot 13 and moves to 14
            assertArrayEquals(new int[] {0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 6, 5, 3, 2, 7, 0},
                    o.table().indexSlots().toArray(ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN)));
            assertEquals(4, o.table().rowOf(-1L).orElseThrow());
        }
    }
}

package dev.daxload.packager.table;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.packager.image.ImageTree;
import dev.daxload.table.TableLayout.ColumnType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input is refused with the file, the line and the column, and leaves nothing behind. */
class TableInputErrorsTest {
    @TempDir Path tmp;
    Path work;
    ImageTree.Directory tables;

    @BeforeEach
    void setUp() throws IOException {
        work = Files.createDirectories(tmp.resolve("work"));
        tables = new ImageTree().root().directory("tables", Tables.DIR);
    }

    /** Builds {@code text} as {@code name} and expects a refusal at {@code line}; checks that nothing was left. */
    private TableInputException refused(String name, String text, long line, TableBuilderOptions options) throws IOException {
        Path f = tmp.resolve(name);
        Files.writeString(f, text);
        TableBuilder b = name.endsWith(".jsonl") ? TableBuilder.jsonLines(f)
                : name.endsWith(".tsv") ? TableBuilder.tsv(f) : TableBuilder.csv(f);
        b.tempDirectory(work);
        options.apply(b);
        try (b) {
            TableInputException e = assertThrows(TableInputException.class, () -> b.addTo(tables, "t"));
            assertEquals(f, e.file());
            assertEquals(line, e.line(), e.getMessage());
            assertTrue(e.getMessage().startsWith(f + ": line " + line + (e.column() != null ? ", column '" + e.column() + "': " : ": ")),
                    e.getMessage());
            assertNull(tables.get("t"), "never half a table");
            try (Stream<Path> left = Files.list(work)) {
                assertEquals(0, left.count(), "a failed build deletes its temporary files");
            }
            return e;
        }
    }

    @FunctionalInterface
    interface TableBuilderOptions {
        void apply(TableBuilder b);
    }

    private static final TableBuilderOptions KEY_K = b -> b.key("k");

    @Test
    void duplicateStringKeyNamesBothLines() throws Exception {
        TableInputException e = refused("d.csv", "k,v\nalpha,1\n\"multi\nline\",2\nbeta,3\nalpha,4\n", 6, KEY_K);
        assertEquals("k", e.column());
        assertTrue(e.getMessage().contains("duplicate key 'alpha', already at line 2"), e.getMessage());
    }

    @Test
    void duplicateIntegerKeyNamesBothLines() throws Exception {
        TableInputException e = refused("d.jsonl", "{\"k\": -9223372036854775808}\n{\"k\": 5}\n\n{\"k\": -9223372036854775808}\n", 4, KEY_K);
        assertTrue(e.getMessage().contains("duplicate key '-9223372036854775808', already at line 1"), e.getMessage());
    }

    @Test
    void emptyKeyIsRefused() throws Exception {
        TableInputException e = refused("e.csv", "k,v\na,1\n,2\n", 3, KEY_K);
        assertEquals("k", e.column());
        assertTrue(e.getMessage().contains("key is empty"), e.getMessage());
        refused("e.jsonl", "{\"k\": \"a\"}\n{\"v\": \"x\"}\n", 2, KEY_K);
    }

    @Test
    void malformedCsvNamesTheLine() throws Exception {
        TableInputException unclosed = refused("u.csv", "k,v\na,1\nb,\"never closed\nc,3\n", 3, b -> {});
        assertTrue(unclosed.getMessage().contains("malformed CSV"), unclosed.getMessage());
        TableInputException after = refused("a.csv", "k,v\na,1\nb,2\nc,\"x\"y\n", 4, b -> {});
        assertTrue(after.getMessage().contains("malformed CSV"), after.getMessage());
        TableInputException few = refused("f.csv", "k,v\na,1\nb\n", 3, b -> {});
        assertTrue(few.getMessage().contains("expected 2 fields, as in the header, but found 1"), few.getMessage());
        TableInputException tabs = refused("m.tsv", "k\tv\na\t1\t2\n", 2, b -> {});
        assertTrue(tabs.getMessage().contains("expected 2 tab-separated fields, as in the header, but found 3"), tabs.getMessage());
        refused("dup.tsv", "k\tv\na\t1\n\nb\t2\na\t3\n", 5, KEY_K);
        refused("eh.tsv", "k\t\n1\t2\n", 1, b -> {});
        TableInputException longLine = refused("long.tsv", "k\tv\na\t" + "x".repeat(TabSeparatedSource.MAX_LINE) + "\n", 2, b -> {});
        assertTrue(longLine.getMessage().contains("longer than"), longLine.getMessage());
        TableInputException dupHeader = refused("h.csv", "k,v,k\n1,2,3\n", 1, b -> {});
        assertEquals("k", dupHeader.column());
        refused("eh.csv", "k,,v\n1,2,3\n", 1, b -> {});
    }

    @Test
    void malformedJsonLinesNamesTheLine() throws Exception {
        refused("a.jsonl", "{\"k\": 1}\n{\"k\": 2}\n{\"k\": 3,}\n", 3, b -> {});
        refused("b.jsonl", "{\"k\": 1}\n[1, 2]\n", 2, b -> {});
        refused("c.jsonl", "{\"k\": 1} {\"k\": 2}\n", 1, b -> {});
        refused("d.jsonl", "{\"k\": 1}\n{\"k\": 2\n", 2, b -> {});
        refused("e.jsonl", "{\"k\": NaN}\n", 1, b -> {});
        TableInputException nested = refused("f.jsonl", "{\"k\": 1}\n{\"k\": 2, \"v\": {\"x\": 1}}\n", 2, b -> {});
        assertEquals("v", nested.column());
        TableInputException twice = refused("g.jsonl", "{\"k\": 1, \"k\": 2}\n", 1, b -> {});
        assertEquals("k", twice.column());
    }

    @Test
    void cellsThatDoNotFitTheirTypeNameLineAndColumn() throws Exception {
        TableInputException empty = refused("i.csv", "k,n\na,1\nb,\nc,3\n", 3, b -> {});
        assertEquals("n", empty.column());
        assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
        TableInputException text = refused("j.csv", "k,n\na,1\nb,two\n", 3, b -> b.type("n", ColumnType.I64));
        assertTrue(text.getMessage().contains("expected a 64-bit integer, found 'two'"), text.getMessage());
        refused("k.csv", "k,n\na,2147483648\n", 2, b -> b.type("n", ColumnType.I32));
        refused("l.csv", "k,x\na,1e39\n", 2, b -> b.type("x", ColumnType.F32));
        refused("m.csv", "k,x\na,1\nb,1.5.\n", 3, b -> b.type("x", ColumnType.F64));
        refused("n.jsonl", "{\"n\": 1}\n{\"n\": \"x\"}\n", 2, b -> b.type("n", ColumnType.I64));
    }

    @Test
    void optionsThatNameNoColumnOrABadKeyAreRefused() throws Exception {
        Path f = tmp.resolve("o.csv");
        Files.writeString(f, "k,x\na,1.5\n");
        IllegalArgumentException noKey = assertThrows(IllegalArgumentException.class,
                () -> TableBuilder.csv(f).key("missing").tempDirectory(work).build());
        assertTrue(noKey.getMessage().contains("'missing'"), noKey.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TableBuilder.csv(f).type("nope", ColumnType.I64).tempDirectory(work).build());
        IllegalArgumentException decimalKey = assertThrows(IllegalArgumentException.class,
                () -> TableBuilder.csv(f).key("x").tempDirectory(work).build());
        assertTrue(decimalKey.getMessage().contains("line 2"), decimalKey.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TableBuilder.csv(f).key("x").type("x", ColumnType.F32).build());
        try (Stream<Path> left = Files.list(work)) {
            assertEquals(0, left.count());
        }
        assertThrows(TableInputException.class, () -> TableBuilder.jsonLines(Files.writeString(tmp.resolve("z.jsonl"), "\n")).build());
        assertThrows(TableInputException.class, () -> TableBuilder.csv(Files.writeString(tmp.resolve("z.csv"), "")).build());
        assertThrows(TableInputException.class, () -> TableBuilder.csv(Files.write(tmp.resolve("bad.csv"),
                new byte[] {'k', '\n', 'a', '\n', (byte) 0xC3, '(', '\n'})).build());
        TableInputException badTsv = assertThrows(TableInputException.class, () -> TableBuilder.tsv(Files.write(tmp.resolve("bad.tsv"),
                new byte[] {'k', '\n', 'a', '\n', (byte) 0xC3, '(', '\n'})).tempDirectory(work).build());
        assertTrue(badTsv.getMessage().contains("not valid UTF-8"), badTsv.getMessage());
        assertThrows(TableInputException.class, () -> TableBuilder.tsv(Files.writeString(tmp.resolve("z.tsv"), "\n\n")).build());
    }

    @Test
    void aTakenNameIsRefusedBeforeAnythingIsAdded() throws Exception {
        Path f = tmp.resolve("o.csv");
        Files.writeString(f, "k\na\n");
        try (TableBuilder b = TableBuilder.csv(f).tempDirectory(work)) {
            b.addTo(tables, "t");
            assertThrows(IllegalArgumentException.class, () -> b.addTo(tables, "t"));
            assertThrows(IllegalArgumentException.class, () -> b.addTo(tables, "a/b"));
            assertThrows(IllegalStateException.class, () -> b.key("k"), "options are fixed once built");
        }
        try (Stream<Path> left = Files.list(work)) {
            assertEquals(0, left.count(), "close() deletes the column files");
        }
    }
}

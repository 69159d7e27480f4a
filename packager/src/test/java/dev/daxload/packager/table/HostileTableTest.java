package dev.daxload.packager.table;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.packager.image.FileContent;
import dev.daxload.table.LookupTable;
import dev.daxload.table.TableFormatException;
import dev.daxload.table.TableLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images whose table files disagree with their descriptor, or whose index lies: refused at open with
 * a clear message, or answered without reading outside the image and without looping forever.
 */
class HostileTableTest {
    private static final int ROWS = 5;

    @TempDir Path tmp;
    TableBuilder builder;
    Map<String, FileContent> files;
    JsonObject descriptor;

    @BeforeEach
    void setUp() throws IOException {
        Path csv = tmp.resolve("t.csv");
        Files.writeString(csv, "word,n\nalpha,1\nbeta,2\ngamma,3\ndelta,4\nepsilon,5\n");
        builder = TableBuilder.csv(csv).key("word");
        files = new java.util.LinkedHashMap<>(Tables.files(builder));
        descriptor = JsonParser.parseString(new String(((FileContent.Bytes) files.get("table.json")).bytes(), StandardCharsets.UTF_8))
                .getAsJsonObject();
    }

    @AfterEach
    void tearDown() throws IOException {
        builder.close();
    }

    private Path pack() throws IOException {
        files.put("table.json", FileContent.of(descriptor.toString().getBytes(StandardCharsets.UTF_8)));
        return Tables.packFiles(files, tmp.resolve("h" + System.nanoTime() + ".daxfs"));
    }

    private TableFormatException refusedAtOpen(String expected) throws IOException {
        Path img = pack();
        TableFormatException e = assertThrows(TableFormatException.class, () -> Tables.open(img).close());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertTrue(e.getMessage().contains(":/m/tables/t"), "names image and table: " + e.getMessage());
        return e;
    }

    private void shorten(String name, long by) {
        FileContent.FileRange r = (FileContent.FileRange) files.get(name);
        files.put(name, FileContent.range(r.file(), 0, r.length() - by));
    }

    private byte[] bytesOf(String name) throws IOException {
        FileContent.FileRange r = (FileContent.FileRange) files.get(name);
        return Files.readAllBytes(r.file());
    }

    private void editDescriptor(Consumer<JsonObject> edit) {
        edit.accept(descriptor);
    }

    @Test
    void theUntouchedTableOpens() throws IOException {
        try (var o = Tables.open(pack())) {
            assertEquals(OptionalLong.of(2), o.table().rowOf("gamma"));
        }
    }

    @Test
    void truncatedColumnFilesAreRefused() throws IOException {
        shorten("c1.values", 8);
        refusedAtOpen("values file holds 32 bytes, but 5 rows of I64 need 40");
    }

    @Test
    void truncatedStringBytesAreRefused() throws IOException {
        shorten("c0.bytes", 1);
        refusedAtOpen("offsets run from 0 to 26, but the bytes file holds 25 bytes");
    }

    @Test
    void truncatedSlotsAreRefused() throws IOException {
        shorten("index.slots", 4);
        refusedAtOpen("slots file holds 60 bytes, but 16 I32 slots need 64");
    }

    @Test
    void aDescriptorThatClaimsMoreOrFewerRowsIsRefused() throws IOException {
        editDescriptor(d -> d.addProperty("rows", ROWS + 1));
        refusedAtOpen("offsets file holds 48 bytes, but 6 rows need 56");
        editDescriptor(d -> d.addProperty("rows", ROWS - 1));
        refusedAtOpen("offsets file holds 48 bytes, but 4 rows need 40");
        editDescriptor(d -> d.addProperty("rows", 1L << 60));
        refusedAtOpen("more than any image can hold");
        editDescriptor(d -> d.addProperty("rows", -1));
        refusedAtOpen("'rows' must be a non-negative integer");
        editDescriptor(d -> d.addProperty("rows", 2.5));
        refusedAtOpen("'rows' must be a non-negative integer");
    }

    @Test
    void aDescriptorThatIsWrongInOtherWaysIsRefused() throws IOException {
        editDescriptor(d -> d.addProperty("format", "daxload-table/99"));
        refusedAtOpen("is not daxload-table/1");
        editDescriptor(d -> d.addProperty("format", TableLayout.FORMAT));

        column(1).addProperty("values", "../../../etc/passwd");
        refusedAtOpen("is not a plain name");
        column(1).addProperty("values", "c1.values");

        column(1).addProperty("type", "I128");
        refusedAtOpen("unknown type 'I128'");
        column(1).addProperty("type", "F64");
        index().addProperty("key", "n");
        refusedAtOpen("key column 'n' is F64");
        column(1).addProperty("type", "I64");
        index().addProperty("key", "word");

        index().addProperty("capacity", 12);
        refusedAtOpen("capacity 12 is not a power of two");
        index().addProperty("capacity", 4);
        refusedAtOpen("capacity 4 is not a power of two greater than the 5 rows");
        index().addProperty("capacity", 16);

        index().addProperty("hash", "murmur3");
        refusedAtOpen("hash 'murmur3' is not supported");
        index().addProperty("hash", TableLayout.HASH_NAME);

        column(0).addProperty("name", "n");
        refusedAtOpen("column 'n' appears twice");
        column(0).addProperty("name", "word");

        column(1).addProperty("values", "c9.values");
        Path img = pack();
        NoSuchFileException missing = assertThrows(NoSuchFileException.class, () -> Tables.open(img).close());
        assertTrue(missing.getMessage().contains("/m/tables/t/c9.values"), missing.getMessage());
    }

    @Test
    void aDescriptorThatIsNotJsonIsRefused() throws IOException {
        files.put("table.json", FileContent.of("{\"format\": \"daxload-table/1\", \"rows\": ".getBytes(StandardCharsets.UTF_8)));
        Path img = Tables.packFiles(files, tmp.resolve("j.daxfs"));
        TableFormatException e = assertThrows(TableFormatException.class, () -> Tables.open(img).close());
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // an unbounded probe spins: fail, do not hang
    void anIndexWhoseSlotsAreAllFullEndsItsProbe() throws IOException {
        files.put("index.slots", FileContent.of(slots(16, 1))); // every slot names row 0, "alpha"
        try (var o = Tables.open(pack())) {
            LookupTable t = o.table();
            assertEquals(OptionalLong.of(0), t.rowOf("alpha"));
            assertEquals(OptionalLong.empty(), t.rowOf("beta"), "wrong, but the probe stops after 16 slots");
            assertEquals(OptionalLong.empty(), t.rowOf("absent"));
        }
    }

    @Test
    void slotsThatNameRowsPastTheEndAreReportedNotFollowed() throws IOException {
        for (int bad : new int[] {ROWS + 1, Integer.MAX_VALUE, -1}) {
            files.put("index.slots", FileContent.of(slots(16, bad)));
            try (var o = Tables.open(pack())) {
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.table().rowOf("alpha"));
                assertTrue(e.getMessage().contains("corrupt index"), e.getMessage());
            }
        }
    }

    @Test
    void offsetsThatGoBackwardsAreReportedWhenRead() throws IOException {
        byte[] offsets = bytesOf("c0.offsets");
        ByteBuffer.wrap(offsets).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1000); // row 1 ends past the bytes
        files.put("c0.offsets", FileContent.of(offsets));
        try (var o = Tables.open(pack())) {
            LookupTable t = o.table();
            assertEquals("alpha", t.getString("word", 0));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.getString("word", 1));
            assertTrue(e.getMessage().contains("corrupt offsets"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> t.getString("word", 2));
            assertEquals("delta", t.getString("word", 3));
            // a lookup that lands on a broken row says so instead of reading past the column
            for (String k : new String[] {"beta", "gamma"}) {
                assertThrows(IllegalStateException.class, () -> t.rowOf(k));
            }
        }
    }

    private JsonObject column(int i) {
        return descriptor.getAsJsonArray("columns").get(i).getAsJsonObject();
    }

    private JsonObject index() {
        return descriptor.getAsJsonObject("index");
    }

    private static byte[] slots(int capacity, int value) {
        ByteBuffer b = ByteBuffer.allocate(capacity * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < capacity; i++) {
            b.putInt(value);
        }
        return b.array();
    }
}

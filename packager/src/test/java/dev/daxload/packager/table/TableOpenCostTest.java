package dev.daxload.packager.table;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.table.LookupTable;
import dev.daxload.table.TableLayout.ColumnType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opening a table does no per-row work and copies nothing, checked structurally rather than with a
 * stopwatch: a million-row table whose row data is overwritten with garbage still opens (open looked
 * at nothing but the descriptor, file sizes and the two ends of each offsets array), and reads made
 * through the table opened over garbage see the real data once it is put back (the table reads the
 * image's memory, not a copy taken at open).
 */
class TableOpenCostTest {
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int ROWS = 1_000_000;

    @TempDir Path tmp;

    @Test
    void openReadsNoRowsAndCopiesNothing() throws Exception {
        Path csv = tmp.resolve("m.csv");
        try (var w = Files.newBufferedWriter(csv)) {
            w.write("id,name,score\n");
            for (int i = 0; i < ROWS; i++) {
                w.write((i * 7L - 3_000_000L) + ",n" + i + "," + i + ".25\n");
            }
        }
        // types given: one pass over the input is enough
        Path img = Tables.pack(TableBuilder.csv(csv).key("id").type("id", ColumnType.I64)
                .type("name", ColumnType.STRING).type("score", ColumnType.F64), tmp.resolve("m.daxfs"));

        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(img, StandardOpenOption.READ)) {
            MemorySegment memory = arena.allocate(ch.size(), 4096);
            ch.read(memory.asByteBuffer());
            DaxImage image = DaxImage.of(memory, "copy of " + img);

            // every byte of row data, less the two ends of the offsets array that open checks
            List<MemorySegment> rowData = new ArrayList<>();
            for (String f : List.of("c0.values", "c1.bytes", "c2.values", "index.slots")) {
                rowData.add(image.content(Tables.DIR_PATH + "/" + f));
            }
            MemorySegment offsets = image.content(Tables.DIR_PATH + "/c1.offsets");
            rowData.add(offsets.asSlice(8, offsets.byteSize() - 16));
            long dataBytes = rowData.stream().mapToLong(MemorySegment::byteSize).sum();
            assertTrue(dataBytes > 30L * ROWS, "the table holds " + dataBytes + " bytes of row data");

            List<byte[]> saved = new ArrayList<>();
            for (MemorySegment s : rowData) {
                saved.add(s.toArray(ValueLayout.JAVA_BYTE));
                s.fill((byte) 0xA5);
            }

            LookupTable table = LookupTable.open(image, Tables.DIR_PATH);
            assertEquals(ROWS, table.rows());
            assertThrows(IllegalStateException.class, () -> table.rowOf(4L), "the garbage slots are seen when read");
            assertNotEquals(0.25, table.getDouble("score", 0));

            for (int i = 0; i < rowData.size(); i++) {
                MemorySegment.copy(MemorySegment.ofArray(saved.get(i)), 0, rowData.get(i), 0, saved.get(i).length);
            }
            for (int i : new int[] {0, 1, 4242, ROWS / 2, ROWS - 1}) {
                long key = i * 7L - 3_000_000L;
                assertEquals(OptionalLong.of(i), table.rowOf(key));
                assertEquals("n" + i, table.getString("name", i));
                assertEquals(i + 0.25, table.getDouble("score", i));
            }
            assertEquals(OptionalLong.empty(), table.rowOf(-3_000_001L));
            assertEquals(rowData.get(0).address(), table.column("id").address(), "the column view is the image's memory");
            assertEquals(-3_000_000L, table.column("id").get(I64, 0));
        }
    }
}

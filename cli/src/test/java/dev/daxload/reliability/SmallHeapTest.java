package dev.daxload.reliability;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13.4: inputs within the formats' own limits, read with a 64 MB heap: a clear error naming the
 * file and the field when they exceed the stated budget (a quarter of the heap), never an
 * OutOfMemoryError, never a hang, nothing left behind.
 */
class SmallHeapTest {
    @TempDir Path tmp;

    static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    void assertRefusedInSmallHeap(String field, String... args) throws Exception {
        ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(5).plusSeconds(10), args); // JVM start on a loaded machine
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.err().contains(field), () -> "expected '" + field + "' in " + r.err());
        try (var left = Files.list(tmp)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith("out")).toList(), "nothing left behind");
        }
    }

    @Test
    void aSixtyOneMegabyteSafetensorsHeader() throws Exception {
        int n = 61 << 20;
        Path f = tmp.resolve("big-header.safetensors");
        try (OutputStream o = Files.newOutputStream(f)) {
            o.write(le64(n));
            byte[] json = "{\"__metadata__\":{\"pad\":\"".getBytes(StandardCharsets.UTF_8);
            o.write(json);
            byte[] pad = new byte[1 << 20];
            java.util.Arrays.fill(pad, (byte) 'x');
            long left = n - json.length - 3;
            while (left > 0) {
                int k = (int) Math.min(pad.length, left);
                o.write(pad, 0, k);
                left -= k;
            }
            o.write("\"}}".getBytes(StandardCharsets.UTF_8));
        }
        assertRefusedInSmallHeap("header length", "pack-model", "-q", "--name", "m", f.toString(), "-o", tmp.resolve("out.daxfs").toString());
    }

    @Test
    void aSixtyMegabyteGgufString() throws Exception {
        Path f = tmp.resolve("big-string.gguf");
        try (OutputStream o = Files.newOutputStream(f)) {
            ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            h.put("GGUF".getBytes(StandardCharsets.US_ASCII)).putInt(3).putLong(0).putLong(1); // version, tensors, kv pairs
            byte[] key = "general.description".getBytes(StandardCharsets.UTF_8);
            h.putLong(key.length).put(key).putInt(8).putLong(60L << 20); // type STRING, length
            o.write(h.array(), 0, h.position());
            byte[] pad = new byte[1 << 20];
            java.util.Arrays.fill(pad, (byte) 'y');
            for (int i = 0; i < 60; i++) {
                o.write(pad);
            }
        }
        assertRefusedInSmallHeap("general.description", "pack-model", "-q", "--name", "m", f.toString(), "-o", tmp.resolve("out.daxfs").toString());
    }

    @Test
    void aFortyMegabyteStringCell() throws Exception {
        ModelPackager p = new ModelPackager();
        ModelPackager.Model m = p.model("m").add(new SourceModel("raw", List.of(), new JsonObject(),
                List.of(new SourceTensor("w", "U8", new long[] {4}, FileContent.of(new byte[] {1, 2, 3, 4}))), Map.of()));
        int big = 40 << 20;
        ByteBuffer slots = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        slots.putInt((int) (dev.daxload.table.TableLayout.hashKey("k") & 1) * 4, 1); // capacity 2: row 0 + 1 in its slot
        String json = "{\"format\":\"daxload-table/1\",\"rows\":1,\"columns\":["
                + "{\"name\":\"key\",\"type\":\"STRING\",\"offsets\":\"c0.offsets\",\"bytes\":\"c0.bytes\"},"
                + "{\"name\":\"text\",\"type\":\"STRING\",\"offsets\":\"c1.offsets\",\"bytes\":\"c1.bytes\"}],"
                + "\"index\":{\"kind\":\"hash\",\"key\":\"key\",\"hash\":\"fnv1a64-splitmix64\",\"probe\":\"linear\","
                + "\"capacity\":2,\"slot\":\"I32\",\"slots\":\"index.slots\"}}";
        var a = new ImageTree.Attributes(0644, 0, 0);
        var t = m.tablesDirectory().directory("t", new ImageTree.Attributes(0755, 0, 0));
        t.file("table.json", FileContent.of(json.getBytes(StandardCharsets.UTF_8)), a);
        t.file("c0.offsets", FileContent.of(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0).putLong(1).array()), a);
        t.file("c0.bytes", FileContent.of(new byte[] {'k'}), a);
        t.file("c1.offsets", FileContent.of(ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(0).putLong(big).array()), a);
        byte[] cell = new byte[big];
        java.util.Arrays.fill(cell, (byte) 'q');
        t.file("c1.bytes", FileContent.of(cell), a);
        t.file("index.slots", FileContent.of(slots.array()), a);
        m.table("t");
        Path img = tmp.resolve("cell.daxfs");
        p.write(new ImageWriter(), img);
        cell = null;
        ChildJvm.Result v = ChildJvm.daxload(tmp, Duration.ofSeconds(15), "verify", img.toString());
        assertEquals(0, v.code(), "a sound image, checked without copying its cells: " + v.err());
        assertRefusedInSmallHeap("column 'text' row 0 holds 41943040 bytes", "lookup", img.toString(), "m", "t", "k");
    }

    @Test
    void aFortyMegabyteTableJson() throws Exception {
        ModelPackager p = new ModelPackager();
        ModelPackager.Model m = p.model("m").add(new SourceModel("raw", List.of(), new JsonObject(),
                List.of(new SourceTensor("w", "U8", new long[] {4}, FileContent.of(new byte[] {1, 2, 3, 4}))), Map.of()));
        byte[] json = new byte[40 << 20];
        byte[] head = "{\"format\":\"daxload-table/1\",\"pad\":\"".getBytes(StandardCharsets.UTF_8);
        java.util.Arrays.fill(json, (byte) 'z');
        System.arraycopy(head, 0, json, 0, head.length);
        json[json.length - 2] = '"';
        json[json.length - 1] = '}';
        m.tablesDirectory().directory("vocab", new ImageTree.Attributes(0755, 0, 0))
                .file("table.json", FileContent.of(json), new ImageTree.Attributes(0644, 0, 0));
        m.table("vocab");
        Path img = tmp.resolve("table.daxfs");
        p.write(new ImageWriter(), img);
        assertRefusedInSmallHeap("table.json", "verify", img.toString());
        assertRefusedInSmallHeap("table.json", "lookup", img.toString(), "m", "vocab");
    }

    /** A sound image whose manifest is 100 MB (its tensors' entries padded with spaces): refused by the budget. */
    @Test
    void aHundredMegabyteManifest() throws Exception {
        Path tree = Files.createDirectories(tmp.resolve("tree/m"));
        Files.createDirectories(tree.resolve("tensors"));
        Files.write(tree.resolve("tensors/t"), new byte[16]);
        Path manifest = tree.resolve("manifest.json");
        try (OutputStream o = Files.newOutputStream(manifest)) {
            o.write("{\"format\": \"daxload-model/1\", \"name\": \"m\",".getBytes(StandardCharsets.UTF_8));
            byte[] pad = new byte[1 << 20];
            java.util.Arrays.fill(pad, (byte) ' ');
            for (int i = 0; i < 100; i++) {
                o.write(pad);
            }
            o.write("\"tensors\": []}".getBytes(StandardCharsets.UTF_8));
        }
        Path image = tmp.resolve("image.daxfs");
        ChildJvm.Result packed = ChildJvm.daxload(tmp, Duration.ofSeconds(60), "pack", "-q", tmp.resolve("tree").toString(), "-o", image.toString());
        assertEquals(0, packed.code(), packed.err());
        ChildJvm.Result r = ChildJvm.daxload(tmp, Duration.ofSeconds(15), "tensors", image.toString(), "m");
        assertEquals(1, r.code(), r.out() + r.err());
        assertFalse(r.crashedOrLeaked(), r.err());
        assertTrue(r.err().contains("manifest.json") && r.err().contains("raise -Xmx"), r.err());
    }
}

package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.table.LookupTable;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What {@code inspect} says about one model of an image: name, source format, tensors (count, dtypes,
 * bytes, alignment, checksums), side files and lookup tables, as text or as JSON.
 *
 * @param alignment the largest power of two (up to 1 GiB) that every tensor's offset is a multiple of;
 *                  0 for a model without tensors
 * @param checksummed how many tensors carry a CRC32C
 */
record ModelSummary(String name, String sourceFormat, int tensors, Map<String, Integer> dtypes, long bytes,
                    long alignment, int checksummed, List<String> files, List<Table> tables) {
    /** A lookup table: its name (under tables/), row count and key column (null: none). */
    record Table(String name, long rows, String key) {}

    private static final long MAX_ALIGNMENT = 1L << 30;

    static ModelSummary of(DaxImage image, ModelManifest m) throws IOException {
        Map<String, Integer> dtypes = new TreeMap<>();
        long bytes = 0;
        long align = m.tensors().isEmpty() ? 0 : MAX_ALIGNMENT;
        int checksummed = 0;
        for (TensorEntry t : m.tensors()) {
            dtypes.merge(t.dtype().name(), 1, Integer::sum);
            bytes += t.length();
            if (t.offset() != 0) {
                align = Math.min(align, Long.lowestOneBit(t.offset()));
            }
            if (t.crc32c() != null) {
                checksummed++;
            }
        }
        List<Table> tables = new ArrayList<>();
        for (String dir : m.tables()) {
            LookupTable t = LookupTable.open(image, m.name() + "/" + dir);
            tables.add(new Table(dir.substring(dir.indexOf('/') + 1), t.rows(),
                    t.keyColumn().map(LookupTable.Column::name).orElse(null)));
        }
        String format = m.source().has("format") && m.source().get("format").isJsonPrimitive()
                ? m.source().get("format").getAsString() : "unknown";
        return new ModelSummary(m.name(), format, m.tensors().size(), dtypes, bytes, align, checksummed,
                m.files(), tables);
    }

    void print(PrintWriter out) {
        out.printf("  %s%n", name);
        out.printf("    source       %s%n", sourceFormat);
        out.printf("    tensors      %d (%s), %d bytes (%s)%n", tensors,
                dtypes.isEmpty() ? "none" : String.join(", ", dtypes.entrySet().stream().map(e -> e.getValue() + " " + e.getKey()).toList()),
                bytes, Sizes.human(bytes));
        out.printf("    alignment    %s%n", alignment == 0 ? "-" : alignment + " bytes (every tensor offset is a multiple)");
        out.printf("    checksums    %s%n", checksummed == tensors ? "CRC32C on every tensor"
                : checksummed == 0 ? "none" : "CRC32C on " + checksummed + " of " + tensors + " tensors");
        out.printf("    side files   %s%n", files.isEmpty() ? "none" : files.size() + ": " + String.join(", ", files));
        if (tables.isEmpty()) {
            out.printf("    tables       none%n");
        }
        for (Table t : tables) {
            out.printf("    table        %s: %d rows, key %s%n", t.name, t.rows, t.key == null ? "(none)" : t.key);
        }
    }

    JsonObject json() {
        JsonObject o = new JsonObject();
        o.addProperty("name", name);
        o.addProperty("sourceFormat", sourceFormat);
        o.addProperty("tensors", tensors);
        JsonObject d = new JsonObject();
        dtypes.forEach(d::addProperty);
        o.add("dtypes", d);
        o.addProperty("bytes", bytes);
        o.addProperty("alignment", alignment);
        o.addProperty("checksummed", checksummed);
        JsonArray f = new JsonArray();
        files.forEach(f::add);
        o.add("files", f);
        JsonArray ts = new JsonArray();
        for (Table t : tables) {
            JsonObject j = new JsonObject();
            j.addProperty("name", t.name);
            j.addProperty("rows", t.rows);
            if (t.key != null) {
                j.addProperty("key", t.key);
            } else {
                j.add("key", com.google.gson.JsonNull.INSTANCE);
            }
            ts.add(j);
        }
        o.add("tables", ts);
        return o;
    }
}

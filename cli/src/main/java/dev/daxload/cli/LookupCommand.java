package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.daxload.image.DaxImage;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.table.LookupTable;
import dev.daxload.table.TableLayout.ColumnType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "lookup", mixinStandardHelpOptions = true,
        description = {"Look keys up in a model's table, in place in the image, as a loader does.",
            "Prints the header and one tab-separated row per key found; with no KEY, the table's columns, row"
                + " count and key. Exits 1 if any key is missing (each named on stderr).",
            "Example: daxload lookup models.daxfs minilm vocab hello '\"'"})
final class LookupCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path imagePath;

    @Parameters(index = "1", paramLabel = "MODEL")
    String model;

    @Parameters(index = "2", paramLabel = "TABLE", description = "a table of the model (tables/TABLE)")
    String table;

    @Parameters(index = "3..*", arity = "0..*", paramLabel = "KEY", description = "keys to look up")
    List<String> keys = List.of();

    @Option(names = "--json", description = "one JSON document, for scripts (fields: docs/cli-json.md)")
    boolean json;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (DaxImage image = ImageArgument.open(imagePath)) {
            ModelManifest m = ModelCatalog.load(image, model);
            String dir = "tables/" + table;
            if (!m.tables().contains(dir)) {
                throw new ParameterException(spec.commandLine(), "model '" + model + "' has no table '" + table
                        + "'" + (m.tables().isEmpty() ? " (it has none)"
                        : "; it has " + String.join(", ", m.tables().stream().map(x -> x.substring(x.indexOf('/') + 1)).toList())));
            }
            LookupTable t = LookupTable.open(image, model + "/" + dir);
            if (keys.isEmpty()) {
                if (json) {
                    JsonOutput.print(out, describeJson(t));
                } else {
                    describe(t, out);
                }
                return 0;
            }
            LookupTable.Column key = t.keyColumn().orElseThrow(() -> new ParameterException(spec.commandLine(),
                    "table '" + table + "' has no key column; it can only be read by row"));
            int missing = 0;
            JsonArray found = new JsonArray();
            JsonArray absent = new JsonArray();
            if (!json) {
                out.println(String.join("\t", t.columns().stream().map(LookupTable.Column::name).toList()));
            }
            for (String k : keys) {
                OptionalLong row = rowOf(t, key, k);
                if (row.isEmpty()) {
                    if (!json) {
                        err.println("daxload lookup: key '" + k + "' is not in " + model + "/" + dir);
                    }
                    absent.add(k);
                    missing++;
                } else if (json) {
                    found.add(rowJson(t, k, row.getAsLong()));
                } else {
                    out.println(rowText(t, row.getAsLong()));
                }
            }
            if (json) {
                JsonObject doc = document();
                doc.add("found", found);
                doc.add("missing", absent);
                JsonOutput.print(out, doc);
                if (missing > 0) {
                    JsonOutput.print(err, JsonOutput.error("daxload lookup", missing + " of " + keys.size()
                            + " keys are not in " + model + "/" + dir + ": " + absent, 1));
                }
            }
            out.flush();
            err.flush();
            return missing == 0 ? 0 : 1;
        }
    }

    private OptionalLong rowOf(LookupTable t, LookupTable.Column key, String k) {
        if (key.type() == ColumnType.STRING) {
            return t.rowOf(k);
        }
        try {
            return t.rowOf(Long.parseLong(k));
        } catch (NumberFormatException e) {
            return OptionalLong.empty(); // not an integer, so no row of an integer key has it
        }
    }

    private static void describe(LookupTable t, PrintWriter out) {
        out.printf("%d rows; key: %s%n", t.rows(), t.keyColumn().map(LookupTable.Column::name).orElse("(none)"));
        for (LookupTable.Column c : t.columns()) {
            out.printf("%-7s %s%n", c.type(), c.name());
        }
        out.flush();
    }

    private JsonObject document() {
        JsonObject doc = JsonOutput.document("lookup");
        doc.addProperty("image", imagePath.toString());
        doc.addProperty("model", model);
        doc.addProperty("table", table);
        return doc;
    }

    private JsonObject describeJson(LookupTable t) {
        JsonObject doc = document();
        doc.addProperty("rowCount", t.rows());
        doc.addProperty("key", t.keyColumn().map(LookupTable.Column::name).orElse(null));
        JsonArray cols = new JsonArray();
        for (LookupTable.Column c : t.columns()) {
            JsonObject o = new JsonObject();
            o.addProperty("name", c.name());
            o.addProperty("type", c.type().name());
            cols.add(o);
        }
        doc.add("columns", cols);
        return doc;
    }

    private static String rowText(LookupTable t, long row) {
        StringBuilder b = new StringBuilder();
        for (LookupTable.Column c : t.columns()) {
            if (c.position() > 0) {
                b.append('\t');
            }
            // Tabs and line breaks inside a string would break the row apart; escape them as a TSV reader expects.
            b.append(switch (c.type()) {
                case STRING -> t.getString(c.position(), row).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
                case I32, I64 -> Long.toString(t.getLong(c.position(), row));
                // an F32 value printed as the float it is, not as its double widening (0.1, not 0.10000000149...)
                case F32 -> Float.toString((float) t.getDouble(c.position(), row));
                case F64 -> Double.toString(t.getDouble(c.position(), row));
            });
        }
        return b.toString();
    }

    private static JsonObject rowJson(LookupTable t, String key, long row) {
        JsonObject o = new JsonObject();
        for (LookupTable.Column c : t.columns()) {
            switch (c.type()) {
                case STRING -> o.addProperty(c.name(), t.getString(c.position(), row));
                case I32, I64 -> o.addProperty(c.name(), t.getLong(c.position(), row));
                case F32, F64 -> {
                    double d = t.getDouble(c.position(), row);
                    if (Double.isFinite(d)) {
                        o.addProperty(c.name(), c.type() == ColumnType.F32 ? (Number) (float) d : (Number) d);
                    } else {
                        o.addProperty(c.name(), Double.toString(d)); // JSON has no NaN or Infinity
                    }
                }
            }
        }
        JsonObject r = new JsonObject();
        r.addProperty("key", key);
        r.addProperty("row", row);
        r.add("values", o);
        return r;
    }
}

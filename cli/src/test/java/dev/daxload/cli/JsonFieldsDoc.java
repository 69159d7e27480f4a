package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The field tables of docs/cli-json.md, read as the contract every --json document is checked against:
 * a field listed without {@code ?} must be there (in every element, for {@code []}), with the JSON type
 * the table names. Used by CliJsonTest and by the release archive's test (dist).
 */
public final class JsonFieldsDoc {
    /** A row of a table: path segments (each may end in [] for an array), optional, type column. */
    record Field(String path, List<String> segments, boolean optional, String type) {}

    private static final Pattern ROW = Pattern.compile("^\\| `([^`]+)` \\| ([^|]*) \\|");

    private final Map<String, List<Field>> sections;

    private JsonFieldsDoc(Map<String, List<Field>> sections) {
        this.sections = sections;
    }

    /** docs/cli-json.md of the checkout the test runs in (the working directory is a module's). */
    public static JsonFieldsDoc load() throws IOException {
        Path doc = Path.of("..", "docs", "cli-json.md");
        Map<String, List<Field>> sections = new LinkedHashMap<>();
        List<Field> current = null;
        for (String line : Files.readAllLines(doc)) {
            if (line.startsWith("## ")) {
                current = new ArrayList<>();
                sections.put(line.substring(3).trim(), current);
                continue;
            }
            Matcher m = ROW.matcher(line);
            if (current != null && m.find()) {
                String path = m.group(1);
                boolean optional = path.endsWith("?");
                String clean = optional ? path.substring(0, path.length() - 1) : path;
                current.add(new Field(clean, List.of(clean.split("\\.")), optional, m.group(2).trim()));
            }
        }
        return new JsonFieldsDoc(sections);
    }

    /** Parses {@code text} as exactly one JSON object and checks it against {@code section}'s table. */
    public JsonObject check(String section, String text) {
        JsonElement e = JsonParser.parseString(text);
        assertTrue(e.isJsonObject(), section + ": not one JSON object: " + text);
        JsonObject doc = e.getAsJsonObject();
        assertEquals("daxload-cli/1", doc.get("format").getAsString(), section + ": format field");
        List<Field> fields = sections.get(section);
        assertTrue(fields != null && !fields.isEmpty(), "docs/cli-json.md has no table for " + section);
        List<String> optional = fields.stream().filter(Field::optional).map(Field::path).toList();
        for (Field f : fields) {
            walk(section, f, doc, 0, "", optional);
        }
        return doc;
    }

    private static void walk(String section, Field f, JsonElement node, int i, String at, List<String> optional) {
        String seg = f.segments().get(i);
        boolean array = seg.endsWith("[]");
        String key = array ? seg.substring(0, seg.length() - 2) : seg;
        String here = at.isEmpty() ? key : at + "." + key;
        JsonObject o = node.getAsJsonObject();
        if (!o.has(key)) {
            String declared = here.replaceAll("\\[\\d+]", "[]");
            if (f.optional() && i == f.segments().size() - 1 || optional.contains(declared)) {
                return;
            }
            fail(section + ": field '" + here + "' (docs/cli-json.md: " + f.path() + ") is missing from " + o);
        }
        JsonElement v = o.get(key);
        if (i == f.segments().size() - 1) {
            checkType(section, f, here, v);
            return;
        }
        if (array) {
            assertTrue(v.isJsonArray(), section + ": " + here + " is not an array");
            int n = 0;
            for (JsonElement el : v.getAsJsonArray()) {
                walk(section, f, el, i + 1, here + "[" + n++ + "]", optional);
            }
        } else {
            walk(section, f, v, i + 1, here, optional);
        }
    }

    private static void checkType(String section, Field f, String here, JsonElement v) {
        String t = f.type();
        boolean ok = switch (t) {
            case "string" -> v.isJsonPrimitive() && v.getAsJsonPrimitive().isString();
            case "number" -> v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber();
            case "boolean" -> v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean();
            case "array" -> v.isJsonArray();
            case "object" -> v.isJsonObject();
            case "string or null" -> v.isJsonNull() || v.isJsonPrimitive() && v.getAsJsonPrimitive().isString();
            default -> {
                fail("docs/cli-json.md: " + section + " field " + f.path() + " has an unknown type '" + t + "'");
                yield false;
            }
        };
        assertTrue(ok, section + ": " + here + " = " + v + " is not a " + t + " as docs/cli-json.md says");
        assertFalse(t.isEmpty());
    }
}

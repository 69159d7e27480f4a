package dev.daxload.packager.source;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.StringReader;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Strict JSON reading for source headers and specs: RFC 8259 syntax only, bounded nesting, integers that
 * must be plain non-negative decimal numbers, and duplicate object keys refused (a parser that kept the
 * first or the last would let two readers of one file disagree).
 */
final class StrictJson {
    private static final Pattern UNSIGNED = Pattern.compile("0|[1-9][0-9]*");

    private StrictJson() {
    }

    /** A JSON problem; the message names the JSON path. */
    static final class Problem extends Exception {
        private static final long serialVersionUID = 1L;

        Problem(String message) {
            super(message);
        }
    }

    static JsonReader reader(String text) {
        JsonReader r = new JsonReader(new StringReader(text));
        r.setStrictness(Strictness.STRICT);
        r.setNestingLimit(64);
        return r;
    }

    static void expect(JsonReader r, JsonToken token, String what) throws IOException, Problem {
        JsonToken t = r.peek();
        if (t != token) {
            throw new Problem(what + " at " + r.getPath() + " must be " + article(token) + ", not " + article(t));
        }
    }

    private static String article(JsonToken t) {
        return switch (t) {
            case BEGIN_OBJECT -> "an object";
            case BEGIN_ARRAY -> "an array";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> t.toString();
        };
    }

    /** A non-negative integer written as plain digits (no sign, fraction or exponent) that fits a long. */
    static long unsigned(JsonReader r, String what) throws IOException, Problem {
        expect(r, JsonToken.NUMBER, what);
        String path = r.getPath();
        String s = r.nextString();
        if (!UNSIGNED.matcher(s).matches()) {
            throw new Problem(what + " at " + path + " must be a non-negative integer, not " + s);
        }
        if (s.length() > 19) {
            throw new Problem(what + " at " + path + " = " + s + " is too large");
        }
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new Problem(what + " at " + path + " = " + s + " is too large");
        }
    }

    /** An array of non-negative integers. */
    static long[] unsignedArray(JsonReader r, String what) throws IOException, Problem {
        expect(r, JsonToken.BEGIN_ARRAY, what);
        r.beginArray();
        List<Long> out = new ArrayList<>();
        while (r.hasNext()) {
            out.add(unsigned(r, what));
        }
        r.endArray();
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    static String string(JsonReader r, String what) throws IOException, Problem {
        expect(r, JsonToken.STRING, what);
        return r.nextString();
    }

    /** Adds {@code key} to {@code seen}, refusing a duplicate. */
    static void unique(Set<String> seen, String key, JsonReader r) throws Problem {
        if (!seen.add(key)) {
            throw new Problem("duplicate key \"" + key + "\" at " + r.getPath());
        }
    }

    /** Any JSON value as a tree, still refusing duplicate keys; numbers keep their exact decimal text. */
    static JsonElement tree(JsonReader r) throws IOException, Problem {
        switch (r.peek()) {
            case BEGIN_OBJECT -> {
                JsonObject o = new JsonObject();
                Set<String> seen = new HashSet<>();
                r.beginObject();
                while (r.hasNext()) {
                    String k = r.nextName();
                    unique(seen, k, r);
                    o.add(k, tree(r));
                }
                r.endObject();
                return o;
            }
            case BEGIN_ARRAY -> {
                JsonArray a = new JsonArray();
                r.beginArray();
                while (r.hasNext()) {
                    a.add(tree(r));
                }
                r.endArray();
                return a;
            }
            case STRING -> {
                return new JsonPrimitive(r.nextString());
            }
            case NUMBER -> {
                return new JsonPrimitive(new BigDecimal(r.nextString()));
            }
            case BOOLEAN -> {
                return new JsonPrimitive(r.nextBoolean());
            }
            case NULL -> {
                r.nextNull();
                return JsonNull.INSTANCE;
            }
            default -> throw new Problem("unexpected " + r.peek() + " at " + r.getPath());
        }
    }

    /** Requires that nothing but whitespace follows the top-level value. */
    static void end(JsonReader r) throws Problem {
        boolean more;
        try {
            more = r.peek() != JsonToken.END_DOCUMENT;
        } catch (IOException e) {
            more = true;
        }
        if (more) {
            throw new Problem("unexpected data after the top-level JSON value");
        }
    }

    /** Gson's syntax messages, without its advice to parse leniently and its help link. */
    static String describe(Exception e) {
        String m = String.valueOf(e.getMessage());
        int see = m.indexOf("\nSee https://");
        if (see >= 0) {
            m = m.substring(0, see);
        }
        return m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "malformed JSON");
    }
}

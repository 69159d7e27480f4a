package dev.daxload.manifest;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.nio.charset.StandardCharsets;

/**
 * A strict pull reader of JSON (RFC 8259) over UTF-8 bytes, for the manifest: it reads what the
 * manifest parser asks for, in document order, with no reflection and no type adapters.
 *
 * <p>Why not Gson's tree parser: in a fresh JVM, {@code JsonParser} pulls in Gson's type-adapter
 * machinery (a hundred classes, initialized in the interpreter), which cost more than the whole rest of
 * an open. Gson's {@link JsonObject} is still what {@link #readTree} builds for the free-form
 * {@code source} and {@code metadata} fields, so callers see the same objects as before.
 *
 * <p>Every error is a {@link ManifestException} naming the manifest and the byte offset, and saying
 * what was expected there. Nesting deeper than {@link ModelManifest#MAX_DEPTH} is refused, so a hostile
 * manifest cannot exhaust the stack.
 */
final class JsonCursor {
    private final byte[] in;
    private final String where;
    private int pos;
    private int depth;

    JsonCursor(byte[] in, String where) {
        this.in = in;
        this.where = where;
    }

    /** What the next value is, after skipping white space; {@code 0} at the end of the input. */
    byte peek() throws ManifestException {
        skipSpace();
        return pos < in.length ? in[pos] : 0;
    }

    int position() {
        return pos;
    }

    /** Where the reader is, to come back to with {@link #reset}. */
    record Mark(int pos, int depth, boolean first) {}

    Mark mark() {
        return new Mark(pos, depth, first);
    }

    void reset(Mark m) {
        pos = m.pos();
        depth = m.depth();
        first = m.first();
    }

    /**
     * A whole number written plainly (1 to 18 digits, no sign, no leading zero, no fraction or
     * exponent), consumed; or -1, with nothing consumed, for anything else, which the caller reads the
     * general way.
     */
    long plainLong() throws ManifestException {
        skipSpace();
        int start = pos;
        int end = start;
        long v = 0;
        while (end < in.length && in[end] >= '0' && in[end] <= '9') {
            v = v * 10 + (in[end] - '0');
            end++;
        }
        int n = end - start;
        if (n == 0 || n > 18 || (n > 1 && in[start] == '0')
                || (end < in.length && (in[end] == '.' || in[end] == 'e' || in[end] == 'E'))) {
            return -1;
        }
        pos = end;
        return v;
    }

    ManifestException error(String expected) {
        String found = pos >= in.length ? "the end of the input" : "'" + printable(in[pos]) + "'";
        return new ManifestException(where + ": not valid JSON: expected " + expected + " at byte " + pos + ", found " + found);
    }

    private static String printable(byte b) {
        return b >= 0x20 && b < 0x7f ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xff);
    }

    /** Consumes {@code c} (after white space), or throws. */
    void expect(char c) throws ManifestException {
        if (peek() != c) {
            throw error("'" + c + "'");
        }
        pos++;
    }

    /** Starts an object: call {@link #nextKey} until it returns null. */
    void beginObject() throws ManifestException {
        expect('{');
        enter();
        first = true;
    }

    /** Starts an array: call {@link #hasNext} until it returns false. */
    void beginArray() throws ManifestException {
        expect('[');
        enter();
        first = true;
    }

    private boolean first; // no value read yet in the innermost open object or array

    /**
     * The next key of the object being read, with its colon consumed, or null after the closing brace.
     * Call only right after {@link #beginObject} or after reading the previous key's value.
     */
    String nextKey() throws ManifestException {
        byte c = peek();
        if (c == '}') {
            pos++;
            depth--;
            first = false; // the enclosing object or array goes on with a comma
            return null;
        }
        if (!first) {
            if (c != ',') {
                throw error("',' or '}'");
            }
            pos++;
            if (peek() != '"') {
                throw error("a key (a string)");
            }
        } else if (c != '"') {
            throw error("a key (a string) or '}'");
        }
        first = false;
        String key = string();
        expect(':');
        return key;
    }

    /** Whether the array being read has another element (its comma consumed); false after the closing bracket. */
    boolean hasNext() throws ManifestException {
        byte c = peek();
        if (c == ']') {
            pos++;
            depth--;
            first = false;
            return false;
        }
        if (!first) {
            if (c != ',') {
                throw error("',' or ']'");
            }
            pos++;
            peek();
        }
        first = false;
        return true;
    }

    /** After the top-level value: only white space may follow. */
    void end() throws ManifestException {
        if (peek() != 0) {
            throw error("the end of the input");
        }
    }

    private void enter() throws ManifestException {
        if (++depth > ModelManifest.MAX_DEPTH) {
            throw new ManifestException(where + ": not valid JSON: nested deeper than " + ModelManifest.MAX_DEPTH + " levels at byte " + pos);
        }
    }

    /** A string value. */
    String string() throws ManifestException {
        if (peek() != '"') {
            throw error("a string");
        }
        int start = ++pos;
        // Fast path: no escapes, so the bytes between the quotes are the string's UTF-8.
        while (pos < in.length) {
            byte b = in[pos];
            if (b == '"') {
                String s = new String(in, start, pos - start, StandardCharsets.UTF_8);
                pos++;
                return s;
            }
            if (b == '\\') {
                break;
            }
            if ((b & 0xff) < 0x20) {
                throw error("no control character inside a string");
            }
            pos++;
        }
        StringBuilder sb = new StringBuilder(new String(in, start, pos - start, StandardCharsets.UTF_8));
        int run = pos;
        while (true) {
            if (pos >= in.length) {
                throw error("'\"' closing the string");
            }
            byte b = in[pos];
            if (b == '"') {
                sb.append(new String(in, run, pos - run, StandardCharsets.UTF_8));
                pos++;
                return sb.toString();
            }
            if ((b & 0xff) < 0x20) {
                throw error("no control character inside a string");
            }
            if (b != '\\') {
                pos++;
                continue;
            }
            sb.append(new String(in, run, pos - run, StandardCharsets.UTF_8));
            pos++;
            if (pos >= in.length) {
                throw error("an escape");
            }
            byte e = in[pos++];
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> sb.append(hex4());
                default -> {
                    pos--;
                    throw error("an escape (one of \" \\ / b f n r t u)");
                }
            }
            run = pos;
        }
    }

    private char hex4() throws ManifestException {
        if (pos + 4 > in.length) {
            throw error("four hex digits");
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(in[pos], 16);
            if (d < 0) {
                throw error("a hex digit");
            }
            v = v * 16 + d;
            pos++;
        }
        return (char) v;
    }

    /** A number's text, as written (checked against JSON's number grammar). */
    String number() throws ManifestException {
        skipSpace();
        int start = pos;
        if (pos < in.length && in[pos] == '-') {
            pos++;
        }
        if (pos < in.length && in[pos] == '0') {
            pos++;
        } else if (!digits()) {
            pos = start;
            throw error("a number");
        }
        if (pos < in.length && in[pos] == '.') {
            pos++;
            if (!digits()) {
                throw error("a digit after '.'");
            }
        }
        if (pos < in.length && (in[pos] == 'e' || in[pos] == 'E')) {
            pos++;
            if (pos < in.length && (in[pos] == '+' || in[pos] == '-')) {
                pos++;
            }
            if (!digits()) {
                throw error("a digit in the exponent");
            }
        }
        return new String(in, start, pos - start, StandardCharsets.ISO_8859_1);
    }

    private boolean digits() {
        int start = pos;
        while (pos < in.length && in[pos] >= '0' && in[pos] <= '9') {
            pos++;
        }
        return pos > start;
    }

    private void literal(String word) throws ManifestException {
        for (int i = 0; i < word.length(); i++) {
            if (pos >= in.length || in[pos] != word.charAt(i)) {
                throw error("'" + word + "'");
            }
            pos++;
        }
    }

    /** Any value, built as a Gson tree (numbers kept as written, like Gson's own parser). */
    JsonElement readTree() throws ManifestException {
        byte c = peek();
        switch (c) {
            case '{' -> {
                JsonObject o = new JsonObject();
                beginObject();
                for (String k = nextKey(); k != null; k = nextKey()) {
                    o.add(k, readTree());
                }
                return o;
            }
            case '[' -> {
                JsonArray a = new JsonArray();
                beginArray();
                while (hasNext()) {
                    a.add(readTree());
                }
                return a;
            }
            case '"' -> {
                return new JsonPrimitive(string());
            }
            case 't' -> {
                literal("true");
                return new JsonPrimitive(Boolean.TRUE);
            }
            case 'f' -> {
                literal("false");
                return new JsonPrimitive(Boolean.FALSE);
            }
            case 'n' -> {
                literal("null");
                return JsonNull.INSTANCE;
            }
            default -> {
                return new JsonPrimitive(new TextNumber(number()));
            }
        }
    }

    private void skipSpace() {
        while (pos < in.length) {
            byte b = in[pos];
            if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
                return;
            }
            pos++;
        }
    }

    /**
     * A JSON number kept as its text, converted when asked (what Gson's own tree parser keeps; Gson's
     * class for it is internal to its module).
     */
    private static final class TextNumber extends Number {
        private final String text;

        TextNumber(String text) {
            this.text = text;
        }

        @Override
        public int intValue() {
            try {
                return Integer.parseInt(text);
            } catch (NumberFormatException e) {
                return new java.math.BigDecimal(text).intValue();
            }
        }

        @Override
        public long longValue() {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                return new java.math.BigDecimal(text).longValue();
            }
        }

        @Override
        public float floatValue() {
            return Float.parseFloat(text);
        }

        @Override
        public double doubleValue() {
            return Double.parseDouble(text);
        }

        @Override
        public String toString() {
            return text;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TextNumber t && t.text.equals(text);
        }

        @Override
        public int hashCode() {
            return text.hashCode();
        }
    }
}

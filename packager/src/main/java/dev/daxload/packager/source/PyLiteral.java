package dev.daxload.packager.source;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the small subset of Python literals that a {@code .npy} header uses: dicts with string
 * keys, tuples, lists, strings, integers, {@code True}, {@code False} and {@code None}. It is a real
 * tokenizer and recursive-descent parser, so quotes, commas or braces inside strings cannot confuse it;
 * nothing is evaluated, and nesting depth is bounded.
 */
final class PyLiteral {
    private static final int MAX_DEPTH = 32;

    /** A parsed literal. */
    sealed interface Value permits Str, Int, Bool, None, Tuple, PyList, Dict {
    }

    record Str(String value) implements Value {
    }

    record Int(BigInteger value) implements Value {
    }

    record Bool(boolean value) implements Value {
    }

    record None() implements Value {
    }

    record Tuple(List<Value> items) implements Value {
    }

    record PyList(List<Value> items) implements Value {
    }

    /** Keys in source order; duplicate keys are refused (Python would silently keep the last). */
    record Dict(Map<String, Value> entries) implements Value {
    }

    /** A syntax error at a character index of the text. */
    static final class SyntaxError extends Exception {
        private static final long serialVersionUID = 1L;
        private final int index;

        SyntaxError(int index, String message) {
            super(message + " at character " + index);
            this.index = index;
        }

        int index() {
            return index;
        }
    }

    private final String text;
    private int pos;

    /** {@code v} written back in Python syntax, for messages. */
    static String render(Value v) {
        return switch (v) {
            case Str(String s) -> "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
            case Int(BigInteger n) -> n.toString();
            case Bool(boolean b) -> b ? "True" : "False";
            case None() -> "None";
            case Tuple(List<Value> items) -> items.size() == 1 ? "(" + render(items.getFirst()) + ",)"
                    : "(" + String.join(", ", items.stream().map(PyLiteral::render).toList()) + ")";
            case PyList(List<Value> items) -> "[" + String.join(", ", items.stream().map(PyLiteral::render).toList()) + "]";
            case Dict(Map<String, Value> entries) -> "{" + String.join(", ", entries.entrySet().stream()
                    .map(e -> render(new Str(e.getKey())) + ": " + render(e.getValue())).toList()) + "}";
        };
    }

    private PyLiteral(String text) {
        this.text = text;
    }

    /** Parses {@code text}, which must hold exactly one literal surrounded only by whitespace. */
    static Value parse(String text) throws SyntaxError {
        PyLiteral p = new PyLiteral(text);
        Value v = p.value(0);
        p.skipSpace();
        if (p.pos != text.length()) {
            throw new SyntaxError(p.pos, "unexpected " + p.describeHere() + " after the literal");
        }
        return v;
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
                pos++;
            } else {
                break;
            }
        }
    }

    private String describeHere() {
        return pos >= text.length() ? "end of text" : "'" + text.charAt(pos) + "'";
    }

    private boolean peek(char c) {
        skipSpace();
        return pos < text.length() && text.charAt(pos) == c;
    }

    private void expect(char c) throws SyntaxError {
        if (!peek(c)) {
            throw new SyntaxError(pos, "expected '" + c + "' but found " + describeHere());
        }
        pos++;
    }

    private Value value(int depth) throws SyntaxError {
        if (depth > MAX_DEPTH) {
            throw new SyntaxError(pos, "nested deeper than " + MAX_DEPTH);
        }
        skipSpace();
        if (pos >= text.length()) {
            throw new SyntaxError(pos, "expected a value but found end of text");
        }
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> dict(depth);
            case '(' -> tuple(depth);
            case '[' -> new PyList(sequence(depth, ']'));
            case '\'', '"' -> new Str(string());
            default -> {
                if (c == 'u' && pos + 1 < text.length() && (text.charAt(pos + 1) == '\'' || text.charAt(pos + 1) == '"')) {
                    pos++; // Python 2 unicode prefix, as old numpy wrote
                    yield new Str(string());
                }
                if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
                    yield integer();
                }
                yield word();
            }
        };
    }

    private Value word() throws SyntaxError {
        int start = pos;
        while (pos < text.length() && Character.isLetter(text.charAt(pos))) {
            pos++;
        }
        String w = text.substring(start, pos);
        return switch (w) {
            case "True" -> new Bool(true);
            case "False" -> new Bool(false);
            case "None" -> new None();
            default -> {
                pos = start;
                throw new SyntaxError(start, "unexpected " + (w.isEmpty() ? describeHere() : "'" + w + "'")
                        + " (only dicts, tuples, lists, strings, integers, True, False and None are allowed)");
            }
        };
    }

    private Int integer() throws SyntaxError {
        int start = pos;
        if (text.charAt(pos) == '-' || text.charAt(pos) == '+') {
            pos++;
        }
        int digits = pos;
        while (pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '9') {
            pos++;
        }
        if (pos == digits) {
            throw new SyntaxError(start, "a sign without digits");
        }
        if (pos - digits > 40) {
            throw new SyntaxError(start, "an integer of " + (pos - digits) + " digits");
        }
        BigInteger v = new BigInteger(text.substring(start, pos));
        if (pos < text.length() && (text.charAt(pos) == 'L' || text.charAt(pos) == 'l')) {
            pos++; // Python 2 long suffix: (3L, 4L) in headers written by old numpy
        }
        if (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '.')) {
            throw new SyntaxError(pos, "unexpected '" + text.charAt(pos) + "' in a number (only integers are allowed)");
        }
        return new Int(v);
    }

    private String string() throws SyntaxError {
        char quote = text.charAt(pos);
        int start = pos++;
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw new SyntaxError(start, "unterminated string");
            }
            char c = text.charAt(pos++);
            if (c == quote) {
                return sb.toString();
            }
            if (c == '\n') {
                throw new SyntaxError(pos - 1, "newline inside a string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw new SyntaxError(start, "unterminated string");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '\\', '\'', '"' -> sb.append(e);
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case 'r' -> sb.append('\r');
                case '0' -> sb.append('\0');
                case 'x' -> sb.append((char) hex(2));
                case 'u' -> sb.append((char) hex(4));
                case 'U' -> sb.appendCodePoint(codePoint(hex(8)));
                default -> throw new SyntaxError(pos - 2, "unsupported escape '\\" + e + "'");
            }
        }
    }

    private int codePoint(int cp) throws SyntaxError {
        if (!Character.isValidCodePoint(cp)) {
            throw new SyntaxError(pos, "invalid code point " + Integer.toHexString(cp));
        }
        return cp;
    }

    private int hex(int n) throws SyntaxError {
        if (pos + n > text.length()) {
            throw new SyntaxError(pos, "short \\x/\\u escape");
        }
        int v = 0;
        for (int i = 0; i < n; i++) {
            int d = Character.digit(text.charAt(pos + i), 16);
            if (d < 0) {
                throw new SyntaxError(pos + i, "bad hex digit in escape");
            }
            v = v * 16 + d;
        }
        pos += n;
        return v;
    }

    private Dict dict(int depth) throws SyntaxError {
        expect('{');
        Map<String, Value> entries = new LinkedHashMap<>();
        while (!peek('}')) {
            int keyAt = pos;
            Value key = value(depth + 1);
            if (!(key instanceof Str(String k))) {
                throw new SyntaxError(keyAt, "dict keys must be strings");
            }
            expect(':');
            Value v = value(depth + 1);
            if (entries.putIfAbsent(k, v) != null) {
                throw new SyntaxError(keyAt, "duplicate key '" + k + "'");
            }
            if (!peek('}')) {
                expect(',');
            }
        }
        pos++;
        return new Dict(entries);
    }

    /** {@code (x)} is just x in Python; only a comma makes a tuple. */
    private Value tuple(int depth) throws SyntaxError {
        expect('(');
        List<Value> items = new ArrayList<>();
        boolean comma = false;
        while (!peek(')')) {
            items.add(value(depth + 1));
            if (!peek(')')) {
                expect(',');
                comma = true;
            }
        }
        pos++;
        if (items.size() == 1 && !comma) {
            return items.getFirst();
        }
        return new Tuple(items);
    }

    private List<Value> sequence(int depth, char close) throws SyntaxError {
        pos++;
        List<Value> items = new ArrayList<>();
        while (!peek(close)) {
            items.add(value(depth + 1));
            if (!peek(close)) {
                expect(',');
            }
        }
        pos++;
        return items;
    }
}

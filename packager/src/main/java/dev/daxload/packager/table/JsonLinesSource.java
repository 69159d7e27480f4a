package dev.daxload.packager.table;

import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON Lines: one JSON object per line, members as cells. Values may be strings, numbers, booleans
 * (kept as the text {@code true}/{@code false}) or null; nested objects and arrays are refused.
 * Blank lines are skipped. Parsed strictly by Gson's streaming reader, so a member named twice or a
 * second value on a line is an error.
 *
 * <p>On the first pass ({@code growing}) each new member name adds a column, in order of first
 * appearance; on the second the columns are fixed and a new name means the file changed.
 */
final class JsonLinesSource implements RowSource {
    private final Path file;
    private final BufferedReader in;
    private final boolean growing;
    private final List<String> names;
    private final Map<String, Integer> index = new HashMap<>();
    private String[] cells;
    private boolean[] text;
    private long line;
    private long recordLine;

    JsonLinesSource(Path file, List<String> knownColumns, boolean growing) throws IOException {
        this.file = file;
        this.growing = growing;
        this.names = new ArrayList<>(knownColumns);
        for (int i = 0; i < names.size(); i++) {
            index.put(names.get(i), i);
        }
        this.cells = new String[names.size()];
        this.text = new boolean[names.size()];
        this.in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
    }

    @Override
    public List<String> columns() {
        return names;
    }

    @Override
    public boolean next() throws IOException {
        String s;
        while (true) {
            try {
                s = in.readLine();
            } catch (CharacterCodingException e) {
                throw new TableInputException(file, line + 1, null, "not valid UTF-8");
            }
            if (s == null) {
                return false;
            }
            line++;
            if (line == 1 && s.startsWith("\uFEFF")) {
                s = s.substring(1);
            }
            if (!s.isBlank()) {
                break;
            }
        }
        recordLine = line;
        Arrays.fill(cells, null);
        Arrays.fill(text, false);
        parse(s);
        return true;
    }

    private void parse(String s) throws IOException {
        try (JsonReader r = new JsonReader(new StringReader(s))) {
            r.setStrictness(Strictness.STRICT);
            if (r.peek() != JsonToken.BEGIN_OBJECT) {
                throw new TableInputException(file, line, null, "expected a JSON object, found " + describe(r.peek()));
            }
            r.beginObject();
            boolean[] seen = new boolean[names.size()];
            while (r.hasNext()) {
                String name = r.nextName();
                Integer col = index.get(name);
                if (col == null) {
                    if (!growing) {
                        throw new TableInputException(file, line, name, "a member that the first pass did not see (did the file change?)");
                    }
                    col = names.size();
                    names.add(name);
                    index.put(name, col);
                    cells = Arrays.copyOf(cells, names.size());
                    text = Arrays.copyOf(text, names.size());
                    seen = Arrays.copyOf(seen, names.size());
                }
                if (seen[col]) {
                    throw new TableInputException(file, line, name, "the object names this member twice");
                }
                seen[col] = true;
                switch (r.peek()) {
                    case STRING -> {
                        cells[col] = r.nextString();
                        text[col] = true;
                    }
                    case NUMBER -> cells[col] = r.nextString(); // the literal, so integers stay exact
                    case BOOLEAN -> {
                        cells[col] = Boolean.toString(r.nextBoolean());
                        text[col] = true;
                    }
                    case NULL -> r.nextNull();
                    default -> throw new TableInputException(file, line, name,
                            "expected a string, number, boolean or null, found " + describe(r.peek()));
                }
            }
            r.endObject();
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new TableInputException(file, line, null, "expected the end of the line after the object, found " + describe(r.peek()));
            }
        } catch (com.google.gson.stream.MalformedJsonException | java.io.EOFException | IllegalStateException e) {
            throw new TableInputException(file, line, null, "malformed JSON: " + gsonMessage(e.getMessage()));
        }
    }

    /** Gson's message, less its advice to parse leniently and its line count, which is always 1 here. */
    private static String gsonMessage(String m) {
        if (m == null) {
            return "unexpected input";
        }
        int see = m.indexOf("\nSee ");
        if (see >= 0) {
            m = m.substring(0, see);
        }
        return m.replace("Use JsonReader.setStrictness(Strictness.LENIENT) to accept malformed JSON", "not valid strict JSON")
                .replaceAll(" at line 1 column (\\d+)", " at column $1");
    }

    private static String describe(JsonToken t) {
        return switch (t) {
            case BEGIN_ARRAY -> "an array";
            case BEGIN_OBJECT -> "an object";
            case END_DOCUMENT -> "the end of the line";
            default -> t.name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    @Override
    public long line() {
        return recordLine;
    }

    @Override
    public String cell(int i) {
        return i < cells.length ? cells[i] : null;
    }

    @Override
    public boolean isText(int i) {
        return i < text.length && text[i];
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}

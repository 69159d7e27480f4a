package dev.daxload.packager.table;

import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Tab-separated values as the text/tab-separated-values media type defines them: one record per line,
 * fields split at every tab, and no quoting, so a quote is an ordinary character. That is what vocabulary
 * and token files hold (a {@code "} token on a line of its own), which CSV quoting would reject or
 * misread. The first line is the header; blank lines are skipped; CRLF line ends are accepted. Input is
 * UTF-8; a byte order mark is dropped.
 *
 * <p>No library is used here because the format has nothing to parse beyond a split: FastCSV, which
 * reads the CSV input, always treats a quote character as quoting.
 */
final class TabSeparatedSource implements RowSource {
    /** Longest line read, in chars: FastCSV's default bound for a CSV record, so a file with no line breaks cannot exhaust the heap. */
    static final int MAX_LINE = 16 << 20;

    private final Path file;
    private final Reader in;
    private final char[] buf = new char[8192];
    private int pos;
    private int limit;
    private final StringBuilder pending = new StringBuilder();
    private final List<String> header;
    private String[] current;
    private long line;
    private long currentLine;

    TabSeparatedSource(Path file) throws IOException {
        this.file = file;
        // Unbuffered: readLine below keeps its own buffer. The decoder reports malformed input.
        this.in = new InputStreamReader(Files.newInputStream(file), StandardCharsets.UTF_8.newDecoder());
        try {
            String first = readRecord();
            if (first == null) {
                throw new TableInputException(file, 0, null, "the file is empty; expected a header line naming the columns");
            }
            this.header = RowSource.header(file, currentLine, List.of(first.split("\t", -1)));
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    /** The next non-blank line without its line end, or null at the end; sets {@link #currentLine}. */
    private String readRecord() throws IOException {
        while (true) {
            String s = readLine();
            if (s == null) {
                return null;
            }
            line++;
            if (s.endsWith("\r")) {
                s = s.substring(0, s.length() - 1);
            }
            if (!s.isEmpty()) {
                currentLine = line;
                return s;
            }
        }
    }

    /** One line without its LF, or null at the end of the input; refuses lines over {@link #MAX_LINE}. */
    private String readLine() throws IOException {
        pending.setLength(0);
        boolean any = false;
        while (true) {
            if (pos == limit) {
                try {
                    limit = in.read(buf, 0, buf.length);
                } catch (CharacterCodingException e) {
                    throw new TableInputException(file, line + 1, null, "not valid UTF-8");
                }
                pos = 0;
                if (limit <= 0) {
                    limit = 0;
                    return any ? pending.toString() : null;
                }
            }
            any = true;
            int start = pos;
            while (pos < limit && buf[pos] != '\n') {
                pos++;
            }
            if (pending.length() + (pos - start) > MAX_LINE) {
                throw new TableInputException(file, line + 1, null, "the line is longer than " + MAX_LINE
                        + " characters; a tab-separated record is one line");
            }
            pending.append(buf, start, pos - start);
            if (pos < limit) {
                pos++;
                return pending.toString();
            }
        }
    }

    @Override
    public List<String> columns() {
        return header;
    }

    @Override
    public boolean next() throws IOException {
        String s = readRecord();
        if (s == null) {
            return false;
        }
        current = s.split("\t", -1);
        if (current.length != header.size()) {
            throw new TableInputException(file, currentLine, null,
                    "expected " + header.size() + " tab-separated fields, as in the header, but found " + current.length);
        }
        return true;
    }

    @Override
    public long line() {
        return currentLine;
    }

    @Override
    public String cell(int i) {
        String s = current[i];
        return s.isEmpty() ? null : s;
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}

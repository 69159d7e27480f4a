package dev.daxload.packager.table;

import de.siegmar.fastcsv.reader.CloseableIterator;
import de.siegmar.fastcsv.reader.CsvParseException;
import de.siegmar.fastcsv.reader.CsvReader;
import de.siegmar.fastcsv.reader.CsvRecord;
import de.siegmar.fastcsv.reader.FieldMismatchStrategy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CSV (RFC 4180) or another single-character delimiter: the first record is the header, quoted
 * fields may hold delimiters, quotes ({@code ""}) and line breaks. Parsed by FastCSV, strictly:
 * an unclosed quote or text after a closing quote is an error, not a guess. Blank lines are skipped.
 * Input is UTF-8; a byte order mark is dropped.
 */
final class DelimitedSource implements RowSource {
    private static final Pattern LINE = Pattern.compile("line (\\d+)");

    private final Path file;
    private final CsvReader<CsvRecord> reader;
    private final CloseableIterator<CsvRecord> records;
    private final List<String> header;
    private CsvRecord current;
    private long lastLine = 1;

    DelimitedSource(Path file, char delimiter) throws IOException {
        this.file = file;
        this.reader = CsvReader.builder()
                .fieldSeparator(delimiter)
                .quoteCharacter('"')
                .skipEmptyLines(true)
                .allowUnclosedQuote(false)
                // counted here, so that the message can name the line rather than the record number
                .extraFieldStrategy(FieldMismatchStrategy.IGNORE)
                .missingFieldStrategy(FieldMismatchStrategy.IGNORE)
                .ofCsvRecord(Files.newBufferedReader(file, StandardCharsets.UTF_8));
        this.records = reader.iterator();
        try {
            if (!advance()) {
                throw new TableInputException(file, 0, null, "the file is empty; expected a header line naming the columns");
            }
            this.header = RowSource.header(file, current.getStartingLineNumber(), current.getFields());
        } catch (IOException | RuntimeException e) {
            reader.close();
            throw e;
        }
    }

    private boolean advance() throws IOException {
        try {
            if (!records.hasNext()) {
                return false;
            }
            current = records.next();
            lastLine = current.getStartingLineNumber();
            return true;
        } catch (CsvParseException e) {
            // FastCSV says where the record starts only in its message
            Matcher m = LINE.matcher(String.valueOf(e.getMessage()));
            long at = m.find() ? Long.parseLong(m.group(1)) : 0;
            throw new TableInputException(file, at, null, "malformed CSV: " + e.getMessage());
        } catch (UncheckedIOException e) {
            if (e.getCause() instanceof CharacterCodingException) {
                throw new TableInputException(file, lastLine, null, "not valid UTF-8 (after the record starting on this line)");
            }
            throw new IOException(file + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    @Override
    public List<String> columns() {
        return header;
    }

    @Override
    public boolean next() throws IOException {
        if (!advance()) {
            return false;
        }
        if (current.getFieldCount() != header.size()) {
            throw new TableInputException(file, current.getStartingLineNumber(), null,
                    "expected " + header.size() + " fields, as in the header, but found " + current.getFieldCount());
        }
        return true;
    }

    @Override
    public long line() {
        return current.getStartingLineNumber();
    }

    @Override
    public String cell(int i) {
        String s = current.getField(i);
        return s.isEmpty() ? null : s;
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }
}

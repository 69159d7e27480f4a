package dev.daxload.packager.table;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One pass over a table's input, record by record. Cells of the current record are read by column
 * position; the column list may grow while a JSON Lines file is scanned for the first time.
 */
interface RowSource extends Closeable {

    /** Column names in order; for CSV the header, for JSON Lines the names seen so far. */
    List<String> columns();

    /** Moves to the next record; false at the end of the input. */
    boolean next() throws IOException;

    /** The line the current record starts on, 1-based. */
    long line();

    /** The current record's cell in column {@code i}, or null when it is empty or missing. */
    String cell(int i);

    /**
     * Whether the cell was written as text (a JSON string or boolean): such a cell is a string for type
     * inference, whatever it looks like. CSV and TSV cells are never marked: their type comes from their text.
     */
    default boolean isText(int i) {
        return false;
    }

    /**
     * The column names of a CSV or TSV header line: a leading byte order mark dropped, every name
     * non-empty and none twice.
     *
     * @throws TableInputException naming {@code file}, {@code line} and the field otherwise
     */
    static List<String> header(Path file, long line, List<String> fields) throws TableInputException {
        List<String> names = new ArrayList<>(fields);
        if (!names.isEmpty() && names.getFirst().startsWith("\uFEFF")) {
            names.set(0, names.getFirst().substring(1));
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < names.size(); i++) {
            String n = names.get(i);
            if (n.isEmpty()) {
                throw new TableInputException(file, line, null, "header field " + (i + 1) + " is empty; every column needs a name");
            }
            if (!seen.add(n)) {
                throw new TableInputException(file, line, n, "the header names this column twice");
            }
        }
        return List.copyOf(names);
    }
}

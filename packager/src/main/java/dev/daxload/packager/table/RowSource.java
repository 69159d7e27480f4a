package dev.daxload.packager.table;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;

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
}

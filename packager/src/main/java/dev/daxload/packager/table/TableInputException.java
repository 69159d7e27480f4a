package dev.daxload.packager.table;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The input of a table is not what the builder can take: a malformed CSV record or JSON line, a cell
 * that does not fit its column's type, a duplicate key. The message names the file, the line (the
 * line a record starts on, 1-based), the column when there is one, and what was expected; the same
 * facts are available as fields.
 */
public final class TableInputException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long line;
    private final String column;

    /**
     * @param line 1-based line the offending record starts on, or 0 when the problem has no line
     * @param column the column's name, or null
     */
    public TableInputException(Path file, long line, String column, String problem) {
        super(file + (line > 0 ? ": line " + line : "") + (column != null ? ", column '" + column + "'" : "") + ": " + problem);
        this.file = file;
        this.line = line;
        this.column = column;
    }

    public Path file() {
        return file;
    }

    /** 1-based line, or 0 when the problem is about the file as a whole. */
    public long line() {
        return line;
    }

    /** The column's name, or null. */
    public String column() {
        return column;
    }
}

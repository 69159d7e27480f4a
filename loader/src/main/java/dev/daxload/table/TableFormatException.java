package dev.daxload.table;

import java.io.IOException;

/**
 * A lookup table in an image breaks a rule of {@link TableLayout}: a descriptor that is not valid,
 * a file whose size disagrees with the row count, an index that cannot be right. The message names
 * the image, the table directory and the rule.
 */
public final class TableFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    TableFormatException(String message) {
        super(message);
    }

    TableFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}

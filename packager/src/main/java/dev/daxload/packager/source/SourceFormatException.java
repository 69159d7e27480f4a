package dev.daxload.packager.source;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A source file is malformed or holds something daxload refuses. The message names the file, the
 * offset or field, what was found and what was expected.
 */
public final class SourceFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long offset;

    /**
     * @param file the source file
     * @param offset byte offset of the broken field, or -1 when it has none
     * @param message what was found and what was expected, naming the field
     */
    public SourceFormatException(Path file, long offset, String message) {
        super(file + (offset >= 0 ? " at offset " + offset : "") + ": " + message);
        this.file = file;
        this.offset = offset;
    }

    public SourceFormatException(Path file, long offset, String message, Throwable cause) {
        this(file, offset, message);
        initCause(cause);
    }

    public Path file() {
        return file;
    }

    public long offset() {
        return offset;
    }
}

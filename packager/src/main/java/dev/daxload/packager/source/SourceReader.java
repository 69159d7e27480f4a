package dev.daxload.packager.source;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads one source format. Sources are untrusted: every length and offset is checked against the
 * real file size before use, no allocation is sized by an unchecked header field, and every failure
 * is a {@link SourceFormatException} naming the file, the field or offset and what was expected.
 */
public interface SourceReader {

    /** The format's name, as in {@link SourceModel#format()}. */
    String format();

    /** True if {@code path} looks like this format (by name and, where cheap, by magic bytes). */
    boolean accepts(Path path) throws IOException;

    /** Reads the tensors and metadata of {@code path}; reads no tensor bytes unless it must convert them. */
    SourceModel read(Path path) throws IOException;
}

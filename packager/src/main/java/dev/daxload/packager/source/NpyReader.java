package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads one NumPy {@code .npy} array (format versions 1.0, 2.0 and 3.0) as a single tensor named after the
 * file (without {@code .npy}).
 *
 * <p>Accepted element types: {@code f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 c8}, stored little- or
 * big-endian. The image always holds little-endian data, so big-endian arrays are byte-swapped while they
 * are copied (in bounded chunks). Fortran-order (column-major) arrays are rewritten in C order while they
 * are copied, keeping their shape: a user who saved a {@code [64, 192]} array gets the same
 * {@code [64, 192]} values back, in the row-major layout every daxload consumer expects; reporting the
 * reversed shape instead would silently transpose the weights. Refused: object arrays (a Python pickle,
 * never loaded), structured and void dtypes (including ml_dtypes' bfloat16), strings, datetimes, and any
 * file whose data is not exactly shape times element size.
 */
public final class NpyReader implements SourceReader {

    @Override
    public String format() {
        return "npy";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        if (path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
            return true;
        }
        try (InputStream in = Files.newInputStream(path)) {
            return NpyHeader.hasMagic(in.readNBytes(6));
        }
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        NpyHeader h;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            InputStream in = Channels.newInputStream(ch);
            h = NpyHeader.read(in, size, (off, msg) -> new SourceFormatException(path, off, msg));
        }
        String name = path.getFileName().toString();
        if (name.toLowerCase(Locale.ROOT).endsWith(".npy")) {
            name = name.substring(0, name.length() - 4);
        }
        SourceTensor t = new SourceTensor(name, h.dtype(), h.shape(), contentOfRange(path, 0, h));
        return new SourceModel("npy", List.of(path), new JsonObject(), List.of(t), Map.of());
    }

    /** The content of an array whose {@code .npy} bytes start at {@code start} of {@code file}, uncompressed. */
    static FileContent contentOfRange(Path file, long start, NpyHeader h) {
        long off = start + h.dataOffset();
        if (h.copyable()) {
            return FileContent.range(file, off, h.dataLength());
        }
        if (!h.fortranOrder() || h.layoutIsTrivial()) {
            return new ByteSwappingContent(file, off, h.dataLength(), h.swapUnit());
        }
        return new FortranOrderContent(FileContent.range(file, off, h.dataLength()), h.shape(), h.itemSize(),
                h.swapUnit());
    }
}

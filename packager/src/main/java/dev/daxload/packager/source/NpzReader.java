package dev.daxload.packager.source;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;

/**
 * Reads a NumPy {@code .npz} archive: every member {@code NAME.npy} becomes the tensor {@code NAME}, with
 * the same element-type, byte-order and Fortran-order rules as {@link NpyReader}.
 *
 * <p>Stored members ({@code numpy.savez}) are plain ranges of the archive, found from each member's local
 * file header (zip64 included) and checked against the file size, so the kernel copies them. Deflated
 * members ({@code numpy.savez_compressed}) are inflated while the image is written, in bounded chunks, with
 * their size and CRC-32 checked. Refused: members that are not {@code .npy}, encrypted members, other
 * compression methods, duplicate member names, and members whose declared sizes are impossible.
 */
public final class NpzReader implements SourceReader {
    private static final int STORED = 0;
    private static final int DEFLATED = 8;
    /** Deflate cannot expand data by more than about 1032:1; a larger declared ratio is a lie. */
    private static final long MAX_DEFLATE_RATIO = 1100;
    private static final int LOCAL_HEADER = 30;
    private static final int LOCAL_SIGNATURE = 0x04034b50;
    private static final int END_SIGNATURE = 0x06054b50;
    private static final int END_RECORD = 22;

    @Override
    public String format() {
        return "npz";
    }

    @Override
    public boolean accepts(Path path) throws IOException {
        return Files.isRegularFile(path) && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npz");
    }

    @Override
    public SourceModel read(Path path) throws IOException {
        List<SourceTensor> tensors = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            requireEndRecord(path, ch);
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ); ZipFile zip = open(path)) {
            long fileSize = ch.size();
            Set<String> seen = new HashSet<>();
            for (ZipArchiveEntry e : Collections.list(zip.getEntriesInPhysicalOrder())) {
                if (e.isDirectory()) {
                    continue;
                }
                String member = e.getName();
                if (!seen.add(member)) {
                    throw new SourceFormatException(path, e.getLocalHeaderOffset(), "member '" + member
                            + "' appears twice in the archive");
                }
                tensors.add(member(path, ch, fileSize, zip, e));
            }
        } catch (SourceFormatException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            // commons-compress reports malformed archives in many ways; all of them mean "not a valid npz"
            throw new SourceFormatException(path, -1, "not a readable zip archive: " + e, e);
        }
        return new SourceModel("npz", List.of(path), new JsonObject(), tensors, Map.of());
    }

    /**
     * Looks for the end-of-central-directory signature in the last 64 KiB itself: commons-compress seeks
     * byte by byte while searching for it, which makes every truncated archive slow to refuse.
     */
    private static void requireEndRecord(Path path, FileChannel ch) throws IOException {
        long size = ch.size();
        int tail = (int) Math.min(size, END_RECORD + 0xFFFF);
        ByteBuffer b = ByteBuffer.allocate(tail).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, size - tail + b.position()) < 0) {
                break;
            }
        }
        for (int i = tail - END_RECORD; i >= 0; i--) {
            if (b.getInt(i) == END_SIGNATURE) {
                requireDirectoryFits(path, ch, size - tail + i, Short.toUnsignedLong(b.getShort(i + 10)), Integer.toUnsignedLong(b.getInt(i + 12)));
                return;
            }
        }
        throw new SourceFormatException(path, size, "not a readable zip archive: no end-of-central-directory record in "
                + "the last " + tail + " bytes (truncated?)");
    }

    /**
     * commons-compress reads the whole central directory into entries before the first member: its
     * size and member count (from the end record, or the ZIP64 end record it points to) are checked
     * against the memory budget first, so a sound archive of a million members is a message, not an
     * OutOfMemoryError.
     */
    private static void requireDirectoryFits(Path path, FileChannel ch, long endAt, long entries, long cdSize) throws IOException {
        if ((entries == 0xFFFF || cdSize == 0xFFFFFFFFL) && endAt >= 20) {
            ByteBuffer loc = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(loc, endAt - 20);
            if (loc.getInt(0) == 0x07064b50) {
                long at = loc.getLong(8);
                ByteBuffer z = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
                if (at >= 0 && at <= ch.size() - 56 && ch.read(z, at) == 56 && z.getInt(0) == 0x06064b50) {
                    entries = z.getLong(32);
                    cdSize = z.getLong(40);
                    endAt = at;
                }
            }
        }
        if (entries < 0 || cdSize < 0) {
            throw new SourceFormatException(path, endAt, "not a readable zip archive: the end record declares a negative size");
        }
        MemoryBudget.requireCount(path, endAt, "zip members", entries, MemoryBudget.HEAP_PER_TENSOR);
        MemoryBudget.requireCount(path, endAt, "central directory bytes", cdSize, 4);
    }

    private static ZipFile open(Path path) throws IOException {
        return ZipFile.builder().setPath(path).get();
    }

    private SourceTensor member(Path path, FileChannel ch, long fileSize, ZipFile zip, ZipArchiveEntry e)
            throws IOException {
        String member = e.getName();
        long lho = e.getLocalHeaderOffset();
        if (!member.endsWith(".npy")) {
            throw new SourceFormatException(path, lho, "member '" + member + "' is not a .npy array; only arrays are read");
        }
        String name = member.substring(0, member.length() - 4);
        if (e.getGeneralPurposeBit().usesEncryption()) {
            throw new SourceFormatException(path, lho, "member '" + member + "' is encrypted");
        }
        int method = e.getMethod();
        long csize = e.getCompressedSize();
        long size = e.getSize();
        long dataOffset = checkLocalHeader(path, ch, e);
        if (csize < 0 || size < 0) {
            throw new SourceFormatException(path, lho, "member '" + member + "' has no recorded sizes");
        }
        if (csize > fileSize - dataOffset) {
            throw new SourceFormatException(path, dataOffset, "member '" + member + "' has " + csize
                    + " compressed bytes but the file ends " + (fileSize - dataOffset) + " bytes after its data start");
        }
        NpyHeader.Errors err = (off, msg) -> new SourceFormatException(path, method == STORED ? dataOffset + off : -1,
                "member '" + member + "'" + (method == STORED ? "" : " (byte " + off + " inflated)") + ": " + msg);
        return switch (method) {
            case STORED -> {
                if (size != csize) {
                    throw new SourceFormatException(path, lho, "stored member '" + member + "' has size " + size
                            + " but compressed size " + csize);
                }
                // not closed: closing a channel's stream closes the channel, which the loop still needs
                InputStream in = Channels.newInputStream(ch.position(dataOffset));
                NpyHeader h = NpyHeader.read(in, size, err);
                yield new SourceTensor(name, h.dtype(), h.shape(), NpyReader.contentOfRange(path, dataOffset, h));
            }
            case DEFLATED -> {
                if (size / MAX_DEFLATE_RATIO > csize + 1) {
                    throw new SourceFormatException(path, lho, "member '" + member + "' claims " + size
                            + " bytes from " + csize + " deflated bytes, more than deflate can produce");
                }
                NpyHeader h;
                try (InputStream in = zip.getInputStream(e)) {
                    h = NpyHeader.read(in, size, err);
                }
                yield new SourceTensor(name, h.dtype(), h.shape(), inflated(path, dataOffset, csize, size, e.getCrc(), h));
            }
            default -> throw new SourceFormatException(path, lho, "member '" + member + "' uses zip compression method "
                    + method + "; only stored (0) and deflated (8) members are read");
        };
    }

    private static FileContent inflated(Path path, long dataOffset, long csize, long size, long crc, NpyHeader h) {
        if (!h.fortranOrder() || h.layoutIsTrivial()) {
            return new InflatingContent(path, dataOffset, csize, size, crc, h.dataOffset(), h.dataLength(), h.swapUnit());
        }
        FileContent raw = new InflatingContent(path, dataOffset, csize, size, crc, h.dataOffset(), h.dataLength(), 1);
        return new FortranOrderContent(raw, h.shape(), h.itemSize(), h.swapUnit());
    }

    /**
     * Reads the member's local file header itself, so that the data offset used for copying is checked
     * against the bytes that are really there, not only against what the library computed.
     */
    private static long checkLocalHeader(Path path, FileChannel ch, ZipArchiveEntry e) throws IOException {
        long lho = e.getLocalHeaderOffset();
        long fileSize = ch.size();
        if (lho < 0 || lho > fileSize - LOCAL_HEADER) {
            throw new SourceFormatException(path, lho, "member '" + e.getName() + "': local header offset " + lho
                    + " is outside the file");
        }
        ByteBuffer b = ByteBuffer.allocate(LOCAL_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, lho + b.position()) < 0) {
                throw new SourceFormatException(path, lho, "member '" + e.getName() + "': local header is truncated");
            }
        }
        if (b.getInt(0) != LOCAL_SIGNATURE) {
            throw new SourceFormatException(path, lho, "member '" + e.getName() + "': no local file header signature");
        }
        long data = lho + LOCAL_HEADER + (b.getShort(26) & 0xFFFF) + (b.getShort(28) & 0xFFFF);
        if (e.getDataOffset() != data) {
            throw new SourceFormatException(path, lho, "member '" + e.getName() + "': data offset " + e.getDataOffset()
                    + " disagrees with its local header (" + data + ")");
        }
        if (data > fileSize) {
            throw new SourceFormatException(path, lho, "member '" + e.getName() + "': data starts past the end of the file");
        }
        return data;
    }
}

package dev.daxload.packager.source;

import com.google.protobuf.UnsafeByteOperations;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.source.onnxproto.StringStringEntryProto;
import dev.daxload.packager.source.onnxproto.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns one top-level ONNX initializer into a {@link SourceTensor}: checks dtype, dims and the length
 * of the data against each other, and finds where the bytes are (in the model file, in an external
 * file, or converted from a typed field).
 */
final class OnnxInitializerDecoder {
    static final int DATA_LOCATION_DEFAULT = 0;
    static final int DATA_LOCATION_EXTERNAL = 1;

    private final Path model;
    private final Path modelDir;
    private final Set<Path> externalFiles = new LinkedHashSet<>();

    /** @param model the .onnx file */
    OnnxInitializerDecoder(Path model) {
        this.model = model;
        Path parent = model.toAbsolutePath().normalize().getParent();
        this.modelDir = parent != null ? parent : Path.of("/");
    }

    /** External data files read so far, in first-use order, for the manifest's provenance. */
    List<Path> externalFiles() {
        return List.copyOf(externalFiles);
    }

    /**
     * The tensor, or a {@link SourceFormatException} naming the initializer and the field at fault.
     *
     * @param t the initializer as scanned, without its raw_data
     * @param raw where its raw_data lies in the model file, or {@code null} if it has none
     */
    SourceTensor decode(TensorProto t, OnnxFileScanner.RawData raw, int index) throws IOException {
        String name = t.getName();
        if (name.isEmpty()) {
            throw fail(-1, "initializer #" + index + " has no name");
        }
        String what = "initializer '" + name + "'";
        if (!t.hasDataType()) {
            throw fail(-1, what + " has no data_type");
        }
        OnnxDataType type = OnnxDataType.of(t.getDataType());
        if (type == null) {
            throw fail(-1, what + ": data_type " + OnnxDataType.onnxName(t.getDataType())
                    + " is not supported (daxload takes the fixed-size numeric types and BOOL)");
        }
        if (t.hasSegment()) {
            throw fail(-1, what + " is a segment of a larger tensor (field segment); segmented tensors are not supported");
        }
        long[] shape = new long[t.getDimsCount()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.getDims(i);
            if (shape[i] < 0) {
                throw fail(-1, what + ": dims[" + i + "] = " + shape[i] + " is negative");
            }
            count = multiply(count, shape[i], what);
        }
        long nbytes = multiply(count, type.elementSize, what);
        List<String> fields = presentDataFields(t, raw != null);

        FileContent content;
        switch (t.getDataLocation()) {
            case DATA_LOCATION_EXTERNAL -> {
                if (!fields.isEmpty()) {
                    throw fail(-1, what + " has data_location EXTERNAL and also " + String.join(", ", fields)
                            + "; expected the data in one place");
                }
                content = external(t, what, nbytes);
            }
            case DATA_LOCATION_DEFAULT -> {
                if (fields.size() > 1) {
                    throw fail(-1, what + " has data in " + String.join(", ", fields) + "; expected one of them");
                }
                if (fields.isEmpty()) {
                    if (nbytes != 0) {
                        throw fail(-1, what + " holds no data, but dims " + Arrays.toString(shape)
                                + " of " + type + " need " + nbytes + " bytes");
                    }
                    content = FileContent.of(new byte[0]);
                } else if (raw != null) {
                    content = raw(raw, what, nbytes);
                } else {
                    content = typed(t, type, what, count, nbytes, fields.getFirst());
                }
            }
            default -> throw fail(-1, what + ": data_location " + t.getDataLocation()
                    + " is unknown (expected 0 DEFAULT or 1 EXTERNAL)");
        }
        return new SourceTensor(name, type.dtype, shape, content);
    }

    private static List<String> presentDataFields(TensorProto t, boolean hasRawData) {
        List<String> fields = new ArrayList<>(1);
        if (hasRawData || t.hasRawData()) {
            fields.add("raw_data");
        }
        if (t.getFloatDataCount() > 0) {
            fields.add("float_data");
        }
        if (t.getInt32DataCount() > 0) {
            fields.add("int32_data");
        }
        if (t.getInt64DataCount() > 0) {
            fields.add("int64_data");
        }
        if (t.getDoubleDataCount() > 0) {
            fields.add("double_data");
        }
        if (t.getUint64DataCount() > 0) {
            fields.add("uint64_data");
        }
        if (t.getStringDataCount() > 0) {
            fields.add("string_data");
        }
        return fields;
    }

    private FileContent raw(OnnxFileScanner.RawData raw, String what, long nbytes) throws SourceFormatException {
        if (raw.length() != nbytes) {
            throw fail(raw.offset(), what + ": raw_data has " + raw.length() + " bytes, dims and data_type need " + nbytes);
        }
        // Inside the file: the scanner skipped exactly these bytes of it.
        return FileContent.range(model, raw.offset(), raw.length());
    }

    private FileContent typed(TensorProto t, OnnxDataType type, String what, long count, long nbytes, String field)
            throws SourceFormatException {
        if (!field.equals(type.field.protoName)) {
            throw fail(-1, what + ": " + type + " data is in " + field + "; ONNX keeps it in " + type.field.protoName);
        }
        int values = switch (type.field) {
            case FLOAT_DATA -> t.getFloatDataCount();
            case INT32_DATA -> t.getInt32DataCount();
            case INT64_DATA -> t.getInt64DataCount();
            case DOUBLE_DATA -> t.getDoubleDataCount();
            case UINT64_DATA -> t.getUint64DataCount();
        };
        if (values != count) {
            throw fail(-1, what + ": " + field + " has " + values + " values, dims need " + count);
        }
        if (nbytes > Integer.MAX_VALUE - 16) {
            throw fail(-1, what + ": " + nbytes + " bytes in " + field + " are too many to convert (store it as raw_data)");
        }
        ByteBuffer out = ByteBuffer.allocate((int) nbytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (type.field) {
            case FLOAT_DATA -> {
                for (int i = 0; i < values; i++) {
                    out.putInt(Float.floatToRawIntBits(t.getFloatData(i)));
                }
            }
            case DOUBLE_DATA -> {
                for (int i = 0; i < values; i++) {
                    out.putLong(Double.doubleToRawLongBits(t.getDoubleData(i)));
                }
            }
            case INT64_DATA -> {
                for (int i = 0; i < values; i++) {
                    out.putLong(t.getInt64Data(i));
                }
            }
            case UINT64_DATA -> {
                for (int i = 0; i < values; i++) {
                    long v = t.getUint64Data(i);
                    if (type.elementSize == 4) {
                        if (Long.compareUnsigned(v, type.max) > 0) {
                            throw fail(-1, what + ": uint64_data[" + i + "] = " + Long.toUnsignedString(v)
                                    + " is out of range for " + type);
                        }
                        out.putInt((int) v);
                    } else {
                        out.putLong(v);
                    }
                }
            }
            case INT32_DATA -> {
                for (int i = 0; i < values; i++) {
                    int v = t.getInt32Data(i);
                    // A value that does not fit would be silently cut by the narrowing below.
                    if (v < type.min || v > type.max) {
                        throw fail(-1, what + ": int32_data[" + i + "] = " + v + " is out of range for " + type
                                + " [" + type.min + ", " + type.max + "]");
                    }
                    switch (type.elementSize) {
                        case 1 -> out.put((byte) v);
                        case 2 -> out.putShort((short) v);
                        default -> out.putInt(v);
                    }
                }
            }
        }
        return new OnnxTensorContent(UnsafeByteOperations.unsafeWrap(out.array()),
                what + " converted from " + field + " (" + nbytes + " bytes in memory)");
    }

    private FileContent external(TensorProto t, String what, long nbytes) throws IOException {
        // checksum and keys added later do not change where the bytes are, so only these three are read.
        Map<String, String> keys = new HashMap<>();
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("location") || e.getKey().equals("offset") || e.getKey().equals("length")) {
                if (keys.putIfAbsent(e.getKey(), e.getValue()) != null) {
                    throw fail(-1, what + ": external_data has key '" + e.getKey() + "' twice");
                }
            }
        }
        String location = keys.get("location");
        String offsetText = keys.get("offset");
        String lengthText = keys.get("length");
        if (location == null || location.isEmpty()) {
            throw fail(-1, what + ": data_location is EXTERNAL but external_data has no 'location'");
        }
        Path file = resolveInside(location, what);
        long offset = offsetText == null ? 0 : parseCount(offsetText, what, "offset");
        if (lengthText != null) {
            long length = parseCount(lengthText, what, "length");
            if (length != nbytes) {
                throw fail(-1, what + ": external_data length " + length + ", dims and data_type need " + nbytes);
            }
        }
        if (!Files.isRegularFile(file)) {
            throw fail(-1, what + ": external data file '" + location + "' (" + file + ") does not exist or is not a regular file");
        }
        long size = Files.size(file);
        if (offset > size || nbytes > size - offset) {
            throw fail(-1, what + ": external data [" + offset + ", +" + nbytes + ") runs past the end of '"
                    + location + "' (" + size + " bytes)");
        }
        externalFiles.add(file);
        return FileContent.range(file, offset, nbytes);
    }

    /**
     * The external file, which must lie under the model's directory: an untrusted model must not make the
     * packager copy {@code /etc/shadow} or {@code ../../secret} into an image. Only the path's spelling is
     * checked; symbolic links inside the directory are followed, as a model directory laid out with links
     * (a Hugging Face cache snapshot) needs.
     */
    private Path resolveInside(String location, String what) throws SourceFormatException {
        Path rel;
        try {
            rel = Path.of(location);
        } catch (InvalidPathException e) {
            throw fail(-1, what + ": external_data location '" + location + "' is not a valid path");
        }
        if (rel.isAbsolute() || location.startsWith("/") || location.startsWith("\\")) {
            throw fail(-1, what + ": external_data location '" + location + "' is absolute; expected a path relative to the model");
        }
        for (Path part : rel) {
            if (part.toString().equals("..")) {
                throw fail(-1, what + ": external_data location '" + location + "' leaves the model's directory");
            }
        }
        Path file = modelDir.resolve(rel).normalize();
        if (file.equals(modelDir)) {
            throw fail(-1, what + ": external_data location '" + location + "' is the model's directory itself; expected a file inside it");
        }
        if (!file.startsWith(modelDir)) {
            throw fail(-1, what + ": external_data location '" + location + "' leaves the model's directory");
        }
        return file;
    }

    private long parseCount(String text, String what, String key) throws SourceFormatException {
        if (text.isEmpty() || text.length() > 19 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw fail(-1, what + ": external_data " + key + " '" + text + "' is not a non-negative integer");
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) { // 19 digits can still pass 2^63 - 1
            throw fail(-1, what + ": external_data " + key + " '" + text + "' is larger than any file (at most " + Long.MAX_VALUE + ")");
        }
    }

    private long multiply(long a, long b, String what) throws SourceFormatException {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw fail(-1, what + ": dims overflow a 64-bit byte count");
        }
    }

    private SourceFormatException fail(long offset, String message) {
        return new SourceFormatException(model, offset, message);
    }
}

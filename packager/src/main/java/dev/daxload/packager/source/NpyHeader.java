package dev.daxload.packager.source;

import dev.daxload.packager.source.PyLiteral.Bool;
import dev.daxload.packager.source.PyLiteral.Dict;
import dev.daxload.packager.source.PyLiteral.Int;
import dev.daxload.packager.source.PyLiteral.Str;
import dev.daxload.packager.source.PyLiteral.Tuple;
import dev.daxload.packager.source.PyLiteral.Value;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The header of one {@code .npy} array (a file, or a member of an {@code .npz}), checked against the
 * number of bytes that follow it.
 *
 * @param major format version: 1, 2 or 3
 * @param dataOffset where the array data starts, from the start of the {@code .npy} bytes
 * @param dtype the safetensors dtype name
 * @param itemSize bytes per element
 * @param swapUnit 1 when the data is little-endian (or single bytes); otherwise the unit to byte-swap
 * @param fortranOrder true if numpy stored the array column-major
 * @param shape dimensions, outermost first
 * @param dataLength bytes of array data: elements times {@code itemSize}
 */
record NpyHeader(int major, long dataOffset, String dtype, int itemSize, int swapUnit, boolean fortranOrder,
                 long[] shape, long dataLength) {

    /** numpy itself refuses headers over 10 000 bytes by default; this bound is generous but finite. */
    static final int MAX_HEADER = 1 << 20;
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("([<>|=]?)([a-zA-Z])(\\d+)");
    private static final Set<String> KEYS = Set.of("descr", "fortran_order", "shape");

    /** Makes the exception for a problem at {@code offset} from the start of the {@code .npy} bytes. */
    @FunctionalInterface
    interface Errors {
        SourceFormatException at(long offset, String message);
    }

    /** True if {@code prefix} starts with the {@code .npy} magic string. */
    static boolean hasMagic(byte[] prefix) {
        return prefix.length >= MAGIC.length && Arrays.equals(prefix, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
    }

    /**
     * Reads the header from {@code in}, which is positioned at the start of the {@code .npy} bytes, and
     * checks that exactly {@link #dataLength()} bytes follow it.
     *
     * @param available the number of {@code .npy} bytes (file size or member size)
     */
    static NpyHeader read(InputStream in, long available, Errors err) throws IOException {
        byte[] pre = readN(in, 8, available, 0, "magic and version", err);
        if (!hasMagic(pre)) {
            throw err.at(0, "not a .npy array: the magic string \\x93NUMPY is missing");
        }
        int major = pre[6] & 0xFF;
        int minor = pre[7] & 0xFF;
        if (major < 1 || major > 3 || minor != 0) {
            throw err.at(6, "unsupported .npy format version " + major + "." + minor + " (1.0, 2.0 and 3.0 are read)");
        }
        int lenBytes = major == 1 ? 2 : 4;
        byte[] lb = readN(in, lenBytes, available, 8, "header length", err);
        long hlen = 0;
        for (int i = lenBytes - 1; i >= 0; i--) {
            hlen = (hlen << 8) | (lb[i] & 0xFF);
        }
        long dataOffset = 8 + lenBytes + hlen;
        if (hlen > MAX_HEADER) {
            throw err.at(8, "header length " + hlen + " exceeds the " + MAX_HEADER + "-byte limit");
        }
        if (dataOffset > available) {
            throw err.at(8, "header length " + hlen + " runs past the end of the array bytes (" + available + ")");
        }
        byte[] hb = readN(in, (int) hlen, available, 8 + lenBytes, "header", err);
        String text;
        if (major == 3) {
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(hb)).toString();
            } catch (CharacterCodingException e) {
                throw err.at(8 + lenBytes, "version 3 header is not valid UTF-8");
            }
        } else {
            text = new String(hb, StandardCharsets.ISO_8859_1);
        }
        Value v;
        try {
            v = PyLiteral.parse(text);
        } catch (PyLiteral.SyntaxError e) {
            throw err.at(8 + lenBytes + e.index(), "header is not a valid Python literal: " + e.getMessage());
        }
        return interpret(v, major, dataOffset, available, err, 8 + lenBytes);
    }

    private static NpyHeader interpret(Value v, int major, long dataOffset, long available, Errors err, long at)
            throws SourceFormatException {
        if (!(v instanceof Dict(var entries))) {
            throw err.at(at, "header is not a dict");
        }
        if (!entries.keySet().equals(KEYS)) {
            Set<String> missing = new TreeSet<>(KEYS);
            missing.removeAll(entries.keySet());
            Set<String> extra = new TreeSet<>(entries.keySet());
            extra.removeAll(KEYS);
            throw err.at(at, "header keys must be exactly descr, fortran_order and shape (missing " + missing
                    + ", unexpected " + extra + ")");
        }
        if (!(entries.get("fortran_order") instanceof Bool(boolean fortran))) {
            throw err.at(at, "header field fortran_order is not True or False");
        }
        long[] shape = shape(entries.get("shape"), err, at);
        Value descr = entries.get("descr");
        if (descr instanceof PyLiteral.PyList(List<Value> fields)) {
            throw err.at(at, "structured dtype with " + fields.size() + " fields (descr " + render(descr)
                    + ") is not a tensor: it has no single element type; save each field as its own array");
        }
        if (!(descr instanceof Str(String d))) {
            throw err.at(at, "header field descr is neither a string nor a list of fields");
        }
        Matcher m = DESCR.matcher(d);
        if (!m.matches()) {
            if (d.equals("|O") || d.equals("O") || d.startsWith("|O") || d.startsWith("O")) {
                throw objectArray(err, at, d);
            }
            throw err.at(at, "unsupported dtype descr '" + d + "'");
        }
        char order = m.group(1).isEmpty() ? '|' : m.group(1).charAt(0);
        char kind = m.group(2).charAt(0);
        int size;
        try {
            size = Integer.parseInt(m.group(3));
        } catch (NumberFormatException e) {
            throw err.at(at, "unsupported dtype descr '" + d + "'");
        }
        String dtype = switch (kind) {
            case 'f' -> switch (size) {
                case 2 -> "F16";
                case 4 -> "F32";
                case 8 -> "F64";
                default -> null;
            };
            case 'i' -> switch (size) {
                case 1 -> "I8";
                case 2 -> "I16";
                case 4 -> "I32";
                case 8 -> "I64";
                default -> null;
            };
            case 'u' -> switch (size) {
                case 1 -> "U8";
                case 2 -> "U16";
                case 4 -> "U32";
                case 8 -> "U64";
                default -> null;
            };
            case 'b' -> size == 1 ? "BOOL" : null;
            case 'c' -> size == 8 ? "C64" : null;
            case 'O' -> throw objectArray(err, at, d);
            case 'V' -> throw err.at(at, "raw void dtype '" + d + "' (how ml_dtypes types such as bfloat16 are saved) "
                    + "has no known element type; convert the array to a standard dtype first");
            case 'U', 'S', 'a' -> throw err.at(at, "string dtype '" + d + "' is not a tensor");
            case 'M', 'm' -> throw err.at(at, "datetime dtype '" + d + "' is not supported");
            default -> null;
        };
        if (dtype == null) {
            throw err.at(at, "dtype '" + d + "' has no daxload equivalent (supported: f2 f4 f8 i1-i8 u1-u8 b1 c8)");
        }
        // complex numbers swap each float part on its own
        int unit = kind == 'c' ? size / 2 : size;
        int swap = order == '>' && size > 1 ? unit : 1;
        long length;
        try {
            length = Dtypes.byteLength(Dtypes.elementCount(shape), size * 8);
        } catch (ArithmeticException e) {
            throw err.at(at, "shape " + Arrays.toString(shape) + " of " + d + " overflows a 64-bit byte count");
        }
        long have = available - dataOffset;
        if (have != length) {
            throw err.at(dataOffset, "array data is " + have + " bytes but shape " + Arrays.toString(shape) + " of "
                    + d + " needs " + length + (have < length ? " (truncated?)" : " (trailing bytes)"));
        }
        return new NpyHeader(major, dataOffset, dtype, size, swap, fortran, shape, length);
    }

    private static SourceFormatException objectArray(Errors err, long at, String d) {
        return err.at(at, "object array (descr '" + d + "'): its data is a Python pickle, which daxload never loads");
    }

    private static long[] shape(Value v, Errors err, long at) throws SourceFormatException {
        if (!(v instanceof Tuple(List<Value> items))) {
            throw err.at(at, "header field shape is not a tuple of integers: " + render(v));
        }
        long[] shape = new long[items.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(items.get(i) instanceof Int(BigInteger n))) {
                throw err.at(at, "shape entry " + i + " is not an integer: " + render(items.get(i)));
            }
            if (n.signum() < 0 || n.bitLength() > 63) {
                throw err.at(at, "shape entry " + i + " = " + n + " is negative or too large");
            }
            shape[i] = n.longValueExact();
        }
        return shape;
    }

    private static String render(Value v) {
        String s = PyLiteral.render(v);
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    private static byte[] readN(InputStream in, int n, long available, long offset, String field, Errors err)
            throws IOException {
        if (offset + n > available) {
            throw err.at(offset, field + " needs " + n + " bytes but the array has only " + Math.max(0, available - offset)
                    + " left");
        }
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw err.at(offset + b.length, field + ": data ended early");
        }
        return b;
    }

    /** True if the C-order and Fortran-order layouts coincide: at most one axis longer than 1. */
    boolean layoutIsTrivial() {
        int big = 0;
        for (long d : shape) {
            if (d > 1) {
                big++;
            }
        }
        return big <= 1;
    }

    /** True if the bytes can be copied as they are. */
    boolean copyable() {
        return swapUnit == 1 && (!fortranOrder || layoutIsTrivial());
    }
}

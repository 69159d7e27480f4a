package dev.daxload.image;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * Names are bytes: an image, like the kernel, stores a file name as the bytes it was given, UTF-8 or
 * not. This class turns such bytes into Java strings and back without losing any.
 *
 * <p>A name that is valid UTF-8 becomes the string it spells. A byte that is not part of valid UTF-8
 * becomes the lone surrogate {@code U+DC80 + (byte - 0x80)} (the "surrogateescape" convention of
 * Python's {@code os.fsdecode}, PEP 383): valid UTF-8 never decodes to a lone surrogate, so
 * {@link #encode} gives back exactly the bytes {@link #decode} was given, and two different names
 * never share a string. Paths that hold such strings look up and compare like any other.
 */
public final class DaxNames {
    private static final char ESCAPE_BASE = '\uDC00';

    private DaxNames() {}

    /** The name's string: its UTF-8 reading, with each byte that is not valid UTF-8 escaped. */
    public static String decode(byte[] name) {
        if (isAscii(name)) {
            return new String(name, StandardCharsets.ISO_8859_1);
        }
        String plain = new String(name, StandardCharsets.UTF_8);
        if (plain.indexOf('\uFFFD') < 0) {
            return plain; // no replacement made: the bytes were valid UTF-8
        }
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(name);
        CharBuffer out = CharBuffer.allocate(name.length);
        while (true) {
            CoderResult r = utf8.decode(in, out, true);
            if (r.isUnderflow()) {
                break;
            }
            // Malformed (UTF-8 never reports unmappable): escape those bytes one by one and go on.
            for (int i = 0; i < r.length(); i++) {
                out.put((char) (ESCAPE_BASE + (in.get() & 0xff)));
            }
        }
        utf8.flush(out);
        return out.flip().toString();
    }

    /**
     * The bytes of a name or path made by {@link #decode} (or written by hand): UTF-8, with escaped
     * bytes given back as they were.
     *
     * @throws IllegalArgumentException if the string holds a lone surrogate that is no escaped byte
     */
    public static byte[] encode(String name) {
        int n = name.length();
        boolean plain = true;
        for (int i = 0; i < n; i++) {
            if (Character.isSurrogate(name.charAt(i))) {
                plain = false;
                break;
            }
        }
        if (plain) {
            return name.getBytes(StandardCharsets.UTF_8);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(n * 3);
        int start = 0;
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(name.charAt(i + 1))) {
                i++; // a pair: an ordinary supplementary character
                continue;
            }
            if (Character.isSurrogate(c)) {
                if (c < '\uDC80' || c > '\uDCFF') {
                    throw new IllegalArgumentException(String.format(
                            "name holds the lone surrogate U+%04X at index %d, which is no escaped byte (U+DC80..U+DCFF)", (int) c, i));
                }
                out.writeBytes(name.substring(start, i).getBytes(StandardCharsets.UTF_8));
                out.write(c - ESCAPE_BASE);
                start = i + 1;
            }
        }
        out.writeBytes(name.substring(start).getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    /** Whether the bytes are valid UTF-8 (a name whose string needs no escapes). */
    public static boolean isUtf8(byte[] name) {
        if (isAscii(name)) {
            return true;
        }
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(name));
            return true;
        } catch (java.nio.charset.CharacterCodingException e) {
            return false;
        }
    }

    /** The name's string where its bytes are valid UTF-8; empty where they are not. */
    public static Optional<String> utf8(byte[] name) {
        return isUtf8(name) ? Optional.of(new String(name, StandardCharsets.UTF_8)) : Optional.empty();
    }

    /**
     * The name as {@code ls -b} shows it: printable UTF-8 as is, a backslash doubled, and every other
     * byte (not UTF-8, control characters) as a backslash and three octal digits, so any name prints on
     * one line and can be told from every other.
     */
    public static String escape(byte[] name) {
        return escape(decode(name));
    }

    /** {@link #escape(byte[])} for a string made by {@link #decode}. */
    public static String escape(String decoded) {
        StringBuilder sb = null;
        int n = decoded.length();
        for (int i = 0; i < n; i++) {
            char c = decoded.charAt(i);
            boolean plain = c >= 0x20 && c != 0x7f && c != '\\' && !(c >= 0x80 && c < 0xa0) && !Character.isSurrogate(c);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(decoded.charAt(i + 1))) {
                if (sb != null) {
                    sb.append(c).append(decoded.charAt(i + 1));
                }
                i++;
                continue;
            }
            if (plain) {
                if (sb != null) {
                    sb.append(c);
                }
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder(n + 16).append(decoded, 0, i);
            }
            if (c == '\\') {
                sb.append("\\\\");
            } else {
                byte[] bytes = Character.isSurrogate(c) ? encode(String.valueOf(c)) : String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                for (byte b : bytes) {
                    sb.append('\\').append(Integer.toOctalString(01000 | (b & 0xff)).substring(1));
                }
            }
        }
        return sb == null ? decoded : sb.toString();
    }

    private static boolean isAscii(byte[] name) {
        for (byte b : name) {
            if (b < 0) {
                return false;
            }
        }
        return true;
    }
}

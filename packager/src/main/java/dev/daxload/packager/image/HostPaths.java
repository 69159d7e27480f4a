package dev.daxload.packager.image;

import dev.daxload.image.DaxNames;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Host paths as the bytes Linux holds. A {@link Path} keeps a name's bytes, but its string, and a path
 * made from a string, go through the JVM's file name encoding ({@code sun.jnu.encoding}): a name that
 * is not UTF-8 (or, in the C locale, any name that is not ASCII) comes out with replacement
 * characters. A {@code file:} URI carries the bytes exactly, percent-encoded, both ways, so names that
 * are not plain go through one.
 */
public final class HostPaths {
    /** Linux's PATH_MAX less the NUL: the longest path a path-based call accepts. */
    public static final int PATH_MAX = 4095;

    private static final boolean UTF8_NAMES =
            "UTF-8".equalsIgnoreCase(System.getProperty("sun.jnu.encoding", ""));

    private HostPaths() {}

    /** The bytes of {@code path}'s last name. */
    public static byte[] nameBytes(Path path) {
        Path name = path.getFileName();
        String s = name.toString();
        if (plain(s)) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        byte[] all = absoluteBytes(path);
        int slash = lastSlash(all);
        return java.util.Arrays.copyOfRange(all, slash + 1, all.length);
    }

    /** The bytes of {@code path} made absolute, as the kernel receives them. */
    public static byte[] absoluteBytes(Path path) {
        Path abs = path.toAbsolutePath();
        String s = abs.toString();
        if (plain(s)) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
        byte[] raw = percentDecode(abs.toUri().getRawPath());
        // toUri() adds a slash after an existing directory; the path itself has none.
        int n = raw.length;
        while (n > 1 && raw[n - 1] == '/') {
            n--;
        }
        return java.util.Arrays.copyOf(raw, n);
    }

    /** {@code dir} and the name {@code name} (bytes, no slash) under it. */
    public static Path resolve(Path dir, byte[] name) {
        if (UTF8_NAMES && DaxNames.isUtf8(name)) {
            String s = new String(name, StandardCharsets.UTF_8);
            if (s.indexOf('\uFFFD') < 0) {
                return dir.resolve(s);
            }
        }
        byte[] base = absoluteBytes(dir);
        ByteArrayOutputStream p = new ByteArrayOutputStream(base.length + name.length + 1);
        p.writeBytes(base);
        if (base[base.length - 1] != '/') {
            p.write('/');
        }
        p.writeBytes(name);
        return Path.of(URI.create("file://" + percentEncode(p.toByteArray())));
    }

    /** {@code dir} and the relative path {@code decoded} (names as {@link DaxNames#decode} gives them, slash separated). */
    public static Path resolve(Path dir, String decoded) {
        Path out = dir;
        for (String part : decoded.split("/")) {
            if (!part.isEmpty()) {
                out = resolve(out, DaxNames.encode(part));
            }
        }
        return out;
    }

    /** A path for messages: its bytes, escaped as {@code ls -b} would. */
    public static String display(Path path) {
        String s = path.toString();
        return plain(s) ? s : DaxNames.escape(absoluteBytes(path));
    }

    /** Whether the JVM's string of a path is its exact UTF-8 bytes. */
    private static boolean plain(String s) {
        if (!UTF8_NAMES) {
            for (int i = 0; i < s.length(); i++) {
                if (s.charAt(i) >= 0x80) {
                    return false;
                }
            }
            return true;
        }
        return s.indexOf('\uFFFD') < 0;
    }

    private static int lastSlash(byte[] b) {
        for (int i = b.length - 1; i >= 0; i--) {
            if (b[i] == '/') {
                return i;
            }
        }
        return -1;
    }

    private static String percentEncode(byte[] path) {
        StringBuilder sb = new StringBuilder(path.length * 3);
        for (byte b : path) {
            int c = b & 0xff;
            if (c == '/' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
                sb.append((char) c);
            } else {
                sb.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return sb.toString();
    }

    private static byte[] percentDecode(String raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%' && i + 2 < raw.length()) {
                out.write(Integer.parseInt(raw, i + 1, i + 3, 16));
                i += 2;
            } else {
                // toUri() escapes every byte outside ASCII, so what is left is one byte per char.
                out.write(c);
            }
        }
        return out.toByteArray();
    }
}

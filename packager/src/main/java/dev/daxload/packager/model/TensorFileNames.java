package dev.daxload.packager.model;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * File names for tensors. Most tensor names are valid file names and are used as they are; the rest
 * (a {@code /}, a NUL, {@code .} or {@code ..}, more than 255 bytes) are encoded so that distinct names
 * never share a file: {@code %}, {@code /} and NUL become {@code %25}, {@code %2F}, {@code %00}; a
 * name still too long keeps a readable prefix and gains {@code ~} and 32 hex digits of its SHA-256.
 * The manifest keeps the real name, so the encoding never has to be undone.
 */
public final class TensorFileNames {
    private static final int NAME_MAX = 255;

    private TensorFileNames() {}

    public static String encode(String tensorName) {
        if (tensorName.equals(".") || tensorName.equals("..")) {
            return tensorName.replace(".", "%2E");
        }
        StringBuilder sb = new StringBuilder(tensorName.length());
        for (int i = 0; i < tensorName.length(); i++) {
            char c = tensorName.charAt(i);
            switch (c) {
                case '%' -> sb.append("%25");
                case '/' -> sb.append("%2F");
                case '\0' -> sb.append("%00");
                default -> sb.append(c);
            }
        }
        String encoded = sb.toString();
        byte[] utf8 = encoded.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= NAME_MAX && !encoded.isEmpty()) {
            return encoded;
        }
        String hash = "~" + sha256(tensorName).substring(0, 32);
        int budget = NAME_MAX - hash.length();
        // Cut on a character boundary, never inside a UTF-8 sequence or a %XX escape.
        int end = 0;
        int bytes = 0;
        while (end < encoded.length()) {
            int cp = encoded.codePointAt(end);
            int len = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + len > budget) {
                break;
            }
            bytes += len;
            end += Character.charCount(cp);
        }
        int pct = encoded.lastIndexOf('%', end - 1);
        if (pct >= 0 && pct > end - 3) {
            end = pct;
        }
        return encoded.substring(0, end) + hash;
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}

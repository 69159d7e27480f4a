package dev.daxload.registry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/** OCI content digests: only {@code sha256:<64 lower-case hex>} is made or accepted. */
public final class Digests {
    private static final Pattern SHA256 = Pattern.compile("sha256:[a-f0-9]{64}");

    private Digests() {
    }

    static void check(String digest, String where) {
        if (!SHA256.matcher(digest).matches()) {
            throw new IllegalArgumentException(where + ": digest '" + digest + "' is not sha256:<64 lower-case hex digits>");
        }
    }

    /** A fresh SHA-256 hasher. */
    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** {@code finished}'s digest as an OCI digest string ({@code sha256:<hex>}); the hasher is reset. */
    public static String of(MessageDigest finished) {
        return "sha256:" + HexFormat.of().formatHex(finished.digest());
    }

    /** Feeds every byte of {@code source} to {@code md}, from position 0, in 1 MiB reads. */
    static MessageDigest update(MessageDigest md, BlobSource source) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long pos = 0;
        while (pos < source.size()) {
            buf.clear().limit((int) Math.min(buf.capacity(), source.size() - pos));
            int n = source.read(buf, pos);
            if (n < 0) {
                throw new IOException("ended at byte " + pos + " of " + source.size() + " while hashing it");
            }
            buf.flip();
            md.update(buf);
            pos += n;
        }
        return md;
    }

    /** The OCI digest of {@code content}. */
    public static String of(byte[] content) {
        MessageDigest md = sha256();
        md.update(content);
        return of(md);
    }
}

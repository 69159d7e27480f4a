package dev.daxload.packager.source;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** A little-endian byte builder for hand-made (often hostile) test files. */
final class Le {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Le u8(int v) {
        out.write(v);
        return this;
    }

    Le u16(int v) {
        return u8(v).u8(v >>> 8);
    }

    Le u32(long v) {
        return u16((int) v).u16((int) (v >>> 16));
    }

    Le u64(long v) {
        return u32(v).u32(v >>> 32);
    }

    Le f32(float v) {
        return u32(Float.floatToRawIntBits(v));
    }

    Le f64(double v) {
        return u64(Double.doubleToRawLongBits(v));
    }

    Le bytes(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    Le ascii(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A GGUF string: u64 length, then UTF-8 bytes. */
    Le str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u64(b.length).bytes(b);
    }

    Le zeros(int n) {
        return bytes(new byte[n]);
    }

    /** Pads with zeros to a multiple of {@code a}. */
    Le align(int a) {
        while (out.size() % a != 0) {
            out.write(0);
        }
        return this;
    }

    int size() {
        return out.size();
    }

    byte[] toBytes() {
        return out.toByteArray();
    }

    Path write(Path file) throws IOException {
        Files.write(file, out.toByteArray());
        return file;
    }
}

package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.image.DaxImage;
import dev.daxload.image.DaxInode;
import dev.daxload.image.internal.ImageValidator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmokeRoundTripTest {
    @TempDir Path tmp;

    @Test
    void packsAndReadsBackASmallTree() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("hello.txt"), "hello");
        Files.createDirectories(src.resolve("sub/deeper"));
        Files.write(src.resolve("sub/deeper/four-k"), new byte[4096]);
        Files.createSymbolicLink(src.resolve("link"), Path.of("sub/deeper/four-k"));
        Files.createLink(src.resolve("sub/hard"), src.resolve("hello.txt"));
        Files.createFile(src.resolve("empty"));

        Path img = tmp.resolve("out.daxfs");
        new ImageWriter().write(new TreeScanner(w -> {}).scan(src), img);

        try (DaxImage image = DaxImage.open(img)) {
            var result = ImageValidator.validate(image.segment());
            assertTrue(result.sound(), () -> result.problems().toString());
            assertEquals("hello", new String(image.content("hello.txt").toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            assertEquals(4096, image.content("link").byteSize());
            DaxInode a = image.lookup("hello.txt").orElseThrow();
            DaxInode b = image.lookup("/sub/hard").orElseThrow();
            assertEquals(a.ino(), b.ino());
            assertEquals(2, a.nlink());
            assertEquals(0, image.content("empty").byteSize());
            assertEquals(3, image.root().nlink()); // 2 + one subdirectory
        }
    }
}

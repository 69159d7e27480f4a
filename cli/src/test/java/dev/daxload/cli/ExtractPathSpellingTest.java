package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.daxload.cli.DaxloadCliTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 13.9: {@code extract --path} resolves any spelling of a directory like the kernel, or refuses. */
class ExtractPathSpellingTest {
    @TempDir Path tmp;
    Path image;

    @BeforeEach
    void pack() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/d1/sub"));
        Files.writeString(src.getParent().resolve("a.txt"), "alpha");
        Files.writeString(src.resolve("b.txt"), "beta");
        Files.writeString(tmp.resolve("src/top.txt"), "top");
        Files.createSymbolicLink(tmp.resolve("src/link"), Path.of("d1"));
        image = tmp.resolve("img.daxfs");
        assertEquals(0, DaxloadCliTest.run("pack", tmp.resolve("src").toString(), "-o", image.toString(), "-q").code());
    }

    @Test
    void everySpellingOfD1ExtractsD1() throws Exception {
        String[] spellings = {"d1", "/d1/", "d1/../d1", "./d1/.", "link", "link/", "d1/sub/..", "/../d1"};
        for (int i = 0; i < spellings.length; i++) {
            Path out = tmp.resolve("out" + i);
            Run r = DaxloadCliTest.run("extract", image.toString(), out.toString(), "--path", spellings[i]);
            assertEquals(0, r.code(), spellings[i] + ": " + r.err());
            assertEquals("alpha", Files.readString(out.resolve("a.txt")), spellings[i]);
            assertEquals("beta", Files.readString(out.resolve("sub/b.txt")), spellings[i]);
            assertFalse(Files.exists(out.resolve("top.txt")), spellings[i]);
        }
    }

    @Test
    void dotDotAtTheTopIsTheRoot() throws Exception {
        Path out = tmp.resolve("all");
        Run r = DaxloadCliTest.run("extract", image.toString(), out.toString(), "--path", "..");
        assertEquals(0, r.code(), r.err());
        assertEquals("top", Files.readString(out.resolve("top.txt")));
        assertEquals("beta", Files.readString(out.resolve("d1/sub/b.txt")));
    }

    @Test
    void aMissingPathOrAFileIsRefusedAndWritesNothing() throws Exception {
        for (String p : new String[] {"nope", "d1/../nope", "top.txt", "d1/a.txt/.."}) {
            Path out = tmp.resolve("none-" + p.replace('/', '_'));
            Run r = DaxloadCliTest.run("extract", image.toString(), out.toString(), "--path", p);
            assertEquals(1, r.code(), p + ": " + r.out() + r.err());
            assertFalse(r.err().contains("extracted"), r.err());
            assertFalse(Files.exists(out), p + ": nothing is created for a refused path");
        }
    }
}

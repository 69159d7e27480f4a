package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Issue 13.7: a manifest's side file must name something below files/, never files/ itself or above it. */
class SideFilesTest {
    @Test
    void onlyPlainPathsBelowTheDirectoryAreSideFiles() {
        for (String ok : new String[] {"tokenizer.json", "a/b.txt", "..hidden", "x.."}) {
            assertTrue(SideFiles.plainRelative(ok), ok);
        }
        for (String bad : new String[] {"", ".", "..", "a/.", "a/..", "./a", "a//b", "/etc/passwd", "a/", "a/../../b"}) {
            assertFalse(SideFiles.plainRelative(bad), bad);
        }
    }
}

package dev.daxload.registry;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal of a pull with several streams: what it says survives a reopen, and it never describes another blob. */
class RangeJournalTest {
    static final String DIGEST = "sha256:" + "ab".repeat(32);
    static final String OTHER = "sha256:" + "cd".repeat(32);

    @TempDir
    Path dir;

    @Test
    void aPrefixLeftByOneStreamBecomesChunksAndWritesSurviveAReopen() throws Exception {
        Path p = dir.resolve("j");
        try (RangeJournal j = RangeJournal.open(p, DIGEST, 100, 30, 45)) {
            assertEquals(4, j.chunks());
            assertEquals(30, j.reached(0));
            assertEquals(45, j.reached(1));
            assertEquals(60, j.reached(2));
            assertEquals(100, j.end(3));
            assertEquals(45, j.contiguous());
            assertEquals(45, j.present());
            j.wrote(60, 70);
            j.wrote(90, 100);
            assertEquals(45, j.contiguous(), "a gap at 45-60 stops the gap-free end");
            assertEquals(65, j.present());
        }
        try (RangeJournal j = RangeJournal.open(p, DIGEST, 100, 999, 0)) {
            assertEquals(30, j.end(0), "the journal's own chunks, not the ones asked for now");
            assertEquals(45, j.reached(1));
            assertEquals(70, j.reached(2));
            assertEquals(100, j.reached(3));
            j.wrote(45, 60);
            assertEquals(70, j.contiguous());
            j.wrote(70, 90);
            assertEquals(100, j.contiguous());
            assertEquals(100, j.present());
            assertEquals(100, j.claimedEnd());
        }
    }

    @Test
    void oneSequentialWriteAcrossChunksAdvancesEach() throws Exception {
        try (RangeJournal j = RangeJournal.open(dir.resolve("j"), DIGEST, 100, 30, 0)) {
            assertEquals(0, j.claimedEnd());
            j.wrote(0, 75);
            assertEquals(75, j.claimedEnd());
            assertEquals(30, j.reached(0));
            assertEquals(60, j.reached(1));
            assertEquals(75, j.reached(2));
            assertEquals(75, j.contiguous());
            j.restart();
            assertEquals(0, j.present());
        }
    }

    @Test
    void aJournalOfAnotherBlobOrOneThatClaimsTooMuchIsNotBelieved() throws Exception {
        Path p = dir.resolve("j");
        try (RangeJournal j = RangeJournal.open(p, DIGEST, 100, 30, 0)) {
            j.wrote(0, 50);
        }
        try (RangeJournal other = RangeJournal.open(p, OTHER, 100, 30, 0)) {
            assertEquals(0, other.present(), "another digest: started again");
            other.wrote(0, 50);
        }
        try (RangeJournal resized = RangeJournal.open(p, OTHER, 101, 30, 0)) {
            assertEquals(0, resized.present(), "another size: started again");
            resized.wrote(0, 50);
        }
        // a slot past its chunk's end
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(f.length() - 8);
            f.write(new byte[] {(byte) 200, 0, 0, 0, 0, 0, 0, 0});
        }
        try (RangeJournal j = RangeJournal.open(p, OTHER, 101, 30, 0)) {
            assertEquals(0, j.present());
        }
        Files.writeString(p, "not a journal");
        try (RangeJournal j = RangeJournal.open(p, OTHER, 101, 30, 0)) {
            assertEquals(0, j.present());
        }
    }
}

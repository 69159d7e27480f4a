package dev.daxload.packager.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The choice between large and small writes follows the measured costs, and keeps probing the other size. */
class WriteSizeTest {
    /** Runs {@code n} chunks with the given costs in ns per byte; returns how many went to LARGE. */
    private static int run(WriteSize w, int n, double largeCost, double smallCost) {
        int large = 0;
        for (int i = 0; i < n; i++) {
            int size = w.next();
            if (size == WriteSize.LARGE) {
                large++;
            }
            w.took(size, WriteSize.LARGE, (long) (WriteSize.LARGE * (size == WriteSize.LARGE ? largeCost : smallCost)));
        }
        return large;
    }

    @Test
    void startsLargeTriesSmallOnceAndKeepsTheCheaper() {
        WriteSize w = new WriteSize();
        assertEquals(WriteSize.LARGE, w.next());
        w.took(WriteSize.LARGE, WriteSize.LARGE, WriteSize.LARGE / 4); // 0.25 ns a byte
        assertEquals(WriteSize.SMALL, w.next(), "the other size is measured once");
        w.took(WriteSize.SMALL, WriteSize.LARGE, WriteSize.LARGE / 2);
        int large = run(w, 160, 0.25, 0.5);
        assertEquals(160 - 160 / WriteSize.PROBE_EVERY, large, "large writes, small ones only as probes");
    }

    @Test
    void switchesWhenLargeWritesTurnExpensiveAndBack() {
        WriteSize w = new WriteSize();
        run(w, 64, 0.25, 0.5);
        // large folios start to fault on the host: large writes cost three times as much
        run(w, 2 * WriteSize.PROBE_EVERY, 1.5, 0.5);
        int large = run(w, 160, 1.5, 0.5);
        assertEquals(160 / WriteSize.PROBE_EVERY, large, "small writes, large ones only as probes");
        run(w, 4 * WriteSize.PROBE_EVERY, 0.25, 0.5);
        assertTrue(run(w, 160, 0.25, 0.5) > 140, "back to large writes once they are cheap again");
    }
}

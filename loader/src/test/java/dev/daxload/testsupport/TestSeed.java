package dev.daxload.testsupport;

import java.security.SecureRandom;

/**
 * The seed of a randomized test: new on every run, so that runs explore different inputs, printed, so
 * that a failure can be replayed with {@code -Dtests.seed=N} (Lucene's convention).
 */
public final class TestSeed {
    private TestSeed() {}

    /**
     * {@code -Dtests.seed}, else {@code -D<legacy>} (the test's older property), else a fresh random seed;
     * printed to standard output with the replay flag.
     *
     * @param test what the seed drives, for the printed line
     * @param legacy the test's own older property name, or null
     */
    public static long of(String test, String legacy) {
        Long given = Long.getLong("tests.seed");
        if (given == null && legacy != null) {
            given = Long.getLong(legacy);
        }
        long seed = given != null ? given : new SecureRandom().nextLong();
        System.out.printf("%s: tests.seed=%d (%s; replay with -Dtests.seed=%d)%n", test, seed, given != null ? "given" : "new this run", seed);
        return seed;
    }
}

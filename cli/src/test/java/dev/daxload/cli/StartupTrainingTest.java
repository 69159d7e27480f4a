package dev.daxload.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The launcher's training run must keep working as the commands change, or the archive is never made. */
class StartupTrainingTest {
    @Test
    void everyTrainingCommandSucceeds() throws Exception {
        assertEquals(0, StartupTraining.train(), "training commands that failed are named on stderr");
    }
}

package dev.daxload.cli;

import dev.daxload.packager.image.ProgressListener;
import java.io.PrintStream;

/**
 * A one-line progress bar on standard error, drawn only when standard error is a terminal, so logs
 * and pipes stay clean. Redrawn at most ten times a second.
 */
final class ProgressBar implements ProgressListener, AutoCloseable {
    private final PrintStream out;
    private final String label;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    ProgressBar(String label, boolean quiet) {
        this.out = System.err;
        this.label = label;
        this.enabled = !quiet && System.console() != null && System.console().isTerminal();
    }

    @Override
    public synchronized void progress(long done, long total) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L) {
            return;
        }
        lastDraw = now;
        double frac = total == 0 ? 1 : (double) done / total;
        int width = 30;
        int filled = (int) Math.round(frac * width);
        double secs = Math.max(1e-9, (now - start) / 1e9);
        out.printf("\r%s [%s%s] %3d%% %s/%s %s/s ", label, "#".repeat(filled), " ".repeat(width - filled),
                (int) (frac * 100), Sizes.human(done), Sizes.human(total), Sizes.human((long) (done / secs)));
        out.flush();
        drawn = true;
    }

    @Override
    public synchronized void close() {
        if (drawn) {
            out.println();
        }
    }
}

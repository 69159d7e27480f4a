package dev.daxload.registry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Flushes a file being written to the disk while more of it arrives, so that the final {@code fsync} of a pull has
 * little left to do: after every {@link #STRIDE} bytes written, one {@code fdatasync} runs on a thread of its own
 * (never two at once). A failure is reported by {@link #finish}.
 */
final class WriteBehind {
    static final long STRIDE = 256L << 20;

    private final FileChannel file;
    private long flushedUpTo;
    private CompletableFuture<Void> running = CompletableFuture.completedFuture(null);

    WriteBehind(FileChannel file, long alreadyWritten) {
        this.file = file;
        this.flushedUpTo = alreadyWritten;
    }

    /** Called with the bytes written so far; starts a flush when a stride more is written and none runs. */
    void written(long position) {
        if (position - flushedUpTo >= STRIDE && running.isDone()) {
            flushedUpTo = position;
            running = CompletableFuture.runAsync(() -> {
                try {
                    file.force(false);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, Thread.ofVirtual()::start);
        }
    }

    /** Waits for the flush in flight, rethrowing what it failed with. */
    void finish() throws IOException {
        try {
            running.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while flushing", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() instanceof UncheckedIOException u ? u.getCause() : e.getCause();
            throw c instanceof IOException io ? io : new IOException(c);
        }
    }
}

package dev.daxload.registry;

import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The missing chunks of a blob ({@link RangeJournal}) fetched with up to {@code streams} ranged GETs at once, each
 * written at its offset of the partial file, while a {@link PrefixHasher} hashes the part written without a gap.
 * Workers take the lowest chunk not yet taken, so the gap-free end trails the fastest stream by a few chunks and the
 * hash keeps up with the transfer. A broken stream is resumed from the last byte of its chunk written (a bounded
 * number of breaks in a row); a registry that answers a range with the whole blob gets one stream from byte 0.
 */
final class BlobDownload {
    private static final Logger LOG = LoggerFactory.getLogger(BlobDownload.class);
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    /** Stream failures in a row (each resumed from the last byte written) before a pull gives up. */
    static final int STREAM_ATTEMPTS = 5;

    /** A failure after which the partial file is worth keeping for the next pull (disk full, link down). */
    static final class Kept extends RegistryException {
        Kept(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The registry answered a range with the whole blob. */
    private static final class RangesIgnored extends IOException {
        RangesIgnored() {
            super("the registry ignored a Range header");
        }
    }

    /** What a download did: the digest of the whole blob and how many bytes this run received. */
    record Outcome(String digest, long received) {
    }

    private final RegistryClient client;
    private final String repository;
    private final String digest;
    private final long size;
    private final Path partial;
    private final FileChannel out;
    private final RangeJournal journal;
    private final String what;
    private final Progress progress;
    private final WriteBehind flusher;
    private final PrefixHasher hasher;
    private final AtomicLong received = new AtomicLong();
    private final AtomicInteger breaks = new AtomicInteger();
    private final java.util.Set<InputStream> open = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean aborted;

    BlobDownload(RegistryClient client, String repository, String digest, long size, Path partial, FileChannel out,
                 RangeJournal journal,
                 String what, Progress progress, WriteBehind flusher) {
        this.client = client;
        this.repository = repository;
        this.digest = digest;
        this.size = size;
        this.partial = partial;
        this.out = out;
        this.journal = journal;
        this.what = what;
        this.progress = progress;
        this.flusher = flusher;
        this.hasher = new PrefixHasher(out, size, journal::contiguous);
    }

    /**
     * Fetches what is missing with up to {@code streams} GETs at once and returns the digest of every byte.
     *
     * @throws Kept when the partial file is worth keeping (disk full, too many breaks)
     * @throws RegistryException when the registry broke the protocol (what it sent is not worth keeping)
     */
    Outcome run(int streams) throws IOException {
        hasher.start();
        boolean done = false;
        try {
            try {
                parallel(streams);
            } catch (RangesIgnored e) {
                LOG.info("{}: the registry ignored a range; fetching the blob in one stream from byte 0", what);
                aborted = false; // every stream of the parallel attempt has ended
                journal.restart();
                whole();
            }
            done = true;
        } finally {
            if (!done) {
                hasher.stop();
            }
        }
        String got = hasher.finish();
        flusher.written(size);
        return new Outcome(got, received.get());
    }

    private void parallel(int streams) throws IOException {
        List<Integer> todo = new ArrayList<>();
        for (int k = 0; k < journal.chunks(); k++) {
            if (journal.reached(k) < journal.end(k)) {
                todo.add(k);
            }
        }
        int workers = Math.max(1, Math.min(streams, todo.size()));
        if (todo.isEmpty()) {
            return;
        }
        AtomicInteger next = new AtomicInteger();
        AtomicInteger id = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(workers,
                r -> Thread.ofPlatform().name("daxload-pull-" + id.incrementAndGet()).daemon().unstarted(r));
        List<Future<Void>> futures = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            futures.add(pool.submit(() -> {
                int k;
                while (!aborted && (k = next.getAndIncrement()) < todo.size()) {
                    chunk(todo.get(k));
                }
                return null;
            }));
        }
        pool.shutdown();
        IOException first = null;
        for (Future<Void> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                first = first == null ? new IOException(what + ": interrupted", e) : first;
                abort();
            } catch (ExecutionException e) {
                IOException failure = e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
                if (rank(failure) > rank(first)) {
                    first = failure;
                }
                abort();
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Which failure a pull reports when several streams fail: the registry breaking the protocol, else why the partial
     * file is kept, else whatever the other streams saw as they were stopped.
     */
    private static int rank(IOException e) {
        if (e == null) {
            return 0;
        }
        return e instanceof Kept ? 2 : e instanceof RegistryException || e instanceof RangesIgnored ? 3 : 1;
    }

    /**
     * Stops every stream: their answers are closed, which ends a blocked read. (Not by interrupting the threads: an
     * interrupt in a file write closes the FileChannel for every thread.)
     */
    private void abort() {
        aborted = true;
        for (InputStream in : open) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the stream is being abandoned either way
            }
        }
    }

    /** One chunk to its end, its breaks resumed from the last byte written. */
    private void chunk(int k) throws IOException {
        while (!aborted && journal.reached(k) < journal.end(k)) {
            long before = journal.reached(k);
            try {
                stream(before, journal.end(k), false);
            } catch (RegistryException | RangesIgnored e) {
                throw e;
            } catch (IOException e) {
                handleBreak(e, journal.reached(k) > before);
            }
        }
    }

    /** The whole blob in one stream, for a registry that does not serve ranges. */
    private void whole() throws IOException {
        while (journal.contiguous() < size) {
            long before = journal.contiguous();
            try {
                stream(before, size, true);
            } catch (RangesIgnored e) {
                journal.restart();
            } catch (RegistryException e) {
                throw e;
            } catch (IOException e) {
                handleBreak(e, journal.contiguous() > before);
            }
        }
    }

    private void handleBreak(IOException e, boolean madeProgress) throws IOException {
        if (aborted || Thread.currentThread().isInterrupted()) {
            throw e;
        }
        if (isDiskFull(e)) {
            long present = journal.present();
            throw new Kept(what + ": " + partial.getParent() + " is full with " + present + " of " + size
                    + " bytes received; they are kept in " + partial + " for the next pull (delete it"
                    + (journal.path().isPresent() ? " and " + journal.path().get().getFileName() : "") + " to free the space)", e);
        }
        int n = madeProgress ? breaks.updateAndGet(b -> 1) : breaks.incrementAndGet();
        if (n >= STREAM_ATTEMPTS) {
            throw new Kept(what + ": the transfer broke " + n + " times in a row, last with " + journal.present() + " of "
                    + size + " bytes present (" + e.getMessage() + "); pull again to resume", e);
        }
        LOG.warn("{}: transfer broke with {} of {} bytes present ({}), resuming", what, journal.present(), size, e.toString());
    }

    /**
     * Streams bytes {@code from} to {@code to} (exclusive) into the file at their offsets. A range answered with the
     * whole blob is {@link RangesIgnored} unless the whole blob was asked for; a range or a blob that goes past what
     * was asked or declared is refused.
     */
    private void stream(long from, long to, boolean sequential) throws IOException {
        HttpResponse<InputStream> r = client.openBlob(repository, digest, from, to == size && (from == 0 || sequential) ? -1 : to);
        long pos = from;
        InputStream body = r.body();
        open.add(body);
        if (aborted) {
            body.close();
        }
        try (InputStream in = body) {
            if (r.statusCode() == 206) {
                String range = r.headers().firstValue("Content-Range").orElse("");
                Matcher m = CONTENT_RANGE.matcher(range);
                if (!m.matches() || Long.parseLong(m.group(1)) != from) {
                    throw new RegistryException(what + ": asked for bytes from " + from + ", the registry sent range '" + range + "'");
                }
                if (!m.group(3).equals("*") && Long.parseLong(m.group(3)) > size) {
                    throw new RegistryException(what + ": the registry's blob has " + m.group(3) + " bytes, more than the " + size
                            + " bytes the manifest declares; nothing written past them");
                }
            } else if (from > 0 || to < size) {
                throw new RangesIgnored();
            }
            byte[] buffer = new byte[1 << 20];
            ByteBuffer buf = ByteBuffer.wrap(buffer);
            while (true) {
                int n = in.readNBytes(buffer, 0, buffer.length);
                if (n <= 0) {
                    break;
                }
                if (pos + n > to) {
                    throw new RegistryException(what + (to == size ? ": the registry sent more than the " + size
                            + " bytes the manifest declares; nothing written past them"
                            : ": the registry sent more than the range " + from + "-" + (to - 1) + " asked for"));
                }
                hasher.offer(pos, buffer, n);
                buf.clear().limit(n);
                while (buf.hasRemaining()) {
                    out.write(buf, pos + buf.position());
                }
                journal.wrote(pos, pos + n);
                pos += n;
                received.addAndGet(n);
                hasher.poke();
                long present = journal.present();
                synchronized (this) {
                    flusher.written(hasher.hashed());
                    progress.bytes(present, size);
                }
                if (n < buffer.length) {
                    break;
                }
            }
        } finally {
            open.remove(body);
        }
        if (pos < to) {
            throw new IOException("the answer ended at byte " + pos + " of the range " + from + "-" + (to - 1));
        }
    }

    private static boolean isDiskFull(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("No space left") || m.contains("Disk quota");
    }
}

package dev.daxload.model;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
import dev.daxload.manifest.internal.ManifestPrefetch;
import dev.daxload.manifest.ModelCatalog;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.manifest.TensorEntry;
import dev.daxload.table.LookupTable;
import dev.daxload.tensor.TensorView;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The weights of one model of an image, as views: opening reads the manifest and nothing of the
 * weights, so it costs the same for any model size.
 *
 * <pre>{@code
 * try (ModelWeights w = ModelWeights.open(Path.of("models.daxfs"), "minilm")) {
 *     TensorView q = w.tensor("encoder.layer.0.attention.self.query.weight");
 *     w.verifyInBackground();  // CRC32C of every tensor on another thread
 * }
 * }</pre>
 */
public final class ModelWeights implements AutoCloseable {
    private final DaxImage image;
    private final boolean ownsImage;
    private final ModelManifest manifest;
    private final Map<String, TensorView> tensors;
    private final List<Thread> checkers = new ArrayList<>(); // guarded by itself
    private volatile boolean closed;
    private volatile String failure; // why the weights may not be used any more, once a check failed

    private ModelWeights(DaxImage image, boolean ownsImage, ModelManifest manifest) {
        this.image = image;
        this.ownsImage = ownsImage;
        this.manifest = manifest;
        Map<String, TensorView> views = new LinkedHashMap<>();
        for (TensorEntry t : manifest.tensors()) {
            views.put(t.name(), new TensorView(t, image.segment().asSlice(t.offset(), t.length()), image, this::ensureUsable));
        }
        this.tensors = Collections.unmodifiableMap(views);
    }

    /**
     * Maps {@code imageFile} copy-on-write (a write through a view stays private to this process) and
     * opens {@code model}. Closing the weights unmaps the image.
     */
    public static ModelWeights open(Path imageFile, String model) throws IOException {
        return open(imageFile, model, MapOptions.copyOnWrite());
    }

    public static ModelWeights open(Path imageFile, String model, MapOptions options) throws IOException {
        // The manifest is read and parsed on another thread while the image is mapped and validated here
        // (in a fresh JVM the two cost about the same); its result is used only if it matches the validated image.
        ManifestPrefetch prefetch = ManifestPrefetch.start(imageFile, model);
        DaxImage image = DaxImage.open(imageFile, options);
        try {
            return new ModelWeights(image, true, ModelCatalog.load(image, model, prefetch));
        } catch (IOException | RuntimeException e) {
            image.close();
            throw e;
        }
    }

    /** Opens {@code model} of an image the caller keeps open (and closes). */
    public static ModelWeights of(DaxImage image, String model) throws IOException {
        return new ModelWeights(image, false, ModelCatalog.load(image, model));
    }

    public DaxImage image() {
        return image;
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public String name() {
        return manifest.name();
    }

    /**
     * Every tensor, by name, in manifest order.
     *
     * @throws CorruptWeightsException if a check found a tensor whose bytes do not match its checksum
     */
    public Map<String, TensorView> tensors() {
        ensureUsable();
        return tensors;
    }

    /**
     * Throws if a checksum check ({@link #verify()} or {@link #verifyInBackground}) found a tensor
     * whose bytes do not match the manifest: weights that failed a check are not served.
     *
     * @throws CorruptWeightsException naming the first bad tensor
     */
    public void ensureUsable() {
        String why = failure;
        if (why != null) {
            throw new CorruptWeightsException("model '" + name() + "' in " + image.source() + " may not be used: " + why);
        }
    }

    /** True until a checksum check finds a tensor whose bytes do not match the manifest. */
    public boolean usable() {
        return failure == null;
    }

    private void fail(List<String> bad) {
        if (!bad.isEmpty() && failure == null) {
            failure = bad.size() + (bad.size() == 1 ? " tensor fails" : " tensors fail") + " its checksum; first: " + bad.get(0);
        }
    }

    /** The tensor named {@code name}; {@link IllegalArgumentException} naming the model if absent. */
    public TensorView tensor(String name) {
        ensureUsable();
        TensorView v = tensors.get(name);
        if (v == null) {
            throw new IllegalArgumentException("model '" + name() + "' has no tensor '" + name + "'");
        }
        return v;
    }

    /**
     * A lookup table of this model, answered in place from the image (see {@link LookupTable}).
     *
     * @param tableName the table's name, as in the manifest's {@code tables/<name>}
     */
    public LookupTable table(String tableName) throws IOException {
        ensureUsable();
        if (!manifest.tables().contains("tables/" + tableName)) {
            throw new IllegalArgumentException("model '" + name() + "' has no table '" + tableName + "'; tables: " + manifest.tables());
        }
        return LookupTable.open(image, name() + "/tables/" + tableName);
    }

    /**
     * Checks every tensor's CRC32C now. A mismatch also makes the weights refuse further use
     * ({@link #ensureUsable()}).
     *
     * @return the tensors whose bytes do not match, with why; empty when all match
     * @throws IllegalStateException if the weights are closed, or close during the check
     */
    public List<String> verify() {
        List<String> bad = new ArrayList<>();
        tensors.values().parallelStream().forEach(v -> {
            try {
                v.verify();
            } catch (TensorView.ChecksumException e) {
                synchronized (bad) {
                    bad.add(e.getMessage());
                }
            }
        });
        fail(bad);
        return bad;
    }

    /**
     * Checks every tensor's CRC32C on a background thread, so the first inference is not delayed.
     * The future completes with the mismatches (empty when all match); bytes checked so far are in
     * {@code progress}. A mismatch makes the weights refuse further use: {@link #tensor},
     * {@link #tensors()}, {@link #table} and {@link #ensureUsable()} throw
     * {@link CorruptWeightsException} naming the tensor. Closing the weights stops the check (the
     * future then fails with {@link CancellationException}) and waits for it to end.
     */
    public CompletableFuture<List<String>> verifyInBackground(AtomicLong progress) {
        CompletableFuture<List<String>> result = new CompletableFuture<>();
        synchronized (checkers) {
            if (closed) {
                throw new IllegalStateException("model '" + name() + "' is closed");
            }
            Thread t = Thread.ofPlatform().daemon().name("daxload-verify-" + name()).unstarted(() -> {
                List<String> bad = new ArrayList<>();
                try {
                    for (TensorView v : tensors.values()) {
                        if (closed) {
                            throw new IllegalStateException("model '" + name() + "' is closed");
                        }
                        try {
                            v.verify();
                        } catch (TensorView.ChecksumException e) {
                            bad.add(e.getMessage());
                        }
                        progress.addAndGet(v.byteSize());
                    }
                    fail(bad);
                    result.complete(bad);
                } catch (IllegalStateException e) { // closed under us
                    CancellationException c = new CancellationException("verification of model '" + name() + "' stopped: " + e.getMessage());
                    c.initCause(e);
                    result.completeExceptionally(c);
                } catch (RuntimeException | Error e) {
                    result.completeExceptionally(e);
                } finally {
                    synchronized (checkers) {
                        checkers.remove(Thread.currentThread());
                    }
                }
            });
            t.setPriority(Thread.MIN_PRIORITY);
            checkers.add(t);
            t.start();
        }
        return result;
    }

    /**
     * Stops background checks and waits for them, then closes the image if this object opened it:
     * the mapping is released exactly once, whatever checks were running.
     */
    @Override
    public void close() {
        List<Thread> running;
        synchronized (checkers) {
            closed = true;
            running = List.copyOf(checkers);
        }
        if (ownsImage) {
            image.close(); // stops and waits for every check reading it, ours and other threads'
        }
        boolean interrupted = false;
        for (Thread t : running) {
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}

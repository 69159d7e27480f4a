package dev.daxload.model;

import dev.daxload.image.DaxImage;
import dev.daxload.image.MapOptions;
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

    private ModelWeights(DaxImage image, boolean ownsImage, ModelManifest manifest) {
        this.image = image;
        this.ownsImage = ownsImage;
        this.manifest = manifest;
        Map<String, TensorView> views = new LinkedHashMap<>();
        for (TensorEntry t : manifest.tensors()) {
            views.put(t.name(), new TensorView(t, image.segment().asSlice(t.offset(), t.length()), image));
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
        DaxImage image = DaxImage.open(imageFile, options);
        try {
            return new ModelWeights(image, true, ModelCatalog.load(image, model));
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

    /** Every tensor, by name, in manifest order. */
    public Map<String, TensorView> tensors() {
        return tensors;
    }

    /** The tensor named {@code name}; {@link IllegalArgumentException} naming the model if absent. */
    public TensorView tensor(String name) {
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
        if (!manifest.tables().contains("tables/" + tableName)) {
            throw new IllegalArgumentException("model '" + name() + "' has no table '" + tableName + "'; tables: " + manifest.tables());
        }
        return LookupTable.open(image, name() + "/tables/" + tableName);
    }

    /**
     * Checks every tensor's CRC32C now.
     *
     * @return the tensors whose bytes do not match, with why; empty when all match
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
        return bad;
    }

    /**
     * Checks every tensor's CRC32C on a background thread, so the first inference is not delayed.
     * The future completes with the mismatches (empty when all match); bytes checked so far are in
     * {@code progress}.
     */
    public CompletableFuture<List<String>> verifyInBackground(AtomicLong progress) {
        CompletableFuture<List<String>> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().daemon().name("daxload-verify-" + name()).start(() -> {
            List<String> bad = new ArrayList<>();
            try {
                for (TensorView v : tensors.values()) {
                    try {
                        v.verify();
                    } catch (TensorView.ChecksumException e) {
                        bad.add(e.getMessage());
                    }
                    progress.addAndGet(v.byteSize());
                }
                result.complete(bad);
            } catch (RuntimeException e) { // the image was closed under us
                result.completeExceptionally(e);
            }
        });
        t.setPriority(Thread.MIN_PRIORITY);
        return result;
    }

    /** Closes the image if this object opened it. */
    @Override
    public void close() {
        if (ownsImage) {
            image.close();
        }
    }
}

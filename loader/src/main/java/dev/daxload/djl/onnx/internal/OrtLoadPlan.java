package dev.daxload.djl.onnx.internal;

import dev.daxload.image.DaxImage;
import dev.daxload.image.internal.DaxFileReader;
import dev.daxload.image.internal.ImageFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How one load of a model through ONNX Runtime gets its weights: ORT's own optimized form from the
 * image (graph, weights and prepacked blobs mapped from the image file) when the image holds one made
 * for this ORT and processor, else the model's tensors as initializers over the mapping, prepacked at
 * load or not, as the caller chose. Never a form made for another runtime or processor: its blobs would
 * be read as if laid out for this one.
 */
public final class OrtLoadPlan implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OrtLoadPlan.class);
    /** The optimization level forms are made and used with (ORT's default for a session). */
    public static final String OPTIMIZATION = "ALL_OPT";

    /** Where prepacked weights come from ({@code ortprepacked=} in a daxfs: URL). */
    public enum Source {
        /** ORT's form from the image where its key matches; otherwise as the {@code prepacking} option says. */
        IMAGE,
        /** The tensors as initializers, prepacked by ORT at load (a private copy of the packed weights). */
        LOAD,
        /** The tensors as initializers, not prepacked (no copy; slower matmuls). */
        NONE
    }

    private OrtSessionFiles files;
    private final boolean prepacking;
    private final String model;
    private final Path imageFile;
    /** Forms made for this processor, waiting for {@link #confirm()} to compare their ORT version; files hold the first one's. */
    private List<OrtImageForm> candidates = List.of();
    /** Where the forms were read, until {@link #confirm()} has chosen one; closed then where it is a reader of this plan's own. */
    private ImageFiles image;
    private AutoCloseable reader;
    private AutoCloseable held;

    private OrtLoadPlan(OrtSessionFiles files, boolean prepacking, String model, Path imageFile) {
        this.files = files;
        this.prepacking = prepacking;
        this.model = model;
        this.imageFile = imageFile;
    }

    /**
     * Keeps {@code resource} (the image's mapping, say) until this plan is closed, so the load that
     * follows joins it instead of mapping the image again.
     */
    public OrtLoadPlan hold(AutoCloseable resource) {
        held = resource;
        return this;
    }

    /**
     * Everything of the decision that does not ask ONNX Runtime (so it may run before ORT's engine is
     * up): the image's forms are read, those made for another processor or optimization level set
     * aside, and the first one left gets its session files (graph and link). {@link #confirm()} then
     * compares the forms' ORT version with the running one before the plan is used.
     */
    public static OrtLoadPlan prepare(DaxImage image, Path imageFile, String model, Source source, boolean fallbackPrepacking)
            throws IOException {
        return prepare(ImageFiles.of(image), null, imageFile, model, source, fallbackPrepacking);
    }

    /**
     * As {@link #prepare(DaxImage, Path, String, Source, boolean)}, reading the forms with {@code reader}
     * (positional reads of the image file, no mapping), which the plan closes once {@link #confirm()} has
     * chosen, or when it is closed.
     */
    public static OrtLoadPlan prepare(DaxFileReader reader, String model, Source source, boolean fallbackPrepacking) throws IOException {
        try {
            return prepare(ImageFiles.of(reader), reader, reader.file(), model, source, fallbackPrepacking);
        } catch (IOException | RuntimeException e) {
            reader.close();
            throw e;
        }
    }

    private static OrtLoadPlan prepare(ImageFiles image, AutoCloseable reader, Path imageFile, String model, Source source,
            boolean fallbackPrepacking) throws IOException {
        OrtLoadPlan plan = decideForms(image, imageFile, model, source, fallbackPrepacking);
        if (plan.candidates.isEmpty()) {
            closeQuietly(reader);
        } else {
            plan.reader = reader;
        }
        return plan;
    }

    private static OrtLoadPlan decideForms(ImageFiles image, Path imageFile, String model, Source source, boolean fallbackPrepacking)
            throws IOException {
        switch (source) {
            case LOAD -> {
                return new OrtLoadPlan(null, true, model, imageFile);
            }
            case NONE -> {
                return new OrtLoadPlan(null, false, model, imageFile);
            }
            case IMAGE -> {}
        }
        List<OrtImageForm> forms = OrtImageForm.list(image, model);
        if (forms.isEmpty()) {
            return new OrtLoadPlan(null, fallbackPrepacking, model, imageFile);
        }
        String fallback = fallback(fallbackPrepacking);
        if (!Files.isRegularFile(imageFile)) {
            LOG.warn("daxfs: model '{}': ONNX Runtime's form in {} not used: the image is not a regular file ORT can map; using {}",
                    model, imageFile, fallback);
            return new OrtLoadPlan(null, fallbackPrepacking, model, imageFile);
        }
        if (onHugetlbfs(imageFile)) {
            // mmap of a hugetlbfs file needs huge-page-aligned offsets; ORT maps each tensor at a 4 KiB-rounded one.
            LOG.warn("daxfs: model '{}': ONNX Runtime's form in {} not used: ORT cannot map a hugetlbfs file at 4 KiB offsets; using {}",
                    model, imageFile, fallback);
            return new OrtLoadPlan(null, fallbackPrepacking, model, imageFile);
        }
        OrtFormKey processor = OrtFormKey.thisProcessor(OPTIMIZATION);
        List<OrtImageForm> fit = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        for (OrtImageForm form : forms) {
            Optional<String> why = processor.processorMismatch(form.key());
            if (why.isEmpty()) {
                fit.add(form);
            } else {
                reasons.add(form.dir() + ": " + why.get());
            }
        }
        if (fit.isEmpty()) {
            LOG.warn("daxfs: model '{}': ONNX Runtime's form in {} not used ({}); using {}",
                    model, imageFile, String.join("; ", reasons), fallback);
            return new OrtLoadPlan(null, fallbackPrepacking, model, imageFile);
        }
        OrtLoadPlan plan = new OrtLoadPlan(OrtSessionFiles.create(image, imageFile, fit.get(0)), fallbackPrepacking, model, imageFile);
        plan.candidates = fit;
        plan.image = image;
        return plan;
    }

    /**
     * Completes a {@link #prepare}d plan: keeps the form whose ONNX Runtime version is the running one,
     * or, when none is, logs why and falls back. Asks ORT its version: its environment must exist.
     *
     * @return this plan
     */
    public OrtLoadPlan confirm() throws IOException {
        if (candidates.isEmpty()) {
            return this;
        }
        List<OrtImageForm> fit = candidates;
        candidates = List.of();
        try {
            return choose(fit);
        } finally {
            image = null;
            closeQuietly(reader);
            reader = null;
        }
    }

    private OrtLoadPlan choose(List<OrtImageForm> fit) throws IOException {
        String running = OrtFormKey.runningOrtVersion();
        for (int i = 0; i < fit.size(); i++) {
            OrtImageForm form = fit.get(i);
            if (form.key().ortVersion().equals(running)) {
                if (i > 0) {
                    files.close();
                    files = null;
                    files = OrtSessionFiles.create(image, imageFile, form);
                }
                LOG.debug("daxfs: model '{}': ONNX Runtime form {} from the image", model, form.dir());
                return this;
            }
        }
        files.close();
        files = null;
        LOG.warn("daxfs: model '{}': ONNX Runtime's form in {} not used ({}); using {}", model, imageFile,
                String.join("; ", fit.stream().map(f -> f.dir() + ": made by ONNX Runtime " + f.key().ortVersion() + ", running " + running)
                        .toList()), fallback(prepacking));
        return this;
    }

    /**
     * Whether the image file lies on hugetlbfs. A memfd named through {@code /proc/self/fd/N} has no mount
     * the JDK can name: taken as not (a memfd made with {@code MFD_HUGETLB} would then fail in ORT's session).
     */
    private static boolean onHugetlbfs(Path imageFile) {
        try {
            return "hugetlbfs".equals(Files.getFileStore(imageFile).type());
        } catch (IOException e) {
            return false;
        }
    }

    private static String fallback(boolean prepacking) {
        return prepacking ? "tensors prepacked at load" : "tensors in place, not prepacked";
    }

    /** Whether ORT builds its session from the image's form ({@link #graph()}) rather than from initializers. */
    public boolean usesImageForm() {
        return files != null && candidates.isEmpty();
    }

    /** The optimized graph to open, when {@link #usesImageForm()}. */
    public Path graph() {
        if (!usesImageForm()) {
            throw new IllegalStateException("no ORT form in use");
        }
        return files.graph();
    }

    /** Whether ORT may prepack the initializers, when the image's form is not used. */
    public boolean prepacking() {
        return files == null && prepacking;
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.debug("daxfs: closing {}: {}", c, e.toString());
            }
        }
    }

    @Override
    public void close() {
        closeQuietly(reader);
        reader = null;
        if (files != null) {
            files.close();
        }
        if (held != null) {
            try {
                held.close();
            } catch (Exception e) {
                LOG.warn("daxfs: releasing {}: {}", held, e.toString());
            }
            held = null;
        }
    }
}

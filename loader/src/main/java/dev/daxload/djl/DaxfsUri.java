package dev.daxload.djl;

import dev.daxload.djl.onnx.internal.OrtLoadPlan;
import dev.daxload.image.MapOptions;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a {@code daxfs:} URL names: {@code daxfs:///path/to/image.daxfs?model=NAME}, with options
 * {@code populate=true} (fault every page in at load), {@code hugepages=true}, {@code mapping=private|shared}
 * (private, the default, is copy-on-write: writes through a weight never reach the image),
 * {@code prepacking=true} (ONNX Runtime may copy weights into its own packed layout: faster matmuls,
 * one more copy of the weights), {@code verify=none|background|eager} (CRC32C of every tensor) and
 * {@code ortprepacked=image|load|none} (ONNX Runtime: its optimized form with prepacked weights from the
 * image where one matches this runtime and processor, falling back as {@code prepacking} says; or
 * always prepack at load; or never prepack) and {@code views=writable|readonly} (PyTorch: views only of
 * memory mapped writable, the default, or read-only views that refuse in-place ops, for a mounted
 * image's dma-buf or {@code mapping=shared}: see {@link PtTensorViews.Writes}).
 *
 * @param image the image file or device
 * @param model the model's name, or null to take the image's only model
 * @param mapOptions how to map the image
 * @param prepacking whether ONNX Runtime may prepack (copy) weights
 * @param verify when to check checksums
 * @param ortPrepacked where ONNX Runtime's prepacked weights come from
 * @param views what PyTorch views do about writes
 */
record DaxfsUri(Path image, String model, MapOptions mapOptions, boolean prepacking, Verify verify,
        OrtLoadPlan.Source ortPrepacked, PtTensorViews.Writes views) {

    /** When tensors' CRC32C are checked. */
    enum Verify { NONE, BACKGROUND, EAGER }

    /** The query parameters a {@code daxfs:} URL takes; anything else is refused. */
    static final java.util.List<String> PARAMETERS = java.util.List.of("model", "mapping", "populate", "hugepages", "prepacking",
            "verify", "ortprepacked", "views");

    /**
     * Parses a {@code daxfs:} URI; query parameters come from DJL's parsing of the repository URI.
     *
     * @throws IllegalArgumentException naming the URL, the parameter and the values it takes, for a
     *     host ({@code daxfs://host/...}: images are local), an unknown parameter, or a value a
     *     parameter does not take
     */
    static DaxfsUri parse(URI uri, Map<String, String> query) {
        if (!"daxfs".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("not a daxfs: URI: " + uri);
        }
        String authority = uri.getRawAuthority();
        if (authority != null && !authority.isEmpty()) {
            throw new IllegalArgumentException(uri + ": names host '" + authority + "', but a daxfs: image is a local file or device;"
                    + " write daxfs:///" + authority + uri.getPath() + " (three slashes) for the path /" + authority + uri.getPath());
        }
        String path = uri.getPath();
        if (path == null || path.isEmpty()) {
            String ssp = uri.getSchemeSpecificPart(); // daxfs:relative/image.daxfs?model=x
            int q = ssp.indexOf('?');
            path = q >= 0 ? ssp.substring(0, q) : ssp;
        }
        if (path.isEmpty()) {
            throw new IllegalArgumentException(uri + ": names no image; expected daxfs:///path/to/image.daxfs?model=NAME");
        }
        for (String key : query.keySet()) {
            if (!PARAMETERS.contains(key)) {
                throw new IllegalArgumentException(uri + ": unknown parameter '" + key + "'; a daxfs: URL takes " + String.join(", ", PARAMETERS));
            }
        }
        String model = query.get("model");
        if (model != null && (model.isEmpty() || model.contains("/"))) {
            throw new IllegalArgumentException(uri + ": model must be the name of a model of the image (a directory at its root), not '" + model + "'");
        }
        MapOptions options = switch (query.getOrDefault("mapping", "private")) {
            case "private" -> MapOptions.copyOnWrite();
            case "shared" -> MapOptions.readOnly();
            default -> throw new IllegalArgumentException(uri + ": mapping must be 'private' or 'shared', not '" + query.get("mapping") + "'");
        };
        options = options.withPopulate(flag(uri, query, "populate")).withHugePages(flag(uri, query, "hugepages"));
        Verify verify = switch (query.getOrDefault("verify", "none")) {
            case "none" -> Verify.NONE;
            case "background" -> Verify.BACKGROUND;
            case "eager" -> Verify.EAGER;
            default -> throw new IllegalArgumentException(uri + ": verify must be 'none', 'background' or 'eager', not '" + query.get("verify") + "'");
        };
        OrtLoadPlan.Source ortPrepacked = switch (query.getOrDefault("ortprepacked", "image")) {
            case "image" -> OrtLoadPlan.Source.IMAGE;
            case "load" -> OrtLoadPlan.Source.LOAD;
            case "none" -> OrtLoadPlan.Source.NONE;
            default -> throw new IllegalArgumentException(uri + ": ortprepacked must be 'image', 'load' or 'none', not '" + query.get("ortprepacked") + "'");
        };
        PtTensorViews.Writes views = switch (query.getOrDefault("views", "writable")) {
            case "writable" -> PtTensorViews.Writes.NEED_WRITABLE;
            case "readonly" -> PtTensorViews.Writes.REFUSE_IN_PLACE;
            default -> throw new IllegalArgumentException(uri + ": views must be 'writable' or 'readonly', not '" + query.get("views") + "'");
        };
        return new DaxfsUri(Path.of(path), model, options, flag(uri, query, "prepacking"), verify, ortPrepacked, views);
    }

    /** A boolean parameter: {@code true} or {@code false}, nothing else ({@code yes}, {@code 1} are refused, not read as false). */
    private static boolean flag(URI uri, Map<String, String> query, String key) {
        String v = query.getOrDefault(key, "false");
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(uri + ": " + key + " must be 'true' or 'false', not '" + v + "'");
        };
    }
}

package dev.daxload.djl;

import dev.daxload.djl.onnx.OrtLoadPlan;
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
 * always prepack at load; or never prepack).
 *
 * @param image the image file or device
 * @param model the model's name, or null to take the image's only model
 * @param mapOptions how to map the image
 * @param prepacking whether ONNX Runtime may prepack (copy) weights
 * @param verify when to check checksums
 * @param ortPrepacked where ONNX Runtime's prepacked weights come from
 */
public record DaxfsUri(Path image, String model, MapOptions mapOptions, boolean prepacking, Verify verify,
        OrtLoadPlan.Source ortPrepacked) {

    /** When tensors' CRC32C are checked. */
    public enum Verify { NONE, BACKGROUND, EAGER }

    /** Parses a {@code daxfs:} URI; query parameters come from DJL's parsing of the repository URI. */
    public static DaxfsUri parse(URI uri, Map<String, String> query) {
        if (!"daxfs".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("not a daxfs: URI: " + uri);
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
        MapOptions options = switch (query.getOrDefault("mapping", "private")) {
            case "private" -> MapOptions.copyOnWrite();
            case "shared" -> MapOptions.readOnly();
            default -> throw new IllegalArgumentException(uri + ": mapping must be 'private' or 'shared'");
        };
        options = options.withPopulate(Boolean.parseBoolean(query.getOrDefault("populate", "false")))
                .withHugePages(Boolean.parseBoolean(query.getOrDefault("hugepages", "false")));
        Verify verify;
        try {
            verify = Verify.valueOf(query.getOrDefault("verify", "none").toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(uri + ": verify must be none, background or eager", e);
        }
        OrtLoadPlan.Source ortPrepacked;
        try {
            ortPrepacked = OrtLoadPlan.Source.valueOf(query.getOrDefault("ortprepacked", "image").toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(uri + ": ortprepacked must be image, load or none", e);
        }
        return new DaxfsUri(Path.of(path), query.get("model"), options,
                Boolean.parseBoolean(query.getOrDefault("prepacking", "false")), verify, ortPrepacked);
    }
}

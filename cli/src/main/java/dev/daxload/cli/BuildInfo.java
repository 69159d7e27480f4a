package dev.daxload.cli;

import dev.daxload.djl.onnx.internal.OrtFormKey;
import dev.daxload.image.internal.DaxfsLayout;
import dev.daxload.manifest.ModelManifest;
import dev.daxload.table.TableLayout;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * What {@code daxload --version} reports: the build's version, git commit and time (written into
 * {@code build.properties} by Maven at build time), the Java runtime, and the format versions this build
 * reads and writes (taken from the constants the reader and writer themselves use, so they cannot drift).
 */
final class BuildInfo {
    private static final String UNKNOWN = "unknown";

    private final Properties props;

    private BuildInfo(Properties props) {
        this.props = props;
    }

    static BuildInfo load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the jar's build.properties", e);
        }
        return new BuildInfo(p);
    }

    /** A field, or "unknown" where the build could not fill it in (no git, an unfiltered resource). */
    private String field(String key) {
        String v = props.getProperty(key, "").trim();
        return v.isEmpty() || v.startsWith("${") ? UNKNOWN : v;
    }

    String version() {
        return field("version");
    }

    String commit() {
        return field("commit");
    }

    String buildTime() {
        return field("buildTime");
    }

    /** Name and version of every format, by what it is: image, model manifest, table, ONNX Runtime form. */
    static Map<String, String> formats() {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("image", "DAXFS " + DaxfsLayout.VERSION);
        f.put("manifest", ModelManifest.FORMAT);
        f.put("table", TableLayout.FORMAT);
        f.put("ort-form", OrtFormKey.FORMAT);
        return f;
    }

    /** The lines of {@code --version}. */
    String[] lines() {
        Map<String, String> f = formats();
        return new String[] {
            "daxload " + version(),
            "commit     " + commit(),
            "built      " + buildTime(),
            "java       " + Runtime.version() + " (" + System.getProperty("java.vm.vendor", "?") + ", "
                    + System.getProperty("java.home", "?") + ")",
            "reads      " + f.get("image") + " images (static), models " + f.get("manifest") + ", tables "
                    + f.get("table") + ", ONNX Runtime forms " + f.get("ort-form"),
            "writes     " + f.get("image") + " static images, models " + f.get("manifest") + ", tables "
                    + f.get("table") + ", ONNX Runtime forms " + f.get("ort-form"),
        };
    }
}

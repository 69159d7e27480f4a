package dev.daxload.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.image.DaxImage;
import java.io.IOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The loader's public types outside {@code *.internal} packages are exactly the API that
 * docs/architecture.md lists ("The public API", the block between the {@code public-api} markers). A new
 * public type in an API package fails the build until it is either listed there (and so documented as API)
 * or made package-private or moved into an internal package.
 */
class PublicApiTest {

    private static final Pattern BLOCK = Pattern.compile(
            "<!-- public-api: begin -->\\s*```\\s*\\n(.*?)```\\s*<!-- public-api: end -->", Pattern.DOTALL);

    @Test
    void theLoadersPublicTypesAreTheListedApi() throws IOException, URISyntaxException, ClassNotFoundException {
        TreeSet<String> documented = documented();
        TreeSet<String> actual = publicApiTypes();
        TreeSet<String> undocumented = new TreeSet<>(actual);
        undocumented.removeAll(documented);
        TreeSet<String> gone = new TreeSet<>(documented);
        gone.removeAll(actual);
        assertTrue(undocumented.isEmpty(), "public types in API packages that docs/architecture.md does not list: "
                + undocumented + " (list them there, make them package-private, or move them to an .internal package)");
        assertTrue(gone.isEmpty(), "docs/architecture.md lists types that are not public API in the loader: " + gone);
        assertEquals(documented, actual);
    }

    @Test
    void internalPackagesSayWhyTheyArePublic() throws IOException, URISyntaxException {
        Path classes = classesRoot();
        List<Path> internal;
        try (Stream<Path> dirs = Files.walk(classes)) {
            internal = dirs.filter(Files::isDirectory).filter(d -> d.getFileName().toString().equals("internal")).toList();
        }
        assertFalse(internal.isEmpty(), "no internal package found under " + classes);
        for (Path d : internal) {
            assertTrue(Files.exists(d.resolve("package-info.class")), classes.relativize(d) + " has no package-info");
        }
    }

    private static TreeSet<String> documented() throws IOException {
        Path doc = Path.of("..", "docs", "architecture.md");
        Matcher m = BLOCK.matcher(Files.readString(doc));
        assertTrue(m.find(), doc + ": no block between <!-- public-api: begin --> and <!-- public-api: end -->");
        TreeSet<String> names = new TreeSet<>();
        for (String line : m.group(1).split("\n")) {
            String s = line.strip();
            if (!s.isEmpty()) {
                assertTrue(names.add(s), doc + ": " + s + " is listed twice");
            }
        }
        return names;
    }

    /** Public classes, top-level or nested in public classes, of every package not named {@code *.internal}. */
    private static TreeSet<String> publicApiTypes() throws IOException, URISyntaxException, ClassNotFoundException {
        Path classes = classesRoot();
        List<String> names = new ArrayList<>();
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String rel = classes.relativize(f).toString();
                if (rel.endsWith(".class") && !rel.endsWith("package-info.class") && !rel.endsWith("module-info.class")) {
                    names.add(rel.substring(0, rel.length() - ".class".length()).replace('/', '.'));
                }
            }
        }
        TreeSet<String> api = new TreeSet<>();
        ClassLoader loader = PublicApiTest.class.getClassLoader();
        for (String name : names) {
            Class<?> c = Class.forName(name, false, loader);
            if (c.getPackageName().endsWith(".internal") || c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) {
                continue;
            }
            boolean visible = true;
            for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
                visible &= Modifier.isPublic(k.getModifiers());
            }
            if (visible) {
                api.add(c.getCanonicalName());
            }
        }
        return api;
    }

    private static Path classesRoot() throws URISyntaxException {
        return Path.of(DaxImage.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}

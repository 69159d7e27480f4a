package dev.daxload.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.image.DaxImage;
import java.lang.module.Configuration;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The loader is a named module ({@code src/main/module/module-info.java}): resolved from its classes with only
 * Gson and SLF4J beside it (DJL and ONNX Runtime are {@code requires static}), it exports the API packages to
 * everyone and each internal package only to the daxload modules that use it, and it reads a golden image
 * through its exported API.
 */
class LoaderModuleTest {
    private static final Set<String> DAXLOAD_MODULES =
            Set.of("dev.daxload.packager", "dev.daxload.bridge", "dev.daxload.registry", "dev.daxload.cli", "dev.daxload.samples");

    @Test
    void resolvesWithoutDjlExportsTheApiAndTheInternalsOnlyToDaxload() throws Exception {
        ModuleLayer layer = layer();
        Module loader = layer.findModule("dev.daxload.loader").orElseThrow();
        ModuleDescriptor d = loader.getDescriptor();
        assertFalse(d.isAutomatic(), "an explicit module, not an automatic one");

        Set<String> everyone = new TreeSet<>();
        Map<String, Set<String>> qualified = new TreeMap<>();
        for (ModuleDescriptor.Exports e : d.exports()) {
            if (e.isQualified()) {
                qualified.put(e.source(), new TreeSet<>(e.targets()));
            } else {
                everyone.add(e.source());
            }
        }
        assertEquals(Set.of("dev.daxload.image", "dev.daxload.manifest", "dev.daxload.model", "dev.daxload.table",
                "dev.daxload.tensor", "dev.daxload.djl"), everyone);
        for (String p : d.packages()) {
            assertTrue(everyone.contains(p) || qualified.containsKey(p) || !p.endsWith(".internal"),
                    p + " is neither exported nor hidden on purpose");
            assertTrue(everyone.contains(p) != p.endsWith(".internal"), p + ": API packages are exported to all, internal ones are not");
        }
        for (var e : qualified.entrySet()) {
            assertTrue(e.getKey().endsWith(".internal"), e.getKey());
            assertTrue(DAXLOAD_MODULES.containsAll(e.getValue()), e.getKey() + " exported outside daxload: " + e.getValue());
            assertFalse(loader.isExported(e.getKey()), e.getKey() + " is exported to everyone");
        }
        assertEquals(Set.of("dev.daxload.image.internal", "dev.daxload.tensor.internal", "dev.daxload.manifest.internal", "dev.daxload.djl.internal",
                "dev.daxload.djl.onnx.internal", "dev.daxload.djl.compat.internal"), qualified.keySet());
        assertEquals(Set.of("ai.djl.repository.RepositoryFactory"),
                d.provides().stream().map(ModuleDescriptor.Provides::service).collect(Collectors.toSet()));

        // the exported API works from the module: open a golden image and count its inodes
        Class<?> image = layer.findLoader("dev.daxload.loader").loadClass("dev.daxload.image.DaxImage");
        assertEquals(loader, image.getModule());
        Path golden = Path.of(LoaderModuleTest.class.getResource("/golden/v5-model1-nocrc.daxfs").toURI());
        try (AutoCloseable img = (AutoCloseable) image.getMethod("open", Path.class).invoke(null, golden)) {
            assertEquals(8L, image.getMethod("inodeCount").invoke(img));
        }
    }

    /** The loader's classes and its two required modules, resolved in a layer of their own. */
    private static ModuleLayer layer() throws URISyntaxException {
        ModuleFinder finder = ModuleFinder.of(jarOf(DaxImage.class), jarOf(com.google.gson.Gson.class), jarOf(org.slf4j.Logger.class));
        Configuration cf = ModuleLayer.boot().configuration().resolve(finder, ModuleFinder.of(), Set.of("dev.daxload.loader"));
        return ModuleLayer.boot().defineModulesWithOneLoader(cf, ClassLoader.getPlatformClassLoader());
    }

    private static Path jarOf(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }
}

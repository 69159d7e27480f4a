package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.daxload.image.MapOptions;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every daxfs: URL option takes only its documented values; hosts and unknown options are refused by name. */
class DaxfsUriTest {
    private static final URI URL = URI.create("daxfs:///srv/m.daxfs?model=a");

    @Test
    void documentedValuesParse() {
        DaxfsUri u = DaxfsUri.parse(URL, Map.of("model", "a", "mapping", "shared", "populate", "true", "hugepages", "true",
                "prepacking", "true", "verify", "background", "views", "readonly"));
        assertEquals(Path.of("/srv/m.daxfs"), u.image());
        assertEquals("a", u.model());
        assertEquals(MapOptions.readOnly().withPopulate(true).withHugePages(true), u.mapOptions());
        assertTrue(u.prepacking());
        assertEquals(DaxfsUri.Verify.BACKGROUND, u.verify());
        assertEquals(PtTensorViews.Writes.REFUSE_IN_PLACE, u.views());
        DaxfsUri d = DaxfsUri.parse(URL, Map.of());
        assertEquals(MapOptions.copyOnWrite(), d.mapOptions());
        assertEquals(DaxfsUri.Verify.NONE, d.verify());
        assertEquals(PtTensorViews.Writes.NEED_WRITABLE, d.views(), "views of writable memory only, unless asked");
    }

    @Test
    void everyOtherValueIsRefusedByName() {
        refused(Map.of("populate", "yes"), "populate must be 'true' or 'false', not 'yes'");
        refused(Map.of("hugepages", "1"), "hugepages must be 'true' or 'false', not '1'");
        refused(Map.of("prepacking", "on"), "prepacking must be 'true' or 'false', not 'on'");
        refused(Map.of("verify", "yes"), "verify must be 'none', 'background' or 'eager', not 'yes'");
        refused(Map.of("views", "ro"), "views must be 'writable' or 'readonly', not 'ro'");
        refused(Map.of("mapping", "copy"), "mapping must be 'private' or 'shared', not 'copy'");
        refused(Map.of("modle", "a"), "unknown parameter 'modle'; a daxfs: URL takes model, mapping");
        refused(Map.of("model", "a/b"), "model must be the name of a model");
    }

    @Test
    void aHostIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> DaxfsUri.parse(URI.create("daxfs://tmp/x.daxfs"), Map.of()));
        assertTrue(e.getMessage().contains("names host 'tmp'") && e.getMessage().contains("daxfs:///tmp/x.daxfs"), e.getMessage());
    }

    private static void refused(Map<String, String> query, String expected) {
        var e = assertThrows(IllegalArgumentException.class, () -> DaxfsUri.parse(URL, query));
        assertTrue(e.getMessage().startsWith(URL + ": ") && e.getMessage().contains(expected), e.getMessage());
    }
}

package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Every test of {@link PtTensorViewsTest} again with daxload's native views library turned off (as on a
 * platform it is not built for, or with {@code -Ddaxload.views.native=false}): the views then come from
 * DJL's JNI binding and libtorch's C shim over FFM, and must be the same views.
 */
class PtTensorViewsFallbackTest extends PtTensorViewsTest {
    @BeforeEach
    void withoutTheNativeLibrary() {
        NativeViews.enable(false);
        assertFalse(NativeViews.get().isPresent(), "turned off");
    }

    @AfterEach
    void nativeLibraryBack() {
        NativeViews.enable(true);
    }
}

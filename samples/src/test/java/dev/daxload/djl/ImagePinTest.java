package dev.daxload.djl;

import static org.junit.jupiter.api.Assertions.*;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.daxload.model.ModelWeights;
import dev.daxload.tensor.TensorView;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Closing an image while NDArrays view it must not unmap memory libtorch still reads. */
class ImagePinTest {
    @TempDir Path tmp;

    @Test
    void closingTheImageWaitsForTheManagerHoldingItsViews() throws Exception {
        byte[] bytes = new byte[64];
        bytes[63] = 9;
        Path image = TestImages.write(tmp, "pin.daxfs", List.of(TestImages.tensor("w", "U8", new long[] {64}, bytes)));
        ModelWeights weights = ModelWeights.open(image, TestImages.MODEL);
        TensorView tensor = weights.tensor("w");
        NDManager manager = NDManager.newBaseManager("PyTorch");
        NDArray view = PtTensorViews.view(manager, tensor);
        weights.close();
        assertFalse(weights.image().isOpen());
        assertThrows(IllegalStateException.class, () -> PtTensorViews.view(manager, tensor), "no new views of a closed image");
        assertEquals(9, view.toByteArray()[63], "the view still reads the image: the mapping is pinned");
        assertEquals(9, tensor.segment().get(ValueLayout.JAVA_BYTE, 63));
        manager.close();
        assertThrows(IllegalStateException.class, () -> tensor.segment().get(ValueLayout.JAVA_BYTE, 63),
                "unmapped with the last manager: Java access is an exception, not a crash");
    }
}

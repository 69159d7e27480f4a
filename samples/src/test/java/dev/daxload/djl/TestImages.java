package dev.daxload.djl;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Images for the DJL tests, written with the real packager. */
final class TestImages {
    static final String MODEL = "m";

    private TestImages() {}

    /** An image holding one model, {@value #MODEL}, of {@code tensors}. */
    static Path write(Path dir, String fileName, List<SourceTensor> tensors) throws IOException {
        SourceModel source = new SourceModel("raw", List.of(), new JsonObject(), tensors, Map.of());
        Path img = dir.resolve(fileName);
        ModelPackager p = new ModelPackager();
        p.model(MODEL).add(source);
        p.write(new ImageWriter(), img);
        return img;
    }

    static SourceTensor tensor(String name, String dtype, long[] shape, byte[] bytes) {
        return new SourceTensor(name, dtype, shape, FileContent.of(bytes));
    }

    /**
     * {@code size} bytes of which only {@code markers} (at their offsets) are written: the rest stays a
     * hole of the image file, so a tensor of gigabytes costs no disk.
     */
    static FileContent sparse(long size, Map<Long, byte[]> markers) {
        return new FileContent() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public void writeTo(FileChannel image, long position) throws IOException {
                for (Map.Entry<Long, byte[]> m : markers.entrySet()) {
                    ByteBuffer b = ByteBuffer.wrap(m.getValue());
                    long at = position + m.getKey();
                    while (b.hasRemaining()) {
                        at += image.write(b, at);
                    }
                }
            }

            @Override
            public String describe() {
                return "sparse content of " + size + " bytes";
            }
        };
    }
}

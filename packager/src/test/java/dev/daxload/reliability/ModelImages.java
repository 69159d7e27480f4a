package dev.daxload.reliability;

import com.google.gson.JsonObject;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.SourceModel;
import dev.daxload.packager.source.SourceTensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Model images for the reliability tests, written by the real packager; and what a process still maps. */
public final class ModelImages {
    public static final String MODEL = "m";

    private ModelImages() {}

    /** An image of one model with {@code count} random U8 tensors of {@code size} bytes each, with checksums. */
    public static Path write(Path dir, String fileName, int count, int size) throws IOException {
        Random r = new Random(count * 31L + size);
        List<SourceTensor> tensors = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] b = new byte[size];
            r.nextBytes(b);
            tensors.add(new SourceTensor("t" + i, "U8", new long[] {size}, FileContent.of(b)));
        }
        Path img = dir.resolve(fileName);
        ModelPackager p = new ModelPackager();
        p.model(MODEL).add(new SourceModel("raw", List.of(), new JsonObject(), tensors, Map.of()));
        p.write(new ImageWriter(), img);
        return img;
    }

    /** Lines of /proc/self/maps that map {@code file}. */
    public static List<String> mappingsOf(Path file) throws IOException {
        String name = file.toAbsolutePath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(name) || l.contains(name + " ")).toList();
    }
}

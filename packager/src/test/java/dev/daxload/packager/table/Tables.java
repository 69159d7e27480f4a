package dev.daxload.packager.table;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageTree.Directory;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.table.LookupTable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Test helpers: pack tables into images the way the model packager does. */
final class Tables {
    static final ImageTree.Attributes DIR = new ImageTree.Attributes(0755, 0, 0);
    static final ImageTree.Attributes FILE = new ImageTree.Attributes(0644, 0, 0);
    static final String DIR_PATH = "/m/tables/t";

    private Tables() {}

    /** Builds {@code builder} into {@code /m/tables/t} of a new image, writes it and closes the builder. */
    static Path pack(TableBuilder builder, Path image) throws IOException {
        try (builder) {
            ImageTree tree = new ImageTree();
            builder.addTo(tree.root().directory("m", DIR).directory("tables", DIR), "t");
            new ImageWriter().write(tree, image);
        }
        return image;
    }

    /** The table's files as the builder made them, by name: to be altered before packing. */
    static Map<String, FileContent> files(TableBuilder builder) throws IOException {
        Directory scratch = new ImageTree().root();
        Directory t = builder.addTo(scratch, "t");
        Map<String, FileContent> out = new LinkedHashMap<>();
        for (var e : t.entries()) {
            out.put(e.getKey(), ((ImageTree.RegularFile) e.getValue()).content());
        }
        return out;
    }

    /** Packs {@code files} as the table directory {@code /m/tables/t}. */
    static Path packFiles(Map<String, FileContent> files, Path image) throws IOException {
        ImageTree tree = new ImageTree();
        Directory t = tree.root().directory("m", DIR).directory("tables", DIR).directory("t", DIR);
        for (var e : files.entrySet()) {
            t.file(e.getKey(), e.getValue(), FILE);
        }
        new ImageWriter().write(tree, image);
        return image;
    }

    /** Opens the image and its table; the caller closes the image. */
    record Opened(DaxImage image, LookupTable table) implements AutoCloseable {
        @Override
        public void close() {
            image.close();
        }
    }

    static Opened open(Path image) throws IOException {
        DaxImage img = DaxImage.open(image);
        try {
            return new Opened(img, LookupTable.open(img, DIR_PATH));
        } catch (IOException | RuntimeException e) {
            img.close();
            throw e;
        }
    }
}

package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.image.ImageLayout;
import dev.daxload.packager.image.ImagePlacer;
import dev.daxload.packager.image.ImageTarget;
import dev.daxload.packager.image.ImageTree;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The {@code -o IMAGE} of {@code pack}, {@code pack-model} and {@code place}: {@code -} is standard output, anything
 * else is resolved (symlinks followed, devices written in place, directories refused) before any work.
 */
final class ImageOutput {
    private final Path named;
    private final ImageTarget target;

    private ImageOutput(Path named, ImageTarget target) {
        this.named = named;
        this.target = target;
    }

    static ImageOutput of(Path option) throws IOException {
        if (!option.toString().equals("-")) {
            return new ImageOutput(option, ImageTarget.resolve(option));
        }
        java.io.Console console = System.console();
        if (console != null && console.isTerminal()) {
            // as tar does: an image is no use on a screen
            throw new IllegalArgumentException("-o -: standard output is a terminal; redirect it to a file or a pipe");
        }
        return new ImageOutput(option, null);
    }

    /** What to call the output in messages. */
    String describe() {
        return target == null ? "(standard output)" : named.toString();
    }

    /** The validator run on each complete image before it is published: a writer bug shows here. */
    static void validate(Path image) throws IOException {
        try (DaxImage written = DaxImage.open(image)) {
            if (!written.warnings().isEmpty()) {
                throw new IllegalStateException("wrote an image with problems (a daxload bug): " + written.warnings());
            }
        }
    }

    ImageLayout write(ImageWriter writer, ImageTree tree) throws IOException {
        if (target != null) {
            return writer.write(tree, target);
        }
        System.out.flush();
        FileChannel out = new FileOutputStream(FileDescriptor.out).getChannel();
        return writer.write(tree, out);
    }

    /** Puts the existing {@code image} here ({@code daxload place}); returns its size. */
    long place(Path image) throws IOException {
        if (target != null) {
            return ImagePlacer.place(image, target);
        }
        System.out.flush();
        FileChannel out = new FileOutputStream(FileDescriptor.out).getChannel();
        return ImagePlacer.place(image, out, named);
    }

    ImageLayout write(ImageWriter writer, ModelPackager packager) throws IOException {
        if (target != null) {
            return packager.write(writer, target);
        }
        System.out.flush();
        FileChannel out = new FileOutputStream(FileDescriptor.out).getChannel();
        return packager.write(writer, out);
    }
}

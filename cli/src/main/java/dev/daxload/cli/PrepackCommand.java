package dev.daxload.cli;

import dev.daxload.image.DaxImage;
import dev.daxload.packager.ort.ImagePrepacker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "prepack", mixinStandardHelpOptions = true,
        description = {"Add ONNX Runtime's optimized form (graph, weights and prepacked blobs), made on this machine for its"
                + " ORT version and CPU features, to the ONNX models of an image; run once per CPU type.",
            "The image is written anew (to OUT, or in place of IMAGE) and replaces it only when complete; forms made for"
                + " other keys stay. daxfs: loads on a machine whose key matches map the form from the image.",
            "Example: daxload prepack models.daxfs -o models-prepacked.daxfs"})
final class PrepackCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "the image to read")
    Path image;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT", description = "the image to write (default: replace IMAGE)")
    Path output;

    @Option(names = "--model", paramLabel = "NAME", description = "prepack only this model (repeatable; default: every ONNX model)")
    List<String> models = new ArrayList<>();

    @Option(names = "--align", paramLabel = "SIZE", converter = Sizes.AlignmentConverter.class, defaultValue = "4096",
            description = "align files at least SIZE long to SIZE in the new image (default: ${DEFAULT-VALUE})")
    long align;

    @Option(names = {"-q", "--quiet"}, description = "no summary")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        ImageArgument.check(image);
        OrtLogging.errorsOnly();
        long t0 = System.nanoTime();
        Path out = output == null ? image : output;
        ImagePrepacker.Result r = ImagePrepacker.prepack(image, out, models, align);
        try (DaxImage written = DaxImage.open(out)) {
            if (!written.warnings().isEmpty()) {
                throw new IllegalStateException("wrote an image with problems (a daxload bug): " + written.warnings());
            }
        }
        if (!quiet) {
            System.err.printf("%s: ONNX Runtime forms %s%s, %s in %.2f s%n", out, r.forms(),
                    r.skipped().isEmpty() ? "" : " (not ONNX: " + r.skipped() + ")", Sizes.human(Files.size(out)), (System.nanoTime() - t0) / 1e9);
        }
        return 0;
    }
}

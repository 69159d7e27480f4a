package dev.daxload.cli;

import dev.daxload.packager.image.ImagePlacer;
import dev.daxload.packager.image.ImageTarget;
import dev.daxload.registry.ImagePull;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.OciImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Pull an image pushed by daxload push: streamed into a hidden partial file beside OUT, its sha256 checked",
            "as it arrives and every tensor's checksum before OUT is replaced (atomically). An interrupted pull started",
            "again fetches only what is missing. Pin servers to a digest: REF@sha256:...",
            "Without -o the image goes into the host's shared cache (what oci:// model URLs load; one pull for every",
            "process that asks at once) and its path is printed.",
            "Example: daxload pull registry.example.com/models/bge-small@sha256:... -o /dev/shm/bge-small.daxfs"})
final class PullCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "REF", description = "HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST]")
    String reference;

    @Option(names = {"-o", "--output"}, paramLabel = "OUT",
            description = "the image file to write (default: the shared cache; its path is printed)")
    Path output;

    @Option(names = "--streams", paramLabel = "N", defaultValue = "" + ImagePull.DEFAULT_STREAMS,
            description = "ranged GETs at once, each written at its place in the file (default: ${DEFAULT-VALUE}; "
                    + "1: one GET, bytes in order)")
    int streams;

    @Option(names = "--pack", description = "REF is a ModelPack artifact of safetensors or GGUF weight files (as modctl"
            + " pushes them, raw or tar layers): pack them into a DAXFS image at OUT as their layers stream, as pack-model packs"
            + " a directory of them; config, doc and code layers become side files")
    boolean pack;

    @Option(names = "--name", paramLabel = "NAME", description = "with --pack: the model's name in the image (default: the"
            + " repository's last part)")
    String name;

    @Mixin
    RegistryOptions registry;

    @Option(names = {"-q", "--quiet"}, description = "print only the pinned reference")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        if (streams < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--streams: " + streams + " (at least 1)");
        }
        ImageReference ref = ImageReference.parse(reference);
        if (pack) {
            return pack(ref);
        }
        if (name != null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--name goes with --pack");
        }
        if (output == null) {
            Path cached = OciImages.fetch(ref, registry.options(ref, System.in), streams);
            spec.commandLine().getOut().println(cached);
            spec.commandLine().getOut().flush();
            return 0;
        }
        ImageTarget target = ImageTarget.resolve(output);
        // Hugetlbfs takes no write(2), so the pull's partial file cannot lie beside OUT there: the image is pulled into
        // daxload's cache directory instead (resumable there, its sha256 checked) and placed from it through a mapping.
        Path pulledTo = target instanceof ImageTarget.HugePages
                ? Files.createDirectories(OciImages.cacheDirectory().resolve("staging"))
                        .resolve(Integer.toHexString(output.toAbsolutePath().toString().hashCode()) + "-" + output.getFileName())
                : output;
        ImagePull.Result r;
        try (ProgressBar bar = new ProgressBar("pulling", quiet)) {
            r = ImagePull.pull(ref, pulledTo, registry.client(ref, System.in), bar::progress, streams);
        }
        if (pulledTo != output) {
            try {
                ImagePlacer.place(pulledTo, target);
            } finally {
                Files.deleteIfExists(pulledTo);
            }
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("%s: %s, %s%s%n", output, r.imageDigest(), Sizes.human(r.imageBytes()),
                    r.resumedFrom() > 0 ? " (resumed at " + Sizes.human(r.resumedFrom()) + ")" : "");
        }
        spec.commandLine().getOut().println(r.reference());
        spec.commandLine().getOut().flush();
        return 0;
    }

    private int pack(ImageReference ref) throws Exception {
        if (output == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--pack needs -o OUT (the image to write)");
        }
        String model = name != null ? name : ref.repository().substring(ref.repository().lastIndexOf('/') + 1);
        dev.daxload.cli.modelpack.ModelPackImport.Result r;
        try (ProgressBar bar = new ProgressBar("packing", quiet)) {
            r = dev.daxload.cli.modelpack.ModelPackImport.pull(ref, model, output, registry.client(ref, System.in),
                    new dev.daxload.packager.image.ImageWriter().progress(bar), ImageOutput::validate);
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("%s: model %s, %d tensors from %d weight layers, %s%s%n", output, model, r.tensors(),
                    r.weightLayers(), Sizes.human(r.layout().size()),
                    r.leftOut().isEmpty() ? "" : "; left out (the same weights in another format): " + String.join(", ", r.leftOut()));
        }
        spec.commandLine().getOut().println(r.reference());
        spec.commandLine().getOut().flush();
        return 0;
    }
}

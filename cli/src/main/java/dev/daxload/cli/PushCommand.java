package dev.daxload.cli;

import dev.daxload.registry.ImagePush;
import dev.daxload.registry.ImageReference;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "push", mixinStandardHelpOptions = true,
        description = {"Push an image to an OCI registry as a CNCF ModelPack artifact: one layer that is the image file itself",
            "(its digest is the image's sha256; no tar, no compression), and a config describing its models.",
            "A blob the repository holds is not sent again; one another repository of the registry holds is mounted.",
            "Prints the reference pinned to the manifest's digest: what servers should load.",
            "Example: daxload push models.daxfs registry.example.com/models/bge-small:v1"})
final class PushCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "the image file")
    Path image;

    @Parameters(index = "1", paramLabel = "REF", description = "HOST[:PORT]/REPOSITORY[:TAG]")
    String reference;

    @Mixin
    RegistryOptions registry;

    @Option(names = "--chunk-size", paramLabel = "SIZE", converter = Sizes.Converter.class, defaultValue = "16M",
            description = "upload chunk size (default: ${DEFAULT-VALUE})")
    long chunkSize;

    @Option(names = "--as-image", description = {"push an ordinary OCI container image instead (one uncompressed tar layer holding",
        "the file), for Kubernetes image volumes, podman, skopeo and umoci; daxload pull reads the ModelPack form"})
    boolean asImage;

    @Option(names = {"-q", "--quiet"}, description = "print only the pinned reference")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        ImageReference ref = ImageReference.parse(reference);
        if (chunkSize < 1 || chunkSize > (1L << 30)) {
            throw new IllegalArgumentException("--chunk-size: between 1 byte and 1 GiB");
        }
        ImagePush.Result r;
        try (ProgressBar bar = new ProgressBar("pushing", quiet)) {
            r = asImage
                    ? ImagePush.pushContainerImage(image, ref, registry.client(ref, System.in), (int) chunkSize, bar::progress)
                    : ImagePush.push(image, ref, registry.client(ref, System.in), (int) chunkSize, bar::progress);
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("%s: %s, %s (%s)%n", image, r.imageDigest(), Sizes.human(r.imageBytes()), r.how());
        }
        spec.commandLine().getOut().println(r.reference());
        spec.commandLine().getOut().flush();
        return 0;
    }
}

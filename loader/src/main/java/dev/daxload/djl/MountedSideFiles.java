package dev.daxload.djl;

import dev.daxload.image.internal.MountedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A model's side files served from the mount itself when a {@code daxfs:} URL names a mounted DAXFS
 * directory: the engine opens {@code <mount>/<model>/files/...}, which the kernel reads from the
 * mounted memory, so nothing is written to a temporary directory and nothing is left to remove.
 */
final class MountedSideFiles {
    private MountedSideFiles() {}

    /**
     * The directory of {@code model}'s side files on the mount that {@code target} names, or empty when
     * {@code target} is not a daxfs mount directory, or the model has no side files (the caller then
     * makes its usual, empty, directory).
     *
     * @throws IOException naming the file when a side file the manifest lists is not a plain file there
     */
    static Optional<Path> of(Path target, String model, List<String> files) throws IOException {
        Optional<Path> mount = MountedImage.mountPoint(target);
        if (mount.isEmpty() || files.isEmpty()) {
            return Optional.empty();
        }
        Path modelDir = mount.get().resolve(model);
        Path dir = modelDir.resolve("files");
        for (String file : files) {
            // The same rule as for copied side files, and a regular file (no symlink) so an engine never
            // reads outside the model through it.
            SideFiles.checkListed(mount.get().toString(), model, file);
            Path p = modelDir.resolve(file);
            if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(mount.get() + ": model '" + model + "' lists side file '" + file + "', but " + p
                        + (Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? " is not a regular file" : " does not exist on the mount"));
            }
        }
        return Optional.of(dir);
    }
}

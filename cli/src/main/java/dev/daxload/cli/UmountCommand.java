package dev.daxload.cli;

import dev.daxload.bridge.mount.DaxfsMount;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code daxload umount DIR}: unmounts a DAXFS mount, and only a DAXFS mount. */
@Command(name = "umount", mixinStandardHelpOptions = true,
        description = {"Unmount a DAXFS image mounted with `daxload mount` (root).",
            "Refuses a directory that is not a daxfs mount; the image's memory is freed with the mount."})
final class UmountCommand implements Callable<Integer> {
    @Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR")
    Path dir;

    @Override
    public Integer call() throws Exception {
        DaxfsMount.unmountDaxfs(dir);
        spec.commandLine().getOut().println("unmounted " + dir);
        spec.commandLine().getOut().flush();
        return 0;
    }
}

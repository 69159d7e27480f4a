package dev.daxload.cli;

import dev.daxload.registry.Credentials;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.RegistryClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** How push and pull reach a registry: the flags ORAS, skopeo and docker users already type. */
final class RegistryOptions {
    @Option(names = "--plain-http", description = "speak HTTP, not HTTPS (a registry on loopback)")
    boolean plainHttp;

    @Option(names = "--ca-file", paramLabel = "PEM", description = "trust these certificates beside the system's")
    Path caFile;

    @Option(names = {"-u", "--username"}, paramLabel = "USER",
            description = "user name (default: the registry's entry in $REGISTRY_AUTH_FILE or ~/.docker/config.json)")
    String username;

    @Option(names = "--password-stdin", description = "read the password from standard input (with --username)")
    boolean passwordStdin;

    @Option(names = "--retries", paramLabel = "N", defaultValue = "4",
            description = "retries of a 5xx answer or a broken connection (default: ${DEFAULT-VALUE})")
    int retries;

    RegistryClient client(ImageReference ref, InputStream stdin) throws IOException {
        return RegistryClient.of(ref, options(ref, stdin));
    }

    /**
     * The JDK's HTTP client reads bodies in 16 KiB buffers; 256 KiB ones halve the CPU a pull costs (1 GB on loopback:
     * 6.1 -> 3.3 s of CPU). Read once, when the client's classes load: set before the first client exists, and only
     * when the user did not choose.
     */
    private static final String HTTP_BUFFER = "jdk.httpclient.bufsize";

    RegistryClient.Options options(ImageReference ref, InputStream stdin) throws IOException {
        if (System.getProperty(HTTP_BUFFER) == null) {
            System.setProperty(HTTP_BUFFER, Integer.toString(256 << 10));
        }
        Optional<Credentials> creds;
        if (username != null) {
            if (!passwordStdin) {
                throw new IllegalArgumentException("--username needs --password-stdin (a password is never taken on the command line)");
            }
            String password = new String(stdin.readAllBytes(), StandardCharsets.UTF_8).strip();
            creds = Optional.of(new Credentials(username, password));
        } else if (passwordStdin) {
            throw new IllegalArgumentException("--password-stdin needs --username");
        } else {
            creds = Credentials.stored(ref.registry(), System.getenv());
        }
        return new RegistryClient.Options(plainHttp, Optional.ofNullable(caFile), creds, retries);
    }
}

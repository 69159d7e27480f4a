package dev.daxload.cli;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real CNCF Distribution registry (Debian's docker-registry 2.8) on 127.0.0.1 with its own storage, started for a
 * test and stopped after it. Its JSON access log says what it served: {@link #served} counts the bytes of blob
 * answers, the proof of resumes and cache hits.
 */
public final class LocalRegistry implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/bin/docker-registry");

    /** Optional: basic auth from an htpasswd file, TLS from a certificate and key. */
    record Security(Path htpasswd, Path certificate, Path key) {
    }

    /** Bearer tokens from {@code realm}, signed by the key of {@code certificate}. */
    record TokenAuth(String realm, String service, String issuer, Path certificate) {
    }

    private final Process process;
    private final Path dir;
    private final Path log;
    private final int port;
    private final boolean tls;

    private LocalRegistry(Process process, Path dir, Path log, int port, boolean tls) {
        this.process = process;
        this.dir = dir;
        this.log = log;
        this.port = port;
        this.tls = tls;
    }

    public static void assumeInstalled() {
        assumeTrue(Files.isExecutable(BINARY),
                "needs Debian's docker-registry (CNCF Distribution 2.8) at " + BINARY + ": apt-get install docker-registry (.ci/run installs it)");
    }

    public static LocalRegistry start(Path dir) throws IOException, InterruptedException {
        return start(dir, null, null);
    }

    static LocalRegistry start(Path dir, Security security) throws IOException, InterruptedException {
        return start(dir, security, null);
    }

    static LocalRegistry start(Path dir, Security security, TokenAuth token) throws IOException, InterruptedException {
        assumeInstalled();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Files.createDirectories(dir);
        StringBuilder yml = new StringBuilder();
        yml.append("version: 0.1\nlog:\n  level: info\n  formatter: json\n  accesslog:\n    disabled: true\n")
                .append("storage:\n  filesystem:\n    rootdirectory: ").append(dir.resolve("storage")).append("\n  delete:\n    enabled: true\n")
                .append("http:\n  addr: 127.0.0.1:").append(port).append("\n");
        if (security != null) {
            yml.append("  tls:\n    certificate: ").append(security.certificate()).append("\n    key: ").append(security.key()).append("\n");
            yml.append("auth:\n  htpasswd:\n    realm: daxload-test\n    path: ").append(security.htpasswd()).append("\n");
        } else if (token != null) {
            yml.append("auth:\n  token:\n    realm: ").append(token.realm()).append("\n    service: ").append(token.service())
                    .append("\n    issuer: ").append(token.issuer()).append("\n    rootcertbundle: ").append(token.certificate()).append("\n");
        }
        Path config = dir.resolve("config.yml");
        Files.writeString(config, yml);
        Path log = dir.resolve("registry.log");
        Process p = new ProcessBuilder(BINARY.toString(), "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        LocalRegistry r = new LocalRegistry(p, dir, log, port, security != null);
        r.awaitReady();
        return r;
    }

    private void awaitReady() throws IOException, InterruptedException {
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2));
        if (tls) {
            // readiness only: the test's own requests check the certificate
            return;
        }
        HttpClient c = b.build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("docker-registry exited: " + Files.readString(log));
            }
            try {
                HttpResponse<Void> r = c.send(HttpRequest.newBuilder(URI.create("http://" + host() + "/v2/")).build(),
                        HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200 || r.statusCode() == 401) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IOException("docker-registry did not answer on " + host() + " within 20 s: " + Files.readString(log));
    }

    /** Waits for a TLS registry by its log line, since plain HTTP cannot ask it. */
    void awaitListening() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (Files.readString(log).contains("listening on")) {
                return;
            }
            if (!process.isAlive()) {
                throw new IOException("docker-registry exited: " + Files.readString(log));
            }
            Thread.sleep(100);
        }
        throw new IOException("docker-registry did not start listening: " + Files.readString(log));
    }

    public String host() {
        return "127.0.0.1:" + port;
    }

    /** The file the registry keeps blob {@code digest} in. */
    Path blobData(String digest) {
        String hex = digest.substring("sha256:".length());
        return dir.resolve("storage/docker/registry/v2/blobs/sha256").resolve(hex.substring(0, 2)).resolve(hex).resolve("data");
    }

    /** Flips one bit of the middle byte of the stored blob {@code digest}, behind the registry's back. */
    void corruptBlob(String digest) throws IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(blobData(digest).toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x01);
        }
    }

    /** One answer the registry logged. */
    record Served(String method, String uri, int status, long bytes) {
    }

    /** Every answer logged so far (the log is written as answers complete). */
    List<Served> served() throws IOException {
        List<Served> all = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            if (!line.startsWith("{") || !line.contains("http.response.written")) {
                continue;
            }
            JsonObject o = JsonParser.parseString(line).getAsJsonObject();
            all.add(new Served(o.get("http.request.method").getAsString(), o.get("http.request.uri").getAsString(),
                    o.has("http.response.status") ? o.get("http.response.status").getAsInt() : 0,
                    o.get("http.response.written").getAsLong()));
        }
        return all;
    }

    /** Bytes the registry sent in answers to {@code method} requests whose URI contains {@code fragment}. */
    public long bytesServed(String method, String fragment) throws IOException {
        return served().stream().filter(s -> s.method().equals(method) && s.uri().contains(fragment)).mapToLong(Served::bytes).sum();
    }

    /** How many {@code method} requests whose URI contains {@code fragment} were answered. */
    public long requests(String method, String fragment) throws IOException {
        return served().stream().filter(s -> s.method().equals(method) && s.uri().contains(fragment)).count();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}

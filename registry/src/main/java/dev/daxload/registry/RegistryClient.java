package dev.daxload.registry;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The OCI distribution API of one registry, over the JDK's {@code java.net.http}: blobs checked, mounted across
 * repositories, uploaded in chunks ({@code POST} + {@code PATCH} + {@code PUT}), fetched from an offset
 * ({@code Range}); manifests put and got. Authentication follows the registry's challenge: HTTP basic, or a bearer
 * token fetched from the realm it names (with the credentials, when there are some). 5xx answers and broken
 * connections are retried a bounded number of times; a request is only re-sent when its body can be made again.
 */
public final class RegistryClient {
    private static final Logger LOG = LoggerFactory.getLogger(RegistryClient.class);
    private static final Pattern CHALLENGE_PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    /** What a pull asks a manifest endpoint for: OCI manifests (ModelPack artifacts are OCI image manifests). */
    static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";

    /**
     * How to reach the registry.
     *
     * @param plainHttp speak HTTP instead of HTTPS (registries on loopback; ORAS's flag of the same name)
     * @param caFile PEM certificates trusted beside the system's trust store
     * @param credentials user and password for basic auth or for the token endpoint
     * @param retries how many times a 5xx answer or a broken connection is retried
     */
    public record Options(boolean plainHttp, Optional<Path> caFile, Optional<Credentials> credentials, int retries) {
        /** Defaults: HTTPS with the system's trust store, no credentials, four retries. */
        public static Options defaults() {
            return new Options(false, Optional.empty(), Optional.empty(), 4);
        }
    }

    /** A manifest as the registry sent it: its exact bytes (their digest is the manifest's digest). */
    public record FetchedManifest(byte[] body, String mediaType, String digest) {
    }

    private final String registry;
    private final String base;
    private final Options options;
    private final HttpClient http;
    private volatile String authorization;

    /**
     * @param registry host and optional port, as in an {@link ImageReference}
     * @throws IOException when the CA file cannot be read
     */
    public RegistryClient(String registry, String apiHost, Options options) throws IOException {
        this.registry = registry;
        this.base = (options.plainHttp() ? "http://" : "https://") + apiHost + "/v2/";
        this.options = options;
        HttpClient.Builder b = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(30))
                .followRedirects(HttpClient.Redirect.NORMAL);
        if (options.caFile().isPresent()) {
            try {
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, new javax.net.ssl.TrustManager[] {TrustStores.systemPlus(options.caFile().get())}, null);
                b.sslContext(ctx);
            } catch (GeneralSecurityException e) {
                throw new IOException(options.caFile().get() + ": cannot be used as trusted certificates: " + e.getMessage(), e);
            }
        }
        this.http = b.build();
    }

    /** A client for the registry {@code ref} lives in. */
    public static RegistryClient of(ImageReference ref, Options options) throws IOException {
        return new RegistryClient(ref.registry(), ref.apiHost(), options);
    }

    /** Whether the registry holds {@code digest} in {@code repository} ({@code HEAD}). */
    public boolean blobExists(String repository, String digest) throws IOException {
        HttpResponse<Void> r = send(() -> request(repository + "/blobs/" + digest).method("HEAD", HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.discarding(), "HEAD blob " + digest);
        if (r.statusCode() == 200) {
            return true;
        }
        if (r.statusCode() == 404) {
            return false;
        }
        throw failure("HEAD blob " + digest + " in " + repository, r.statusCode(), "");
    }

    /**
     * Asks the registry to link {@code digest} from {@code fromRepository} into {@code repository} without sending
     * it. Returns false when the registry would rather have the bytes (it then opened an upload, which is left to
     * expire).
     */
    public boolean mountBlob(String repository, String digest, String fromRepository) throws IOException {
        String path = repository + "/blobs/uploads/?mount=" + enc(digest) + "&from=" + enc(fromRepository);
        HttpResponse<String> r = send(() -> request(path).POST(HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.ofString(), "mount " + digest);
        if (r.statusCode() == 201) {
            return true;
        }
        if (r.statusCode() == 202) {
            return false;
        }
        throw failure("mount of " + digest + " from " + fromRepository + " into " + repository, r.statusCode(), r.body());
    }

    /** Uploads a small blob ({@code content} in memory) in one request. */
    public void uploadBlob(String repository, byte[] content) throws IOException {
        String digest = Digests.of(content);
        String location = startUpload(repository, digest);
        URI put = withQuery(location, "digest=" + enc(digest));
        HttpResponse<String> r = send(() -> HttpRequest.newBuilder(put).header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(content)), HttpResponse.BodyHandlers.ofString(), "PUT blob " + digest);
        if (r.statusCode() != 201) {
            throw failure("upload of " + digest + " to " + repository, r.statusCode(), r.body());
        }
    }

    /**
     * Uploads every byte of {@code source} as blob {@code digest}, in chunks of {@code chunkBytes} ({@code PATCH} with
     * {@code Content-Range}), then closes the upload with the digest, which the registry checks.
     */
    void uploadBlob(String repository, String digest, BlobSource source, int chunkBytes, Progress progress) throws IOException {
        long size = source.size();
        String location = startUpload(repository, digest);
        byte[] chunk = new byte[(int) Math.min(chunkBytes, Math.max(1, size))];
        long sent = 0;
        while (sent < size) {
            int n = (int) Math.min(chunk.length, size - sent);
            ByteBuffer buf = ByteBuffer.wrap(chunk, 0, n);
            while (buf.hasRemaining()) {
                if (source.read(buf, sent + buf.position()) < 0) {
                    throw new IOException("source ended at byte " + (sent + buf.position()) + " of " + size + " while uploading " + digest);
                }
            }
            URI target = URI.create(location);
            long first = sent;
            HttpResponse<String> r = send(() -> HttpRequest.newBuilder(target)
                            .header("Content-Type", "application/octet-stream")
                            .header("Content-Range", first + "-" + (first + n - 1))
                            .method("PATCH", HttpRequest.BodyPublishers.ofByteArray(chunk, 0, n)),
                    HttpResponse.BodyHandlers.ofString(), "PATCH blob " + digest);
            if (r.statusCode() != 202) {
                throw failure("upload of " + digest + " to " + repository + " at byte " + first, r.statusCode(), r.body());
            }
            location = absolute(r.headers().firstValue("Location")
                    .orElseThrow(() -> new RegistryException(registry + ": PATCH of " + digest + " answered 202 without a Location")));
            sent += n;
            progress.bytes(sent, size);
        }
        URI put = withQuery(location, "digest=" + enc(digest));
        HttpResponse<String> r = send(() -> HttpRequest.newBuilder(put).PUT(HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.ofString(), "PUT blob " + digest);
        if (r.statusCode() != 201) {
            throw failure("upload of " + digest + " to " + repository + " (closing it)", r.statusCode(), r.body());
        }
    }

    /** Puts a manifest under {@code reference} (a tag or its digest); returns the digest the registry gave it. */
    public String putManifest(String repository, String reference, byte[] body, String mediaType) throws IOException {
        HttpResponse<String> r = send(() -> request(repository + "/manifests/" + reference)
                        .header("Content-Type", mediaType).PUT(HttpRequest.BodyPublishers.ofByteArray(body)),
                HttpResponse.BodyHandlers.ofString(), "PUT manifest " + reference);
        if (r.statusCode() != 201) {
            throw failure("manifest " + repository + ":" + reference, r.statusCode(), r.body());
        }
        return r.headers().firstValue("Docker-Content-Digest").orElse(Digests.of(body));
    }

    /**
     * The manifest {@code ref} names (its tag or digest in its repository), as
     * {@link #getManifest(String, String)}, a 404 told as "no such tag" (or manifest) naming the reference.
     *
     * @throws RegistryException with status 404 when the registry does not know it
     */
    public FetchedManifest getManifest(ImageReference ref) throws IOException {
        try {
            return getManifest(ref.repository(), ref.manifestReference());
        } catch (RegistryException e) {
            if (e.status() == 404) {
                throw new RegistryException(ref + ": no such " + (ref.digest().isPresent() ? "manifest" : "tag")
                        + " in " + ref.registry() + "/" + ref.repository(), 404, e);
            }
            throw e;
        }
    }

    /**
     * The manifest {@code reference} names, checked against the digest when the reference is one.
     *
     * @throws RegistryException with status 404 when the registry does not know it
     */
    public FetchedManifest getManifest(String repository, String reference) throws IOException {
        HttpResponse<byte[]> r = send(() -> request(repository + "/manifests/" + reference)
                        .header("Accept", OCI_MANIFEST + ", " + OCI_INDEX).GET(),
                HttpResponse.BodyHandlers.ofByteArray(), "GET manifest " + reference);
        if (r.statusCode() != 200) {
            throw failure("manifest " + repository + ":" + reference, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        }
        byte[] body = r.body();
        if (body.length > 4 << 20) {
            throw new RegistryException(registry + "/" + repository + ":" + reference + ": a manifest of " + body.length
                    + " bytes (at most 4 MiB, as the distribution spec advises)");
        }
        String digest = Digests.of(body);
        if (reference.startsWith("sha256:") && !reference.equals(digest)) {
            throw new RegistryException(registry + "/" + repository + "@" + reference + ": the registry sent a manifest whose digest is "
                    + digest);
        }
        String type = r.headers().firstValue("Content-Type").orElse("").split(";")[0].trim();
        return new FetchedManifest(body, type, digest);
    }

    /**
     * Opens blob {@code digest} from byte {@code from} on. The answer is 206 with a {@code Content-Range} starting at
     * {@code from}, or 200 with the whole blob when the registry ignores ranges: the caller looks.
     */
    public HttpResponse<InputStream> openBlob(String repository, String digest, long from) throws IOException {
        return openBlob(repository, digest, from, -1);
    }

    /**
     * Opens bytes {@code from} to {@code to} (exclusive; -1: to the end) of blob {@code digest}: a {@code Range}
     * request unless the whole blob is asked for. The caller checks the answer's status and {@code Content-Range}.
     */
    public HttpResponse<InputStream> openBlob(String repository, String digest, long from, long to) throws IOException {
        HttpResponse<InputStream> r = send(() -> {
            HttpRequest.Builder b = request(repository + "/blobs/" + digest).GET();
            if (to >= 0) {
                return b.header("Range", "bytes=" + from + "-" + (to - 1));
            }
            return from > 0 ? b.header("Range", "bytes=" + from + "-") : b;
        }, HttpResponse.BodyHandlers.ofInputStream(), "GET blob " + digest);
        if (r.statusCode() != 200 && r.statusCode() != 206) {
            String body;
            try (InputStream in = r.body()) {
                body = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
            }
            throw failure("blob " + digest + " of " + repository, r.statusCode(), body);
        }
        return r;
    }

    String registry() {
        return registry;
    }

    private String startUpload(String repository, String digest) throws IOException {
        HttpResponse<String> r = send(() -> request(repository + "/blobs/uploads/").POST(HttpRequest.BodyPublishers.noBody()),
                HttpResponse.BodyHandlers.ofString(), "POST upload " + digest);
        if (r.statusCode() != 202) {
            throw failure("starting the upload of " + digest + " to " + repository, r.statusCode(), r.body());
        }
        return absolute(r.headers().firstValue("Location")
                .orElseThrow(() -> new RegistryException(registry + ": upload start answered 202 without a Location")));
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base + path));
    }

    private String absolute(String location) {
        if (location.startsWith("http://") || location.startsWith("https://")) {
            return location;
        }
        return URI.create(base).resolve(location).toString();
    }

    private static URI withQuery(String location, String query) {
        return URI.create(location + (location.contains("?") ? "&" : "?") + query);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /**
     * Sends with the current authorization; on 401 answers the challenge once and sends again; retries 5xx answers
     * and broken connections {@link Options#retries} times with a doubling pause.
     */
    private <T> HttpResponse<T> send(Supplier<HttpRequest.Builder> request, HttpResponse.BodyHandler<T> handler,
                                     String what) throws IOException {
        boolean challenged = false;
        int attempt = 0;
        while (true) {
            HttpRequest.Builder b = request.get().header("User-Agent", "daxload");
            String auth = authorization;
            if (auth != null) {
                b.header("Authorization", auth);
            }
            HttpResponse<T> r;
            try {
                r = http.send(b.build(), handler);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(registry + ": interrupted during " + what, e);
            } catch (IOException e) {
                if (attempt++ < options.retries()) {
                    LOG.warn("{}: {} failed ({}), retrying", registry, what, e.toString());
                    pause(attempt);
                    continue;
                }
                throw new RegistryException(registry + ": " + what + " failed after " + attempt + " attempts: " + e.getMessage(), e);
            }
            if (r.statusCode() == 401 && !challenged) {
                challenged = true;
                discard(r);
                authorization = answer(r.headers().firstValue("WWW-Authenticate").orElse(""), what);
                continue;
            }
            if (r.statusCode() >= 500 && attempt++ < options.retries()) {
                LOG.warn("{}: {} answered {}, retrying", registry, what, r.statusCode());
                discard(r);
                pause(attempt);
                continue;
            }
            return r;
        }
    }

    private static void discard(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the connection is dropped either way
            }
        }
    }

    private static void pause(int attempt) throws IOException {
        try {
            Thread.sleep(Math.min(5_000L, 200L << attempt));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting to retry", e);
        }
    }

    /** The Authorization header that answers {@code challenge} (basic, or a bearer token from its realm). */
    private String answer(String challenge, String what) throws IOException {
        String scheme = challenge.split(" ", 2)[0].toLowerCase(Locale.ROOT);
        Optional<Credentials> creds = options.credentials();
        if (scheme.equals("basic")) {
            return creds.orElseThrow(() -> new RegistryException(registry + " asks for a user name and password (" + what
                    + "): give --username and --password-stdin, or log in with docker/podman/oras", 401, null)).basicHeader();
        }
        if (!scheme.equals("bearer")) {
            throw new RegistryException(registry + ": " + what + " answered 401 with a challenge daxload does not know: '"
                    + challenge + "'", 401, null);
        }
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = CHALLENGE_PARAM.matcher(challenge);
        while (m.find()) {
            params.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2));
        }
        String realm = params.get("realm");
        if (realm == null) {
            throw new RegistryException(registry + ": a bearer challenge without a realm: '" + challenge + "'", 401, null);
        }
        StringBuilder q = new StringBuilder();
        for (String k : new String[] {"service", "scope"}) {
            if (params.containsKey(k)) {
                q.append(q.isEmpty() ? "" : "&").append(k).append('=').append(enc(params.get(k)));
            }
        }
        URI tokenUri = URI.create(realm + (q.isEmpty() ? "" : (realm.contains("?") ? "&" : "?") + q));
        HttpRequest.Builder b = HttpRequest.newBuilder(tokenUri).GET().header("User-Agent", "daxload");
        creds.ifPresent(c -> b.header("Authorization", c.basicHeader()));
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while asking " + realm + " for a token", e);
        }
        if (r.statusCode() != 200) {
            throw new RegistryException(registry + ": the token service " + realm + " answered " + r.statusCode()
                    + (creds.isEmpty() ? " (no credentials were given)" : " for user " + creds.get().username()), r.statusCode(), null);
        }
        try {
            JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
            JsonElement token = o.has("token") ? o.get("token") : o.get("access_token");
            if (token == null) {
                throw new RegistryException(registry + ": the token service " + realm + " answered without a token");
            }
            return "Bearer " + token.getAsString();
        } catch (JsonParseException | IllegalStateException e) {
            throw new RegistryException(registry + ": the token service " + realm + " answered something that is not JSON", e);
        }
    }

    private RegistryException failure(String what, int status, String body) {
        String detail = errorMessage(body);
        String meaning = switch (status) {
            case 401 -> "not authorized";
            case 403 -> "forbidden";
            case 404 -> "not found";
            case 416 -> "range not satisfiable";
            default -> "HTTP " + status;
        };
        return new RegistryException(registry + ": " + what + ": " + meaning + (detail.isEmpty() ? "" : " (" + detail + ")"), status, null);
    }

    /** The {@code errors[].code: message} of an OCI error body, or nothing. */
    private static String errorMessage(String body) {
        if (body == null || body.isBlank()) {
            return "";
        }
        try {
            JsonObject o = JsonParser.parseString(body).getAsJsonObject();
            StringBuilder sb = new StringBuilder();
            for (JsonElement e : o.getAsJsonArray("errors")) {
                JsonObject err = e.getAsJsonObject();
                sb.append(sb.isEmpty() ? "" : "; ").append(err.has("code") ? err.get("code").getAsString() : "?")
                        .append(err.has("message") ? ": " + err.get("message").getAsString() : "");
            }
            return sb.toString();
        } catch (RuntimeException e) {
            return body.length() > 200 ? body.substring(0, 200) + "..." : body.strip();
        }
    }
}

package dev.daxload.registry;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;

/**
 * A user name and password for one registry, given on the command line or found where Docker, podman, skopeo and
 * ORAS keep them: {@code $REGISTRY_AUTH_FILE}, else {@code ~/.docker/config.json} ({@code auths.<host>.auth},
 * base64 of {@code user:password}). Credential helpers ({@code credsStore}) are not run.
 */
public record Credentials(String username, String password) {
    public Credentials {
        if (username.isEmpty()) {
            throw new IllegalArgumentException("empty user name");
        }
    }

    /** {@code Basic ...} for an Authorization header. */
    String basicHeader() {
        return "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The credentials stored for {@code registry}, if any.
     *
     * @throws IOException naming the auth file when it exists but cannot be read as Docker's format
     */
    public static Optional<Credentials> stored(String registry, Map<String, String> env) throws IOException {
        Path file = Optional.ofNullable(env.get("REGISTRY_AUTH_FILE")).map(Path::of)
                .orElseGet(() -> Path.of(Optional.ofNullable(env.get("DOCKER_CONFIG"))
                        .orElse(System.getProperty("user.home") + "/.docker"), "config.json"));
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        JsonObject auths;
        try {
            JsonElement root = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
            JsonElement a = root.isJsonObject() ? root.getAsJsonObject().get("auths") : null;
            if (a == null) {
                return Optional.empty();
            }
            auths = a.getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IOException(file + ": not a Docker auth file (" + e.getMessage() + ")", e);
        }
        for (String key : new String[] {registry, "https://" + registry, "http://" + registry,
                registry.equals("docker.io") ? "https://index.docker.io/v1/" : registry}) {
            JsonElement entry = auths.get(key);
            if (entry != null && entry.isJsonObject() && entry.getAsJsonObject().has("auth")) {
                String encoded = entry.getAsJsonObject().get("auth").getAsString();
                String pair;
                try {
                    pair = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + ": auths." + key + ".auth is not base64", e);
                }
                int colon = pair.indexOf(':');
                if (colon <= 0) {
                    throw new IOException(file + ": auths." + key + ".auth is not base64 of user:password");
                }
                return Optional.of(new Credentials(pair.substring(0, colon), pair.substring(colon + 1)));
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return "Credentials[" + username + ", password hidden]";
    }
}

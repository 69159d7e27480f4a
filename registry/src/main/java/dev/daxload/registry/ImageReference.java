package dev.daxload.registry;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where an artifact lives in a registry: {@code HOST[:PORT]/REPOSITORY[:TAG][@sha256:HEX]}, as Docker, ORAS and
 * skopeo spell it (the grammar of the distribution project's reference package). A reference without a tag or a
 * digest means tag {@code latest}; a first component that is not a host (no dot, no port, not
 * {@code localhost}) means Docker Hub, as everywhere else.
 *
 * @param registry the registry's host and optional port ({@code 127.0.0.1:5000}, {@code ghcr.io})
 * @param repository the repository path ({@code models/bge-small})
 * @param tag the tag, when the reference names one
 * @param digest the manifest digest ({@code sha256:...}), when the reference pins one
 */
public record ImageReference(String registry, String repository, Optional<String> tag, Optional<String> digest) {
    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    private static final Pattern HOST = Pattern.compile(
            "(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?");
    private static final String DOCKER_HUB = "docker.io";

    public ImageReference {
        if (tag.isEmpty() && digest.isEmpty()) {
            tag = Optional.of("latest");
        }
    }

    /**
     * Parses a reference; an {@code oci://} prefix (the URL form DJL users write) is accepted and dropped.
     *
     * @throws IllegalArgumentException naming the part of {@code text} that breaks the grammar
     */
    public static ImageReference parse(String text) {
        String s = text.startsWith("oci://") ? text.substring("oci://".length()) : text;
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty image reference");
        }
        Optional<String> digest = Optional.empty();
        int at = s.indexOf('@');
        if (at >= 0) {
            String d = s.substring(at + 1);
            Digests.check(d, "reference '" + text + "'");
            digest = Optional.of(d);
            s = s.substring(0, at);
        }
        Optional<String> tag = Optional.empty();
        int lastSlash = s.lastIndexOf('/');
        int colon = s.lastIndexOf(':');
        if (colon > lastSlash) {
            String t = s.substring(colon + 1);
            if (!TAG.matcher(t).matches()) {
                throw new IllegalArgumentException("reference '" + text + "': tag '" + t
                        + "' is not a tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')");
            }
            tag = Optional.of(t);
            s = s.substring(0, colon);
        }
        String registry = DOCKER_HUB;
        int slash = s.indexOf('/');
        if (slash > 0) {
            String first = s.substring(0, slash);
            if (first.contains(".") || first.contains(":") || first.equals("localhost") || first.startsWith("[")) {
                Matcher m = HOST.matcher(first);
                if (!m.matches()) {
                    throw new IllegalArgumentException("reference '" + text + "': '" + first + "' is not a host[:port]");
                }
                registry = first;
                s = s.substring(slash + 1);
            }
        }
        if (registry.equals(DOCKER_HUB) && !s.contains("/")) {
            s = "library/" + s;
        }
        for (String component : s.split("/", -1)) {
            if (!COMPONENT.matcher(component).matches()) {
                throw new IllegalArgumentException("reference '" + text + "': repository component '" + component
                        + "' is not lower-case letters and digits joined by '.', '_', '__' or '-'");
            }
        }
        if (s.length() > 255) {
            throw new IllegalArgumentException("reference '" + text + "': repository longer than 255 characters");
        }
        return new ImageReference(registry, s, tag, digest);
    }

    /** The host the registry's HTTP API answers on (Docker Hub's API is not on docker.io itself). */
    public String apiHost() {
        return registry.equals(DOCKER_HUB) ? "registry-1.docker.io" : registry;
    }

    /** What the manifest endpoint is asked for: the digest when pinned, else the tag. */
    public String manifestReference() {
        return digest.orElseGet(tag::orElseThrow);
    }

    /** The same repository pinned to {@code manifestDigest}. */
    public ImageReference withDigest(String manifestDigest) {
        return new ImageReference(registry, repository, tag, Optional.of(manifestDigest));
    }

    @Override
    public String toString() {
        return registry + "/" + repository + tag.map(t -> ":" + t).orElse("") + digest.map(d -> "@" + d).orElse("");
    }
}

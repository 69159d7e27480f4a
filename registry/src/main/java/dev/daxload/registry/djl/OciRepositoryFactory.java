package dev.daxload.registry.djl;

import ai.djl.repository.Repository;
import ai.djl.repository.RepositoryFactory;
import java.net.URI;
import java.util.Set;

/**
 * Makes {@code oci://} URLs work wherever DJL takes a model URL: the image is pulled once into the host's
 * digest-addressed cache (see {@link dev.daxload.registry.OciImages}) and loaded from there exactly as a
 * {@code daxfs:} URL loads it, with the same query options.
 *
 * <pre>{@code
 * Criteria.builder().setTypes(NDList.class, NDList.class)
 *         .optModelUrls("oci://registry.example.com/models/bge-small@sha256:...?model=bge")
 *         .build().loadModel();
 * }</pre>
 *
 * Options of its own: {@code plain-http=true} (a registry on loopback), {@code ca-file=PEM} and
 * {@code streams=N} (ranged GETs at once, for a registry where one connection is the limit). Credentials come
 * from {@code $REGISTRY_AUTH_FILE} or {@code ~/.docker/config.json}.
 */
public final class OciRepositoryFactory implements RepositoryFactory {
    @Override
    public Repository newInstance(String name, URI uri) {
        return new OciRepository(name, uri);
    }

    @Override
    public Set<String> getSupportedScheme() {
        return Set.of("oci");
    }
}

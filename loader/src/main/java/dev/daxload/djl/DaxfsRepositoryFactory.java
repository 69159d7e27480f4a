package dev.daxload.djl;

import ai.djl.repository.Repository;
import ai.djl.repository.RepositoryFactory;
import java.net.URI;
import java.util.Set;

/**
 * Makes {@code daxfs:} URLs work wherever DJL takes a model URL:
 *
 * <pre>{@code
 * Criteria.builder().setTypes(NDList.class, NDList.class)
 *         .optModelUrls("daxfs:///srv/models.daxfs?model=minilm")
 *         .build().loadModel();
 * }</pre>
 *
 * Registered through {@code META-INF/services/ai.djl.repository.RepositoryFactory}.
 */
public final class DaxfsRepositoryFactory implements RepositoryFactory {
    /** Made by DJL's service loading (through the Java 17 entry) or by an application registering it by hand. */
    public DaxfsRepositoryFactory() {}

    @Override
    public Repository newInstance(String name, URI uri) {
        return new DaxfsRepository(name, uri);
    }

    @Override
    public Set<String> getSupportedScheme() {
        return Set.of("daxfs");
    }
}

package dev.daxload.djl.compat.internal;

import ai.djl.repository.Repository;
import ai.djl.repository.RepositoryFactory;
import java.net.URI;
import java.util.Set;

/**
 * The {@code daxfs:} entry in {@code META-INF/services/ai.djl.repository.RepositoryFactory}, compiled
 * for Java 17 (DJL's own floor) while the rest of daxload needs Java 25. DJL instantiates every
 * registered factory when it first resolves any model URL; a factory class it cannot load would break
 * {@code file:} and {@code djl:} URLs too. This one loads on any JVM DJL runs on, hands {@code daxfs:}
 * URLs to {@link dev.daxload.djl.DaxfsRepositoryFactory} on Java 25 and later, and on an older JVM
 * refuses them with one sentence naming the version needed.
 */
public class VersionCheckingRepositoryFactory implements RepositoryFactory {
    /** The Java feature release daxload's classes are compiled for. */
    static final int JAVA_NEEDED = 25;
    private static final String IMPLEMENTATION = "dev.daxload.djl.DaxfsRepositoryFactory";

    private final RepositoryFactory delegate;
    private final String scheme;

    /** Called by DJL's service loading. */
    public VersionCheckingRepositoryFactory() {
        this("daxfs", IMPLEMENTATION);
    }

    /**
     * For other daxload modules' DJL entries (compiled for Java 17 too): {@code scheme} URLs go to
     * {@code implementation} on Java 25 and later.
     */
    protected VersionCheckingRepositoryFactory(String scheme, String implementation) {
        this.scheme = scheme;
        this.delegate = Runtime.version().feature() >= JAVA_NEEDED ? load(implementation) : null;
    }

    private static RepositoryFactory load(String implementation) {
        try {
            // Reflectively, so that no Java 25 class is linked from here on an older JVM.
            return (RepositoryFactory) Class.forName(implementation).getConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("daxload: cannot load " + implementation + ": " + e, e);
        }
    }

    @Override
    public Repository newInstance(String name, URI uri) {
        if (delegate == null) {
            throw new UnsupportedOperationException(message(uri));
        }
        return delegate.newInstance(name, uri);
    }

    /** The sentence an older JVM gets for a {@code daxfs:} URL. */
    static String message(URI uri) {
        return "daxload needs Java " + JAVA_NEEDED + " or newer to load " + uri + ", and this JVM is Java "
                + Runtime.version() + " (" + System.getProperty("java.home") + "); run the application on a JDK "
                + JAVA_NEEDED + ".";
    }

    @Override
    public Set<String> getSupportedScheme() {
        return Set.of(scheme);
    }
}

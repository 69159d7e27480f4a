package dev.daxload.registry.djl.compat;

import dev.daxload.djl.compat.internal.VersionCheckingRepositoryFactory;

/**
 * The {@code oci:} entry in {@code META-INF/services/ai.djl.repository.RepositoryFactory}, compiled for Java 17 like
 * the loader's {@code daxfs:} entry, so that this jar on an older JVM's class path breaks no other DJL URL.
 */
public final class OciServiceEntry extends VersionCheckingRepositoryFactory {
    /** Called by DJL's service loading. */
    public OciServiceEntry() {
        super("oci", "dev.daxload.registry.djl.OciRepositoryFactory");
    }
}

/**
 * Internal to daxload: the DJL service entry, compiled for Java 17 so that an older JVM gets a clear error
 * for {@code daxfs:} URLs instead of an {@code UnsupportedClassVersionError} that breaks every DJL model URL.
 *
 * <p>Public because {@code ServiceLoader} instantiates it and the registry module's entry extends it. Not in
 * the published Javadoc.
 */
package dev.daxload.djl.compat.internal;

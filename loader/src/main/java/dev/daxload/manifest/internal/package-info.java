/**
 * Internal to daxload: the manifest read ahead on a thread of its own while an image is validated
 * ({@code ManifestPrefetch}), which {@code ModelWeights.open} starts and {@code ModelCatalog} checks against
 * the validated image's bytes.
 *
 * <p>Public only because the loader's {@code model} package and the samples' tests use it across packages.
 * Not in the published Javadoc, exported only to the daxload modules.
 */
package dev.daxload.manifest.internal;

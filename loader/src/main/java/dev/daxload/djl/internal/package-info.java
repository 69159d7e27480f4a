/**
 * Internal to daxload: the mappings shared by {@code daxfs:} loads ({@code SharedImages}) and the
 * directories loads write engines' files into ({@code TempDirectories}).
 *
 * <p>Public only because the samples' end-to-end tests count the open mappings to prove that closing a model
 * unmaps its image. Not in the published Javadoc, exported only to the daxload modules.
 */
package dev.daxload.djl.internal;

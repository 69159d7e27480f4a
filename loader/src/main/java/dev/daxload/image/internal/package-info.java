/**
 * Internal to daxload: how an image is mapped ({@code Mmap}), checked ({@code ImageValidator}), laid out on
 * disk ({@code DaxfsLayout}) and found under a DAXFS mount ({@code MountedImage}).
 *
 * <p>Public only because the packager, the command line and the dma-buf bridge write, verify and map images
 * with the same rules as the loader; a {@code DaxImage} user never needs them. Not in the published Javadoc,
 * exported by the module only to the daxload modules, and free to change without notice.
 */
package dev.daxload.image.internal;

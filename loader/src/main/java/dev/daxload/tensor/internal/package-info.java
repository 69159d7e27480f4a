/**
 * Internal to daxload: the CRC32C of tensor bytes ({@code Checksums}), which {@code TensorView.verify()} uses.
 *
 * <p>Public only because the samples' checksum benchmark times the two ways it reads memory; users call
 * {@code TensorView.verify()}. Not in the published Javadoc, exported only to the daxload modules.
 */
package dev.daxload.tensor.internal;

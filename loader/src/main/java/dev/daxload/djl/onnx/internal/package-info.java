/**
 * Internal to daxload: the ONNX Runtime plumbing of a {@code daxfs:} load -- initializers that point into the
 * image ({@code OrtInitializers}), ONNX Runtime's own optimized form kept in an image ({@code OrtImageForm},
 * {@code OrtLoadPlan}) and the key that says which ORT version and processor made it ({@code OrtFormKey}).
 *
 * <p>Public only because the packager writes that optimized form ({@code pack-model --ort-prepack},
 * {@code daxload prepack}) and the command line reports its key; DJL users load it through a {@code daxfs:}
 * URL. Not in the published Javadoc, exported only to the daxload modules.
 */
package dev.daxload.djl.onnx.internal;

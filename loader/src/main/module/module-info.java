/**
 * daxload's loader: reads DAXFS images from any memory and hands their tensors to DJL without copying.
 *
 * <p>The API packages are exported to everyone; the {@code *.internal} packages hold what the other daxload
 * modules share with the loader (mapping, validation, layout constants, ONNX Runtime plumbing) and are
 * exported only to them. DJL and ONNX Runtime are optional ({@code requires static}): the plain image and
 * view API needs neither; the {@code dev.daxload.djl} package needs DJL's API and the engine it uses.
 */
@SuppressWarnings("module") // the daxload modules named in qualified exports are compiled after this one
module dev.daxload.loader {
    requires org.slf4j;
    requires transitive com.google.gson; // ModelManifest's source and metadata are Gson objects
    // Not transitive, though the djl package's signatures name DJL types: a static transitive edge makes
    // javac look for DJL when it compiles a module that requires this one and has no DJL (tried with a
    // descriptor for the packager).
    requires static ai.djl.api;
    requires static ai.djl.onnxruntime_engine;
    requires static ai.djl.pytorch_engine;
    requires static com.microsoft.onnxruntime;

    exports dev.daxload.image;
    exports dev.daxload.manifest;
    exports dev.daxload.model;
    exports dev.daxload.table;
    exports dev.daxload.tensor;
    exports dev.daxload.djl;

    exports dev.daxload.image.internal to dev.daxload.packager, dev.daxload.bridge, dev.daxload.registry, dev.daxload.cli, dev.daxload.samples;
    exports dev.daxload.tensor.internal to dev.daxload.samples;
    exports dev.daxload.manifest.internal to dev.daxload.samples;
    exports dev.daxload.djl.internal to dev.daxload.samples;
    exports dev.daxload.djl.onnx.internal to dev.daxload.packager, dev.daxload.cli, dev.daxload.samples;
    exports dev.daxload.djl.compat.internal to dev.daxload.registry;

    provides ai.djl.repository.RepositoryFactory with dev.daxload.djl.compat.internal.VersionCheckingRepositoryFactory;
}

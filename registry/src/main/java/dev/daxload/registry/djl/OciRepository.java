package dev.daxload.registry.djl;

import ai.djl.repository.AbstractRepository;
import ai.djl.repository.Artifact;
import ai.djl.repository.MRL;
import ai.djl.repository.Metadata;
import ai.djl.repository.Repository;
import ai.djl.repository.zoo.DefaultModelZoo;
import ai.djl.repository.zoo.ModelNotFoundException;
import ai.djl.util.Progress;
import dev.daxload.djl.DaxfsRepositoryFactory;
import dev.daxload.registry.Credentials;
import dev.daxload.registry.ImageReference;
import dev.daxload.registry.OciImages;
import dev.daxload.registry.RegistryClient;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@code oci://} model URL: the image is fetched into the shared cache the first time DJL asks this repository
 * anything, then every question goes to the {@code daxfs:} repository over the cached file. A reference that cannot
 * be fetched surfaces as DJL reports a model it cannot find: {@link ModelNotFoundException} from
 * {@code Criteria.loadModel()}, naming the reference and why.
 */
final class OciRepository extends AbstractRepository {
    private static final Logger LOG = LoggerFactory.getLogger(OciRepository.class);
    /** Query options this repository reads itself; the rest are the {@code daxfs:} options, passed on. */
    static final List<String> OWN_OPTIONS = List.of("plain-http", "ca-file", "streams");

    private final ImageReference reference;
    private Repository delegate;

    OciRepository(String name, URI uri) {
        super(name, uri);
        this.reference = ImageReference.parse(uri.getRawAuthority() + uri.getRawPath());
    }

    private synchronized Repository delegate() throws IOException {
        if (delegate == null) {
            String plain = arguments.getOrDefault("plain-http", "false");
            if (!plain.equals("true") && !plain.equals("false")) {
                throw new IllegalArgumentException(uri + ": plain-http must be true or false, not '" + plain + "'");
            }
            Optional<Path> ca = Optional.ofNullable(arguments.get("ca-file")).map(Path::of);
            RegistryClient.Options options = new RegistryClient.Options(Boolean.parseBoolean(plain), ca,
                    Credentials.stored(reference.registry(), System.getenv()), 4);
            String streamsArg = arguments.getOrDefault("streams", Integer.toString(dev.daxload.registry.ImagePull.DEFAULT_STREAMS));
            int streams;
            try {
                streams = Integer.parseInt(streamsArg);
            } catch (NumberFormatException e) {
                streams = 0;
            }
            if (streams < 1 || streams > 64) {
                throw new IllegalArgumentException(uri + ": streams must be a number of ranged GETs from 1 to 64, not '"
                        + streamsArg + "'");
            }
            Path image = OciImages.fetch(reference, options, streams);
            String query = arguments.entrySet().stream().filter(e -> !OWN_OPTIONS.contains(e.getKey()))
                    .map(e -> enc(e.getKey()) + "=" + enc(e.getValue())).collect(Collectors.joining("&"));
            URI daxfs = URI.create("daxfs://" + image.toUri().getRawPath() + (query.isEmpty() ? "" : "?" + query));
            delegate = new DaxfsRepositoryFactory().newInstance(name, daxfs);
        }
        return delegate;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Override
    public boolean isRemote() {
        return false; // what DJL loads is the cached local file
    }

    @Override
    public Metadata locate(MRL mrl) throws IOException {
        try {
            return delegate().locate(mrl);
        } catch (IOException | RuntimeException e) {
            if (e instanceof RuntimeException && e.getCause() instanceof ModelNotFoundException) {
                throw e;
            }
            ModelNotFoundException notFound = new ModelNotFoundException("oci: cannot load '" + mrl.getArtifactId() + "' from "
                    + reference + ": " + e.getMessage(), e);
            throw OciRepository.<RuntimeException>sneaky(notFound);
        }
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> E sneaky(Throwable t) throws E {
        throw (E) t; // DJL reports a missing model as ModelNotFoundException, which locate cannot declare
    }

    @Override
    public Artifact resolve(MRL mrl, Map<String, String> filter) throws IOException {
        return locate(mrl).getArtifacts().get(0);
    }

    @Override
    public Path getResourceDirectory(Artifact artifact) throws IOException {
        return delegate().getResourceDirectory(artifact);
    }

    @Override
    public void prepare(Artifact artifact, Progress progress) {
        // fetched in delegate(); nothing else to download
    }

    @Override
    public Path getCacheDirectory() {
        return OciImages.cacheDirectory();
    }

    /**
     * The image's models as the {@code daxfs:} repository lists them; when the reference cannot be fetched now, one
     * resource named after the URL's model (or the repository), so that {@code loadModel()} is where the error shows.
     */
    @Override
    public List<MRL> getResources() {
        try {
            return delegate().getResources();
        } catch (IOException | RuntimeException e) {
            LOG.debug("oci: {} cannot be fetched now ({}); loadModel will say why", reference, e.toString());
            String fallback = arguments.getOrDefault("model",
                    reference.repository().substring(reference.repository().lastIndexOf('/') + 1));
            return List.of(MRL.undefined(this, DefaultModelZoo.GROUP_ID, fallback));
        }
    }

    @Override
    public String toString() {
        return "oci repository " + uri;
    }
}

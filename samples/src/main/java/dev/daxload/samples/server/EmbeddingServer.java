package dev.daxload.samples.server;

import ai.djl.engine.Engine;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.inference.Predictor;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.translate.TranslateException;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.daxload.djl.DaxfsEngines;
import dev.daxload.djl.DaxfsModels;
import dev.daxload.djl.internal.SharedImages;
import dev.daxload.image.MapOptions;
import dev.daxload.model.ModelWeights;
import dev.daxload.samples.SentenceEmbeddingTranslator;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sentence-embedding server over one model of a DAXFS image, on the JDK's own HTTP server: the
 * weights are views of the mapped image (ONNX Runtime initializers in place), so every instance on a
 * host shares one physical copy, and start-up costs what mapping costs, not what reading costs.
 *
 * <pre>
 * POST /embed   {"input": "a sentence"} or {"input": ["one", "two"]}
 *            -> {"model": "minilm", "dim": 384, "embeddings": [[...], [...]]}
 * GET  /health  -> ok
 * </pre>
 *
 * <p>Each start-up phase is logged with its time since the JVM started: {@code jvm} (to {@code main}),
 * {@code map} (the image mapped, checked and indexed), {@code engine} (ONNX Runtime), {@code session}
 * (DJL's {@code Criteria.loadModel}: the manifest, every tensor a view, side files, ONNX Runtime's session
 * over the views; it joins the mapping made in {@code map}), {@code first
 * answer} (one embedding computed) and {@code listening}; {@code tokenizer} (its {@code tokenizer.json} read
 * from the image, or its file for the baseline) loads on a thread of its own meanwhile, in both ways.
 *
 * <pre>
 * usage: EmbeddingServer --image IMAGE --model NAME [--port 8080] [--host 127.0.0.1]
 *                        [--pooling mean|cls] [--prepacking] [--threads N] [--mapping shared|private]
 *                        [--exit-after-start]
 * </pre>
 * {@code --onnx FILE --tokenizer FILE} instead of {@code --image}/{@code --model} serves the original
 * files loaded the usual way: the baseline of {@code samples/bench/server-startup.sh}.
 * {@code --mapping shared} (the default) maps the image read-only: ONNX Runtime only reads its
 * initializers, and a read-only mapping of a file needs no native linker at start-up;
 * {@code private} maps it copy-on-write.
 * The image must hold the model's {@code tokenizer.json} as a side file ({@code daxload pack-model
 * --name NAME model.onnx --file tokenizer.json=...}). {@code --pooling cls} for bge models, {@code mean}
 * (the default) for MiniLM. {@code --exit-after-start} stops after the first answer: the training run of
 * an AOT cache ({@code -XX:AOTCacheOutput}).
 */
public final class EmbeddingServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddingServer.class);
    /** Requests larger than this are refused (413): a batch of sentences is far smaller. */
    static final int MAX_BODY = 1 << 20;
    /** At most this many sentences per request. */
    static final int MAX_INPUTS = 256;

    /** What to serve and how. */
    public record Config(Path image, String model, String host, int port, SentenceEmbeddingTranslator.Pooling pooling,
                         boolean prepacking, int threads, boolean sharedMapping, Path onnx, Path tokenizerFile) {
        /** Read-only shared mapping (ONNX Runtime only reads its initializers): FileChannel.map, no native linker. */
        public Config(Path image, String model, String host, int port, SentenceEmbeddingTranslator.Pooling pooling, boolean prepacking, int threads) {
            this(image, model, host, port, pooling, prepacking, threads, true, null, null);
        }

        /**
         * The baseline the benchmarks compare with: the original {@code .onnx} file and tokenizer loaded
         * the usual way ({@code Criteria.optModelPath}, ONNX Runtime's default session settings).
         */
        public static Config plain(Path onnx, Path tokenizerFile, String host, int port, SentenceEmbeddingTranslator.Pooling pooling, int threads) {
            String stem = onnx.getFileName().toString().replaceFirst("\\.onnx$", "");
            return new Config(null, stem, host, port, pooling, true, threads, true, onnx, tokenizerFile);
        }
    }

    private final Config config;
    private final SharedImages.Lease lease;
    private final ZooModel<String, float[]> model;
    private final HuggingFaceTokenizer tokenizer;
    private final HttpServer http;
    private final ExecutorService executor;
    private final ThreadLocal<Predictor<String, float[]>> predictors;
    private final List<Predictor<String, float[]>> allPredictors = new ArrayList<>();
    private final int dim;

    private EmbeddingServer(Config config, SharedImages.Lease lease, ZooModel<String, float[]> model,
                            HuggingFaceTokenizer tokenizer, HttpServer http, ExecutorService executor, int dim) {
        this.config = config;
        this.lease = lease;
        this.model = model;
        this.tokenizer = tokenizer;
        this.http = http;
        this.executor = executor;
        this.dim = dim;
        this.predictors = ThreadLocal.withInitial(() -> {
            Predictor<String, float[]> p = model.newPredictor();
            synchronized (allPredictors) {
                allPredictors.add(p);
            }
            return p;
        });
    }

    /** Milliseconds since the JVM started, for the phase log. */
    private static long sinceJvmStart() {
        return System.currentTimeMillis() - ManagementFactory.getRuntimeMXBean().getStartTime();
    }

    private static long phase(String name, long startNanos) {
        long now = System.nanoTime();
        LOG.info("start-up: {} done at {} ms since JVM start (took {} ms)", name, sinceJvmStart(),
                String.format(Locale.ROOT, "%.1f", (now - startNanos) / 1e6));
        return now;
    }

    /** Maps the image, loads the model, answers one request internally, then listens. */
    public static EmbeddingServer start(Config config) throws Exception {
        LOG.info("start-up: jvm done at {} ms since JVM start (main reached)", sinceJvmStart());
        long t = System.nanoTime();
        boolean plain = config.onnx() != null;
        if (!plain) {
            // The engine starts beside the mapping and the tokenizer, its native library from daxload's
            // per-host cache; the plain way below starts it as DJL does, on this thread.
            DaxfsEngines.beginOnnxRuntime();
        }
        // The server keeps this lease for its life: Criteria.loadModel below joins the same mapping
        // (one mapping per image per process), so mapping is a phase of its own and happens once. It comes
        // first because the tokenizer is read from the image.
        SharedImages.Lease lease = plain ? null
                : SharedImages.acquire(config.image(), config.sharedMapping() ? MapOptions.readOnly() : MapOptions.copyOnWrite());
        if (!plain) {
            t = phase("map", t);
        }
        // The tokenizer (its native library and its JSON) loads on a thread of its own, in both ways, while
        // the engine starts and the model loads: it needs neither, and takes a few hundred ms cold.
        CompletableFuture<HuggingFaceTokenizer> tokenizerLoad = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("tokenizer-load").start(() -> {
            long t0 = System.nanoTime();
            try {
                tokenizerLoad.complete(loadTokenizer(config, lease));
                phase("tokenizer (on its own thread)", t0);
            } catch (Throwable e) {
                tokenizerLoad.completeExceptionally(e);
            }
        });
        ZooModel<String, float[]> model = null;
        HuggingFaceTokenizer tokenizer = null;
        try {
            if (plain) {
                Engine.getEngine("OnnxRuntime");
            } else {
                DaxfsEngines.onnxRuntime();
            }
            t = phase("engine", t);
            SentenceEmbeddingTranslator translator = new SentenceEmbeddingTranslator(tokenizerLoad::join, true, config.pooling());
            if (plain) {
                model = Criteria.builder().setTypes(String.class, float[].class)
                        .optModelPath(config.onnx().toAbsolutePath().getParent()).optModelName(config.model()).optEngine("OnnxRuntime")
                        .optTranslator(translator)
                        .build().loadModel();
                t = phase("session (the .onnx file read)", t);
            } else {
                // The load reads the manifest and makes the views itself (DaxfsModels.weights gives them): a
                // ModelWeights of the server's own would read it twice.
                model = Criteria.builder().setTypes(String.class, float[].class)
                        .optModelUrls("daxfs://" + config.image().toAbsolutePath() + "?model=" + config.model()
                                + "&prepacking=" + config.prepacking() + "&mapping=" + (config.sharedMapping() ? "shared" : "private"))
                        .optTranslator(translator)
                        .build().loadModel();
                t = phase("session", t);
            }
            tokenizer = join(tokenizerLoad);
            int dim;
            try (Predictor<String, float[]> p = model.newPredictor()) {
                dim = p.predict("Every process on the host shares one physical copy.").length;
            }
            t = phase("first answer", t);
            HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getByName(config.host()), config.port()), 64);
            ExecutorService executor = Executors.newFixedThreadPool(config.threads(), r -> {
                Thread th = new Thread(r, "embed");
                th.setDaemon(true);
                return th;
            });
            EmbeddingServer server = new EmbeddingServer(config, lease, model, tokenizer, http, executor, dim);
            http.createContext("/embed", server::embed);
            http.createContext("/health", server::health);
            http.setExecutor(executor);
            http.start();
            phase("listening on " + config.host() + ":" + server.port(), t);
            return server;
        } catch (Exception | Error e) {
            if (model != null) {
                model.close();
            }
            if (tokenizer == null) {
                tokenizer = tokenizerLoad.handle((tk, x) -> tk).join(); // waits for the load, failed or not
            }
            if (tokenizer != null) {
                tokenizer.close();
            }
            if (lease != null) {
                lease.close();
            }
            throw e;
        }
    }

    /** The tokenizer: from its file for a plain server, else the image's side file, read in place from the mapping. */
    private static HuggingFaceTokenizer loadTokenizer(Config config, SharedImages.Lease lease) throws IOException {
        if (config.onnx() != null) {
            return HuggingFaceTokenizer.newInstance(config.tokenizerFile());
        }
        byte[] json = lease.image().content(lease.image().resolve(config.model() + "/files/tokenizer.json"))
                .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        return HuggingFaceTokenizer.newInstance(new java.io.ByteArrayInputStream(json), java.util.Map.of());
    }

    /** The loaded tokenizer, or its load's own exception. */
    private static HuggingFaceTokenizer join(CompletableFuture<HuggingFaceTokenizer> load) throws Exception {
        try {
            return load.join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof Exception x) {
                throw x;
            }
            if (e.getCause() instanceof Error x) {
                throw x;
            }
            throw e;
        }
    }

    /** The port listened on (the one the system chose, for port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    public int dimension() {
        return dim;
    }

    /** The model's weights in the image, for diagnostics; null for a {@link Config#plain} server. */
    public ModelWeights weights() {
        return config.onnx() != null ? null : DaxfsModels.weights(model).orElse(null);
    }

    private void health(HttpExchange ex) throws IOException {
        try (ex) {
            reply(ex, 200, "text/plain", "ok\n");
        }
    }

    private void embed(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("POST")) {
                ex.getResponseHeaders().add("Allow", "POST");
                error(ex, 405, "use POST with {\"input\": \"text\"} or {\"input\": [\"text\", ...]}");
                return;
            }
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readNBytes(MAX_BODY + 1);
            }
            if (body.length > MAX_BODY) {
                error(ex, 413, "request body over " + MAX_BODY + " bytes");
                return;
            }
            List<String> inputs;
            try {
                inputs = inputs(JsonParser.parseString(new String(body, StandardCharsets.UTF_8)));
            } catch (JsonParseException | IllegalArgumentException e) {
                error(ex, 400, e.getMessage());
                return;
            }
            JsonArray out = new JsonArray();
            Predictor<String, float[]> p = predictors.get();
            for (String s : inputs) {
                JsonArray v = new JsonArray(dim);
                for (float f : p.predict(s)) {
                    v.add(f);
                }
                out.add(v);
            }
            JsonObject o = new JsonObject();
            o.addProperty("model", config.model());
            o.addProperty("dim", dim);
            o.add("embeddings", out);
            reply(ex, 200, "application/json", o + "\n");
        } catch (TranslateException e) {
            LOG.error("embedding failed", e);
            error(ex, 500, "embedding failed: " + e.getMessage());
        }
    }

    /** The request's sentences: {@code {"input": "s"}} or {@code {"input": ["s", ...]}}. */
    static List<String> inputs(JsonElement request) {
        if (request == null || !request.isJsonObject() || !request.getAsJsonObject().has("input")) {
            throw new IllegalArgumentException("expected a JSON object with \"input\": a string or an array of strings");
        }
        JsonElement in = request.getAsJsonObject().get("input");
        List<String> out = new ArrayList<>();
        if (in.isJsonPrimitive() && in.getAsJsonPrimitive().isString()) {
            out.add(in.getAsString());
        } else if (in.isJsonArray()) {
            for (JsonElement e : in.getAsJsonArray()) {
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
                    throw new IllegalArgumentException("\"input\" holds a non-string: " + e);
                }
                out.add(e.getAsString());
            }
        } else {
            throw new IllegalArgumentException("\"input\" must be a string or an array of strings");
        }
        if (out.isEmpty() || out.size() > MAX_INPUTS) {
            throw new IllegalArgumentException("\"input\" must hold 1 to " + MAX_INPUTS + " strings, not " + out.size());
        }
        return out;
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("error", message);
        reply(ex, status, "application/json", o + "\n");
    }

    private static void reply(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    /** Stops listening, then releases the model, the tokenizer and the mapping. */
    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
        synchronized (allPredictors) {
            allPredictors.forEach(Predictor::close);
            allPredictors.clear();
        }
        model.close();
        tokenizer.close();
        if (lease != null) {
            lease.close();
        }
    }

    public static void main(String[] args) throws Exception {
        // ONNX Runtime alone, unless told otherwise: the translator pools and normalizes in Java, so DJL's
        // "alternative engine" for ORT (PyTorch, wherever it is on the class path) would only add libtorch's
        // start (~300 ms) and its private memory (~50 MiB) to every instance.
        if (System.getProperty("ai.djl.onnx.disable_alternative") == null) {
            System.setProperty("ai.djl.onnx.disable_alternative", "true");
        }
        Path image = null;
        Path onnx = null;
        Path tokenizerFile = null;
        String modelName = null;
        String host = "127.0.0.1";
        int port = 8080;
        SentenceEmbeddingTranslator.Pooling pooling = SentenceEmbeddingTranslator.Pooling.MEAN;
        boolean prepacking = false;
        boolean exitAfterStart = false;
        boolean shared = true;
        int threads = Runtime.getRuntime().availableProcessors();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--image" -> image = Path.of(args[++i]);
                case "--onnx" -> onnx = Path.of(args[++i]);
                case "--tokenizer" -> tokenizerFile = Path.of(args[++i]);
                case "--model" -> modelName = args[++i];
                case "--host" -> host = args[++i];
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--pooling" -> pooling = SentenceEmbeddingTranslator.Pooling.valueOf(args[++i].toUpperCase(Locale.ROOT));
                case "--prepacking" -> prepacking = true;
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--exit-after-start" -> exitAfterStart = true;
                case "--mapping" -> shared = switch (args[++i]) {
                    case "shared" -> true;
                    case "private" -> false;
                    default -> throw new IllegalArgumentException("--mapping takes shared or private, not " + args[i]);
                };
                default -> {
                    System.err.println("EmbeddingServer: unknown argument " + args[i]
                            + "\nusage: EmbeddingServer --image IMAGE --model NAME [--port 8080] [--host 127.0.0.1]"
                            + " [--pooling mean|cls] [--prepacking] [--threads N] [--mapping shared|private] [--exit-after-start]");
                    System.exit(2);
                }
            }
        }
        if ((image == null || modelName == null) && (onnx == null || tokenizerFile == null)) {
            System.err.println("EmbeddingServer: --image and --model are required (or, for the baseline, --onnx and --tokenizer)");
            System.exit(2);
        }
        EmbeddingServer server = start(onnx != null ? Config.plain(onnx, tokenizerFile, host, port, pooling, threads)
                : new Config(image, modelName, host, port, pooling, prepacking, threads, shared, null, null));
        if (exitAfterStart) {
            server.close();
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "embedding-server-stop"));
        Thread.currentThread().join(); // serve until killed
    }
}

package dev.daxload.samples.server;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.daxload.packager.image.FileContent;
import dev.daxload.packager.image.ImageWriter;
import dev.daxload.packager.model.ModelPackager;
import dev.daxload.packager.source.OnnxReader;
import dev.daxload.samples.SentenceEmbeddingTranslator.Pooling;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedding server on loopback, a process of its own serving real models from images with ONNX Runtime
 * alone (as {@code bin/daxload-serve} runs it: PyTorch not loaded as ORT's alternative engine): its answers
 * over HTTP equal the original ONNX file's, run through DJL the plain way in another process (the file
 * loaded by ONNX Runtime, same session settings, same tokenizer and pooling).
 */
class EmbeddingServerTest {
    static final Path MODELS = Path.of(System.getProperty("daxload.testModels", "target/models"));
    static final List<String> SENTENCES = List.of(
            "Every process on the host shares one physical copy.",
            "The weights are never copied.",
            "DAXFS images map straight from memory.",
            "");
    @TempDir Path tmp;

    @Test
    void miniLmAnswersMatchTheOriginalModel() throws Exception {
        check("all-minilm-l6-v2", "minilm", Pooling.MEAN, 384);
    }

    @Test
    void bgeSmallAnswersMatchTheOriginalModel() throws Exception {
        check("bge-small-en-v1.5", "bge", Pooling.CLS, 384);
    }

    private void check(String file, String name, Pooling pooling, int dim) throws Exception {
        Path dir = MODELS.resolve(file);
        Path tok = dir.resolve(file + "-tokenizer.json");
        Path image = tmp.resolve(name + ".daxfs");
        ModelPackager p = new ModelPackager();
        p.model(name).add(new OnnxReader().read(dir.resolve(file + ".onnx"))).sideFile("tokenizer.json", FileContent.of(tok, Files.size(tok)));
        p.write(new ImageWriter(), image);

        // The reference and the server each run in a process of their own, as they would in use (and so that
        // neither leaves freed weights in this JVM's malloc for another test's memory measurement).
        List<String> plain = new ArrayList<>(List.of(dir.toString(), file, pooling.name()));
        plain.addAll(SENTENCES);
        String ref = Children.output(Children.start(PlainEmbeddings.class, plain), "EMBEDDINGS ");
        JsonArray refs = JsonParser.parseString(ref).getAsJsonArray();
        List<float[]> expected = new ArrayList<>();
        refs.forEach(e -> expected.add(floats(e.getAsJsonArray())));
        assertEquals(SENTENCES.size(), expected.size());

        // With no flags: the server runs ONNX Runtime alone by itself (PyTorch, on this class path, is not
        // loaded as ORT's "alternative engine"), so nothing it does may need an NDArray op only PyTorch has.
        Process server = Children.start(EmbeddingServer.class, List.of(), List.of("--image", image.toString(), "--model", name,
                "--port", "0", "--pooling", pooling.name().toLowerCase(java.util.Locale.ROOT), "--threads", "4"));
        try {
            int port = Integer.parseInt(Children.awaitLine(server, "start-up: listening on 127.0.0.1:").replaceAll(".*127\\.0\\.0\\.1:(\\d+).*", "$1"));
            // What the process holds: no libtorch, and ORT's library from daxload's per-host cache, not a
            // copy ORT extracted for this process alone (its temporary onnxruntime-java* directory).
            List<String> libraries = Files.readAllLines(Path.of("/proc/" + server.pid() + "/maps")).stream()
                    .filter(l -> l.endsWith(".so") || l.contains(".so.")).map(l -> l.substring(l.lastIndexOf(' ') + 1)).distinct().toList();
            assertTrue(libraries.stream().noneMatch(l -> l.contains("libtorch")), "the server loaded PyTorch: " + libraries);
            List<String> ort = libraries.stream().filter(l -> l.endsWith("/libonnxruntime.so")).toList();
            assertEquals(1, ort.size(), "ONNX Runtime's library mapped once: " + libraries);
            assertFalse(ort.get(0).contains("/onnxruntime-java"), "ORT's library extracted for this process alone: " + ort.get(0));
            HttpClient client = HttpClient.newHttpClient();
            URI embed = URI.create("http://127.0.0.1:" + port + "/embed");

            // One request with every sentence, and one request per sentence, all at once.
            JsonArray all = new JsonArray();
            SENTENCES.forEach(all::add);
            JsonObject batch = post(client, embed, "{\"input\": " + all + "}", 200);
            assertEquals(name, batch.get("model").getAsString());
            assertEquals(dim, batch.get("dim").getAsInt());
            JsonArray got = batch.getAsJsonArray("embeddings");
            assertEquals(SENTENCES.size(), got.size());
            List<CompletableFuture<HttpResponse<String>>> single = new ArrayList<>();
            for (String s : SENTENCES) {
                JsonObject req = new JsonObject();
                req.addProperty("input", s);
                single.add(client.sendAsync(HttpRequest.newBuilder(embed).POST(HttpRequest.BodyPublishers.ofString(req.toString())).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            for (int i = 0; i < SENTENCES.size(); i++) {
                assertArrayEquals(expected.get(i), floats(got.get(i).getAsJsonArray()), "batched: '" + SENTENCES.get(i) + "'");
                HttpResponse<String> r = single.get(i).get();
                assertEquals(200, r.statusCode(), r.body());
                JsonArray one = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonArray("embeddings");
                assertArrayEquals(expected.get(i), floats(one.get(0).getAsJsonArray()), "alone: '" + SENTENCES.get(i) + "'");
            }

            // Bad requests get a status and a reason, and the server goes on.
            assertTrue(post(client, embed, "{\"input\": [1, 2]}", 400).get("error").getAsString().contains("non-string"));
            assertTrue(post(client, embed, "not json", 400).has("error"));
            assertTrue(post(client, embed, "{\"text\": \"x\"}", 400).get("error").getAsString().contains("\"input\""));
            HttpResponse<String> get = client.send(HttpRequest.newBuilder(embed).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, get.statusCode());
            HttpResponse<String> big = client.send(HttpRequest.newBuilder(embed)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"input\": \"" + "a".repeat(EmbeddingServer.MAX_BODY) + "\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(413, big.statusCode());
            HttpResponse<String> health = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals("ok\n", health.body());
            assertArrayEquals(expected.get(0), floats(post(client, embed, "{\"input\": \"" + SENTENCES.get(0) + "\"}", 200)
                    .getAsJsonArray("embeddings").get(0).getAsJsonArray()));
        } finally {
            server.destroy(); // SIGTERM: the server's shutdown hook closes the model and unmaps
            assertTrue(server.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "server did not stop on SIGTERM");
        }
    }

    private static JsonObject post(HttpClient client, URI uri, String body, int status) throws Exception {
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(status, r.statusCode(), r.body());
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    private static float[] floats(JsonArray a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = a.get(i).getAsFloat();
        }
        return f;
    }
}

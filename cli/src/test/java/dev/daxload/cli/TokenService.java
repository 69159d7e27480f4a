package dev.daxload.cli;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A token service for a registry configured with {@code auth: token} (the Docker/distribution bearer-token scheme):
 * checks a user's basic credentials and answers a JWT granting the scope asked for, signed RS256 with a key whose
 * certificate the registry trusts ({@code rootcertbundle}). The registry is real; this is the small server such a
 * registry is deployed with.
 */
final class TokenService implements AutoCloseable {
    static final String SERVICE = "daxload-test-registry";
    static final String ISSUER = "daxload-test-issuer";

    private final HttpServer server;
    private final AtomicInteger tokens = new AtomicInteger();

    TokenService(Path certificatePem, Path keyPem, String user, String password) throws Exception {
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(certificatePem));
        String keyText = Files.readString(keyPem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(keyText)));
        String expected = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/token", exchange -> {
            try (exchange) {
                if (!expected.equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
                    exchange.sendResponseHeaders(401, -1);
                    return;
                }
                Map<String, String> q = new HashMap<>();
                String raw = exchange.getRequestURI().getRawQuery();
                for (String kv : raw == null ? new String[0] : raw.split("&")) {
                    String[] p = kv.split("=", 2);
                    q.put(URLDecoder.decode(p[0], StandardCharsets.UTF_8), p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
                }
                byte[] body = ("{\"token\":\"" + jwt(cert, key, user, q.getOrDefault("scope", "")) + "\"}").getBytes(StandardCharsets.UTF_8);
                tokens.incrementAndGet();
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            } catch (Exception e) {
                throw new IOException(e);
            }
        });
        server.start();
    }

    String realm() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    int tokensIssued() {
        return tokens.get();
    }

    private static String jwt(X509Certificate cert, PrivateKey key, String user, String scope) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        JsonObject header = new JsonObject();
        header.addProperty("typ", "JWT");
        header.addProperty("alg", "RS256");
        JsonArray x5c = new JsonArray();
        x5c.add(Base64.getEncoder().encodeToString(cert.getEncoded()));
        header.add("x5c", x5c);
        long now = System.currentTimeMillis() / 1000;
        JsonObject claims = new JsonObject();
        claims.addProperty("iss", ISSUER);
        claims.addProperty("sub", user);
        claims.addProperty("aud", SERVICE);
        claims.addProperty("iat", now);
        claims.addProperty("nbf", now - 30);
        claims.addProperty("exp", now + 600);
        claims.addProperty("jti", UUID.randomUUID().toString());
        JsonArray access = new JsonArray();
        for (String s : scope.split(" ")) {
            String[] parts = s.split(":");
            if (parts.length == 3 && parts[0].equals("repository")) {
                JsonObject a = new JsonObject();
                a.addProperty("type", "repository");
                a.addProperty("name", parts[1]);
                JsonArray actions = new JsonArray();
                for (String action : parts[2].split(",")) {
                    actions.add(action);
                }
                a.add("actions", actions);
                access.add(a);
            }
        }
        claims.add("access", access);
        String signingInput = b64.encodeToString(header.toString().getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8));
        Signature sig = Signature.getInstance("SHA256withRSA");
        sig.initSign(key);
        sig.update(signingInput.getBytes(StandardCharsets.US_ASCII));
        return signingInput + "." + b64.encodeToString(sig.sign());
    }

    @Override
    public void close() {
        server.stop(0);
    }
}

package dev.daxload.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The network between a puller and a real registry, with faults: answers to blob GETs can be a 503, cut after some
 * bytes, or slowed down. Only bodiless requests (GET, HEAD: what a pull sends) pass; each connection carries one
 * request ({@code Connection: close} is added), so every answer can be judged on its own. The registry behind it is
 * real: this stands in for a flaky network, not for a registry.
 */
final class FaultyLink implements AutoCloseable {
    /** What happens to the {@code n}-th blob GET (counted from 1). */
    interface Fault {
        /** -1: pass it whole; otherwise cut the answer after that many bytes (headers included). */
        default long cutAfter(int n) {
            return -1;
        }

        /** Whether to answer 503 instead of asking the registry. */
        default boolean unavailable(int n) {
            return false;
        }

        /** Bytes per second for answers, per connection (0: as fast as it goes). */
        default long bytesPerSecond() {
            return 0;
        }

        /** Whether to drop the {@code Range} header of blob GETs (a registry or proxy that does not serve ranges). */
        default boolean ignoreRanges() {
            return false;
        }
    }

    private final ServerSocket server;
    private final int upstreamPort;
    private final Fault fault;
    private final AtomicInteger blobGets = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong blobBytes = new java.util.concurrent.atomic.AtomicLong();
    private final Thread acceptor;

    FaultyLink(int upstreamPort, Fault fault) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.upstreamPort = upstreamPort;
        this.fault = fault;
        this.acceptor = Thread.ofVirtual().start(this::accept);
    }

    String host() {
        return "127.0.0.1:" + server.getLocalPort();
    }

    int blobGets() {
        return blobGets.get();
    }

    /** Bytes passed to the client in answers to blob GETs so far (headers included), over every connection. */
    long blobBytes() {
        return blobBytes.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException closed) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client; Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
            String head = readHead(client.getInputStream());
            if (head == null) {
                return;
            }
            String requestLine = head.substring(0, head.indexOf("\r\n"));
            boolean blobGet = requestLine.startsWith("GET ") && requestLine.contains("/blobs/sha256:");
            int n = blobGet ? blobGets.incrementAndGet() : 0;
            OutputStream toClient = client.getOutputStream();
            if (blobGet && fault.unavailable(n)) {
                toClient.write(("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                return;
            }
            if (blobGet && fault.ignoreRanges()) {
                head = head.replaceAll("(?im)^range:.*\r\n", "");
            }
            String forwarded = head.replaceAll("(?im)^connection:.*\r\n", "")
                    .replaceFirst("\r\n\r\n$", "\r\nConnection: close\r\n\r\n");
            upstream.getOutputStream().write(forwarded.getBytes(StandardCharsets.ISO_8859_1));
            long cut = blobGet ? fault.cutAfter(n) : -1;
            long rate = fault.bytesPerSecond();
            InputStream fromUpstream = upstream.getInputStream();
            byte[] buf = new byte[64 << 10];
            long sent = 0;
            long t0 = System.nanoTime();
            int r;
            while ((r = fromUpstream.read(buf)) > 0) {
                if (cut >= 0 && sent + r >= cut) {
                    toClient.write(buf, 0, (int) (cut - sent));
                    toClient.flush();
                    client.setSoLinger(true, 0); // reset, as a dropped link looks to the client
                    return;
                }
                toClient.write(buf, 0, r);
                sent += r;
                if (blobGet) {
                    blobBytes.addAndGet(r);
                }
                if (rate > 0) {
                    long due = t0 + sent * 1_000_000_000L / rate;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                    }
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client went away, or the link was cut on purpose
        }
    }

    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            state = switch (state) {
                case 0, 2 -> b == '\r' ? state + 1 : 0;
                case 1 -> b == '\n' ? 2 : 0;
                case 3 -> b == '\n' ? 4 : 0;
                default -> 0;
            };
            if (state == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
            if (head.size() > 64 << 10) {
                return null;
            }
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        server.close();
        acceptor.interrupt();
    }
}

#!/usr/bin/env python3
"""A TCP relay on loopback whose every connection carries at most MBPS megabytes per second toward the client:
the per-connection limit of a distant registry, a CDN or an object store behind it. Used by pull-vs-skopeo.sh
(LINK_MBPS=...) to time --streams where one connection is the limit.
   slow-link.py LISTEN_PORT UPSTREAM_PORT MBPS"""
import socket, sys, threading, time

listen_port, upstream_port, mbps = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
rate = mbps * 1e6


def pump(src, dst, limited):
    sent, t0 = 0, time.monotonic()
    try:
        while True:
            data = src.recv(256 << 10)
            if not data:
                break
            dst.sendall(data)
            if limited:
                sent += len(data)
                ahead = t0 + sent / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client, True), daemon=True).start()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(64)
while True:
    conn, _ = server.accept()
    serve(conn)

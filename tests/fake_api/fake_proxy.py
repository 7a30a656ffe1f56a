#!/usr/bin/env python3
"""A small HTTP proxy on 127.0.0.1 that writes down everything it is told.

For the proxy tests of the integration suite: it logs every
request line and every header (name and value, as received) to --log, one
line each, so a test can assert that no Authorization header ever reached
a proxy. It forwards plain HTTP requests in absolute form and tunnels
CONNECT, to 127.0.0.1 / localhost only (anything else gets 403 and is
never contacted).

Unlike fake_api.py this program DOES write what it receives, header values
included: a token sent to it in the clear lands in its log, where the
tests' check_clean() finds it. That is the point.

Python 3 standard library only. Exits 0 on SIGTERM or SIGINT.
Usage: fake_proxy.py --port-file PATH --log PATH [--port N]
"""

import argparse
import os
import select
import signal
import socket
import socketserver
import sys
import threading

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
MAX_HEAD = 64 * 1024

_log_lock = threading.Lock()
_log_file = None


def log(line):
    with _log_lock:
        _log_file.write(line + "\n")
        _log_file.flush()


def read_head(sock):
    """Bytes up to and including the blank line, or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            return None, b""
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def split_host_port(text, default_port):
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    return host, int(port) if port.isdigit() else default_port


def pump(a, b):
    """Copies bytes both ways until one side closes."""
    socks = [a, b]
    while True:
        r, _, x = select.select(socks, [], socks, 60)
        if x or not r:
            return
        for s in r:
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                (b if s is a else a).sendall(data)
            except OSError:
                return


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        cid = "%s:%d" % self.client_address
        try:
            while self.one_request(client, cid):
                pass
        except OSError:
            pass

    def one_request(self, client, cid):
        head, rest = read_head(client)
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        log("REQUEST %s %s" % (cid, lines[0]))
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            log("HEADER %s %s: %s" % (cid, name, value.strip()))
            headers.append((name, value.strip()))
        parts = lines[0].split(" ")
        if len(parts) != 3:
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")
            return False
        method, target, version = parts
        if method == "CONNECT":
            host, port = split_host_port(target, 443)
            if host not in LOOPBACK_NAMES:
                log("REFUSED %s %s" % (cid, target))
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0"
                               b"\r\nConnection: close\r\n\r\n")
                return False
            up = socket.create_connection((LOOPBACK, port), timeout=10)
            up.settimeout(None)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            log("TUNNEL %s %s" % (cid, target))
            if rest:
                up.sendall(rest)
            try:
                pump(client, up)
            finally:
                up.close()
            return False
        # A plain request in absolute form: http://host:port/path
        if not target.startswith("http://"):
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")
            return False
        hostport, slash, path = target[len("http://"):].partition("/")
        host, port = split_host_port(hostport, 80)
        if host not in LOOPBACK_NAMES:
            log("REFUSED %s %s" % (cid, target))
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")
            return False
        out = ["%s /%s %s" % (method, path, version)]
        for name, value in headers:
            if name.lower().startswith("proxy-") or name.lower() == "connection":
                continue
            out.append("%s: %s" % (name, value))
        out.append("Connection: close")
        up = socket.create_connection((LOOPBACK, port), timeout=10)
        try:
            up.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rest)
            up.settimeout(30)
            while True:
                data = up.recv(65536)
                if not data:
                    break
                client.sendall(data)
        finally:
            up.close()
        log("FORWARDED %s %s" % (cid, target))
        return False  # the answer says Connection: close


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global _log_file
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    args = p.parse_args()
    _log_file = open(args.log, "a")
    server = Server((LOOPBACK, args.port), Handler)
    port = server.server_address[1]
    tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, args.port_file)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

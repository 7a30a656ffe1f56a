"""Debian's nginx as an HTTP/2 users/info endpoint on 127.0.0.1.

Runs from a temporary directory with its own configuration, pid file and
logs; never the system service. The access log has one line per request:
nginx's connection serial number ($connection), the requests served on
that connection so far, the protocol, the status and whether the TLS
handshake resumed a session ("r") or not ("."); never a header.

Nginx(..., closing=True) is the server real deployments meet behind a load
balancer that closes idle connections, at its harshest: TLS 1.2 only, an
answer and the connection closed, every time, with a session cache, so a
client that offers its last session resumes it.

Nginx(..., servers=[server(...), ...], ports=[...]) runs several servers
in one nginx, with an access log of its own format (the benchmarks).
"""

import os
import signal
import socket
import subprocess

from harness import certs, inputs, wait_for

NGINX = "/usr/sbin/nginx"

BODY = ('{"id":"BADA55-BADGE5","email":"you@example.com",'
        '"emailIsVerified":true,"organization":{"name":"TelemetryDeck"}}')

# The access log's line by default: the connection's serial number, the
# requests served on it so far, the protocol, the status and whether the
# TLS handshake resumed a session.
CONNS = ("$connection $connection_requests $server_protocol $status "
         "$ssl_session_reused")

CONF = """\
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log warn;
events { worker_connections %(connections)d; }
http {
  log_format td '%(log_format)s';
  access_log %(dir)s/%(log)s td;
  client_body_temp_path %(dir)s/nginx-tmp/body;
  proxy_temp_path %(dir)s/nginx-tmp/proxy;
  fastcgi_temp_path %(dir)s/nginx-tmp/fastcgi;
  uwsgi_temp_path %(dir)s/nginx-tmp/uwsgi;
  scgi_temp_path %(dir)s/nginx-tmp/scgi;
  ssl_certificate %(cert)s;
  ssl_certificate_key %(key)s;
%(http)s%(servers)s}
"""

SERVER = """\
  server {
    listen 127.0.0.1:%(port)d ssl%(http2)s;
%(tls)s    location = /api/v3/users/info {
      default_type application/json;
%(answer)s    }
%(more)s  }
"""

# users/info's answer: BODY to a bearer tdpat_ token, 401 otherwise; or
# BODY to anyone.
AUTH = """\
      if ($http_authorization ~ "^Bearer tdpat_[A-Za-z0-9_]+$") {
        return 200 '%s';
      }
      return 401 '{"reason":"User not authenticated."}';
""" % BODY
ANYONE = "      return 200 '%s';\n" % BODY

KEEP = "    keepalive_timeout 300s;\n"


def keep(max_requests):
    """Connections kept; max_requests: nginx's keepalive_requests, after
    which it sends GOAWAY and refuses the streams beyond it."""
    if max_requests is None:
        return KEEP
    return KEEP + "    keepalive_requests %d;\n" % max_requests


CLOSING = """\
    ssl_protocols TLSv1.2;
    ssl_session_cache shared:td:1m;
    keepalive_timeout 0;
"""


def server(port, tls=KEEP, http2=False, auth=True, more=""):
    """One server block on 127.0.0.1:port that answers users/info: tls is
    its lines before the location (keep(), CLOSING or any), auth whether
    only a bearer tdpat_ token gets BODY (else anyone does), more its
    further lines (other locations)."""
    return SERVER % dict(port=port, http2=" http2" if http2 else "", tls=tls,
                         answer=AUTH if auth else ANYONE, more=more)


class Nginx:
    """One nginx master in the foreground, bound to 127.0.0.1:port."""

    def __init__(self, workdir, port=None, log="nginx-access.log",
                 cert_dir=None, closing=False, max_requests=None,
                 servers=None, ports=None, log_format=CONNS, http="",
                 workers=1, connections=4096):
        """One server on port, HTTP/2 with keep(max_requests) or the
        CLOSING one; or the server() blocks servers, listening on ports.
        log_format is the access log's line, http more lines of the http
        block (a session cache, say); workers and connections nginx's
        worker_processes and worker_connections."""
        if servers is None:
            servers = [server(port, CLOSING if closing else keep(max_requests),
                              http2=not closing)]
            ports = [port]
        self.dir = workdir
        self.ports = list(ports)
        self.port = self.ports[0]
        self.access_log = os.path.join(workdir, log)
        os.makedirs(os.path.join(workdir, "nginx-tmp"), exist_ok=True)
        self.conf = os.path.join(inputs(workdir), "nginx-%d.conf" % self.port)
        d = cert_dir or certs()
        with open(self.conf, "w") as f:
            f.write(CONF % dict(dir=workdir, log=log, log_format=log_format,
                                http=http, servers="".join(servers),
                                workers=workers, connections=connections,
                                cert=os.path.join(d, "server.pem"),
                                key=os.path.join(d, "server.key")))
        self.out = open(os.path.join(workdir, "nginx.out"), "a")
        self.proc = subprocess.Popen(
            [NGINX, "-p", workdir, "-e", os.path.join(workdir, "nginx-error.log"),
             "-c", self.conf, "-g", "daemon off;"],
            stdout=self.out, stderr=subprocess.STDOUT)
        if not wait_for(self._listening, 10):
            self.stop()
            raise RuntimeError("nginx did not start; see %s" % workdir)

    def _listening(self):
        if self.proc.poll() is not None:
            raise RuntimeError("nginx exited; see %s/nginx.out" % self.dir)
        for port in self.ports:
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    pass
            except OSError:
                return False
        return True

    def url(self):
        return "https://127.0.0.1:%d/api/v3/users/info" % self.port

    def requests(self):
        """(connection, requests on it, protocol, status, resumed) per
        request."""
        try:
            with open(self.access_log) as f:
                return [tuple(l.split()) for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def connections(self):
        return {r[0] for r in self.requests()}

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()

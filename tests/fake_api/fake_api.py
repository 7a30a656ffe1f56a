#!/usr/bin/env python3
"""Fake TelemetryDeck API for the collectd-telemetrydeck integration tests.

Serves GET /api/v3/users/info (and the trailing-slash form) on 127.0.0.1
(or, with --host, on 127.0.0.2 or ::1),
over TLS when --cert/--key are given, plain HTTP otherwise. Each bearer
token in a table maps to an entry {"label": ..., "mode": ..., ...}; the
mode decides the answer (a valid account, a revoked token, a rate limit,
broken bodies, broken connections, ...). A second, plain-HTTP listener on
127.0.0.1 lets a test change the table and read counters while it runs.

Tokens are secrets under test: this program never writes a token to
stdout, stderr, a file or the stats. Log lines and stats name labels only.

Python 3 standard library only. Run with --help for the options; see
README.md next to this file for the control API and the modes.
"""

import argparse
import asyncio
import base64
import email.utils
import itertools
import json
import os
import re
import resource
import signal
import socket
import ssl
import struct
import sys
import time
import traceback

LOOPBACK = "127.0.0.1"  # project rule: bind and connect to this only
# The loopback addresses the API listener may take instead (--host): IPv6
# and a second IPv4 address, for the address family and source tests.
API_HOSTS = ("127.0.0.1", "127.0.0.2", "::1")
API_PATHS = ("/api/v3/users/info", "/api/v3/users/info/")
ORGS_PATHS = ("/api/v3/organizations", "/api/v3/organizations/")
UNKNOWN_LABEL = "unknown"  # stats bucket for requests with no known token

MAX_HEAD = 64 * 1024          # request line + headers, bigger -> 431
MAX_API_BODY = 1024 * 1024    # a GET has no business sending more
MAX_CONTROL_BODY = 16 * 1024 * 1024

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

REASONS = {
    200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    413: "Payload Too Large", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Anything shaped like a TelemetryDeck personal access token. Used to scrub
# request paths before they reach a log line or the stats, in case a client
# ever puts a token where it does not belong.
TOKEN_SHAPE = re.compile(r"tdpat_[A-Za-z0-9_\-.~%]*")
BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S+)")

QUIET = False


def log(msg):
    """One line on stderr. Callers pass labels and modes, never tokens;
    anything token-shaped is scrubbed all the same, as a last defence."""
    msg = TOKEN_SHAPE.sub("tdpat_<redacted>", msg)
    sys.stderr.write("fake_api[%d] %s %s\n"
                     % (os.getpid(), time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def log_internal_error(where, exc):
    """Logs an unexpected exception by type and code location only.

    The exception's message is left out on purpose: it could quote request
    data, and request data may hold a token."""
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log("internal error in %s: %s\n%s" % (where, type(exc).__name__, frames))


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def http_date(ts=None):
    return email.utils.formatdate(ts, usegmt=True)


# --------------------------------------------------------------------------
# Answer bodies. Values are derived from the entry's label, so a test can
# assert which token was answered: id "id-<label>", email
# "<label>@example.com", organization "Org <label>". An entry may override
# them with "id", "email" and "org_name".

def account(entry, verified=True):
    label = entry["label"]
    return {
        "email": entry.get("email", "%s@example.com" % label),
        "emailIsVerified": verified,
        "firstName": "Fake",
        "id": entry.get("id", "id-%s" % label),
        "isFoundingUser": False,
        "lastName": label,
        "organization": {
            "createdAt": "2020-12-31T23:00:00+0000",
            "name": entry.get("org_name", "Org %s" % label),
            "updatedAt": "2022-07-11T01:27:20+0000",
        },
        "receiveMarketingEmails": None,
        "receiveReports": "weekly",
    }


def ok_body(entry, verified=True):
    return compact(account(entry, verified))


def half(body):
    return body[:len(body) // 2]


def vapor_error(reason):
    """The body Vapor's default error middleware writes."""
    return compact({"error": True, "reason": reason})


def html_page(status, note):
    reason = REASONS.get(status, "Error")
    return ("<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n"
            "<body><h1>%d %s</h1><p>%s</p></body></html>\n"
            % (status, reason, status, reason, note)).encode("utf-8")


def deep_nesting_body(entry):
    # A well-formed text whose only fault is depth: a parser without a
    # nesting bound would accept the id; a recursive one may blow its stack.
    depth = 100000
    return (b'{"id":' + compact(account(entry)["id"]) + b',"nested":'
            + b"[" * depth + b"]" * depth + b"}")


def huge_string_body(entry):
    # Built by hand: json.dumps on a 20 MiB string would copy it twice more.
    return (b'{"id":' + compact(account(entry)["id"]) + b',"email":"'
            + b"a" * (20 * 1024 * 1024) + b'","emailIsVerified":true}')


def custom_answer(entry, server):
    body = entry.get("body", "").encode("utf-8")
    if "body_base64" in entry:
        body = base64.b64decode(entry["body_base64"])
    headers = ["%s: %s" % kv for kv in entry.get("headers", {}).items()]
    return (entry.get("status", 200), entry.get("content_type", JSON_TYPE),
            body, headers)


def redirect_answer(entry, server):
    port = entry.get("redirect_port", server.api_port)
    where = "http://%s:%d/api/v3/users/info" % (LOOPBACK, port)
    return 302, None, b"", ["Location: " + where]


def retry_after_seconds(entry, server):
    n = entry.get("retry_after", 5)
    return (429, JSON_TYPE, vapor_error("Too Many Requests"),
            ["Retry-After: %d" % n])


def retry_after_date(entry, server):
    n = entry.get("retry_after", 5)
    return (429, JSON_TYPE, vapor_error("Too Many Requests"),
            ["Retry-After: " + http_date(time.time() + n)])


# Modes whose whole answer is known up front: each returns
# (status, content type or None, body bytes, [extra header lines]) and the
# answer goes out in one write with a correct Content-Length.
STATIC_MODES = {
    "ok": lambda e, s: (200, JSON_TYPE, ok_body(e), []),
    "ok_unverified": lambda e, s: (200, JSON_TYPE, ok_body(e, False), []),
    "ok_minimal": lambda e, s: (200, JSON_TYPE,
                                compact({"id": account(e)["id"]}), []),
    "revoked": lambda e, s: (401, JSON_TYPE,
                             vapor_error("User not authenticated."), []),
    "detail401": lambda e, s: (401, JSON_TYPE,
                               compact({"detail": "Token revoked"}), []),
    "html401": lambda e, s: (401, HTML_TYPE,
                             html_page(401, "Please log in."), []),
    "empty401": lambda e, s: (401, None, b"", []),
    "forbidden": lambda e, s: (
        403, JSON_TYPE,
        vapor_error("You do not have permission to access this resource."),
        []),
    # What third-party clients see for a personal access token whose
    # organization is not (or no longer) on a paid plan.
    "payment_required": lambda e, s: (402, JSON_TYPE,
                                      vapor_error("Payment Required"), []),
    "server_error_valid_body": lambda e, s: (500, JSON_TYPE, ok_body(e), []),
    "502_html": lambda e, s: (502, HTML_TYPE,
                              html_page(502, "fake upstream proxy"), []),
    "503_html": lambda e, s: (503, HTML_TYPE,
                              html_page(503, "fake upstream proxy"), []),
    "504_html": lambda e, s: (504, HTML_TYPE,
                              html_page(504, "fake upstream proxy"), []),
    "ratelimit_seconds": retry_after_seconds,
    "ratelimit_date": retry_after_date,
    "malformed": lambda e, s: (200, JSON_TYPE, b'{"id": "x",,}', []),
    "truncated": lambda e, s: (200, JSON_TYPE, half(ok_body(e)), []),
    "empty200": lambda e, s: (200, JSON_TYPE, b"", []),
    "html200": lambda e, s: (200, HTML_TYPE,
                             html_page(200, "Not the API you wanted."), []),
    "wrong_types": lambda e, s: (
        200, JSON_TYPE,
        b'{"id":12345,"emailIsVerified":"yes","organization":[]}', []),
    "nul_byte": lambda e, s: (
        200, JSON_TYPE,
        b'{"id":"nul\x00byte","email":"nul@example.com",'
        b'"emailIsVerified":true}', []),
    "invalid_utf8": lambda e, s: (
        200, JSON_TYPE,
        b'{"id":"bad\xff\xfeutf8","email":"bad@example.com",'
        b'"emailIsVerified":true}', []),
    "duplicate_keys": lambda e, s: (200, JSON_TYPE,
                                    b'{"id":"first","id":"second"}', []),
    "deep_nesting": lambda e, s: (200, JSON_TYPE, deep_nesting_body(e), []),
    "huge_string": lambda e, s: (200, JSON_TYPE, huge_string_body(e), []),
    "redirect": redirect_answer,
    "custom": custom_answer,
}

# Modes that misbehave on the wire; each is a coroutine method of
# Connection named mode_<name>.
STREAM_MODES = ("stream_1gib", "trickle", "short_body", "reset_mid_body",
                "hang")

MODES = tuple(sorted(set(STATIC_MODES) | set(STREAM_MODES)))

# --------------------------------------------------------------------------
# Token table entries.

def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _headers_ok(v):
    return isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(x, str)
        and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", k)
        and not re.search(r"[\r\n\x00]", x) for k, x in v.items())


def _b64_ok(v):
    try:
        base64.b64decode(v, validate=True)
        return True
    except (ValueError, TypeError):
        return False


# Entry keys and a check for each; anything else in an entry is a typo.
ENTRY_KEYS = {
    "label": (lambda v: isinstance(v, str) and v != "",
              "a non-empty string"),
    "mode": (lambda v: v in MODES, "one of: " + ", ".join(MODES)),
    "delay": (lambda v: _num(v) and v >= 0, "a number >= 0"),
    "retry_after": (lambda v: _int(v) and v >= 0, "an integer >= 0"),
    "redirect_port": (lambda v: _int(v) and 0 < v < 65536,
                      "a port number"),
    "interval": (lambda v: _num(v) and v > 0, "a number > 0"),
    "id": (lambda v: isinstance(v, str), "a string"),
    "email": (lambda v: isinstance(v, str), "a string"),
    "org_name": (lambda v: isinstance(v, str), "a string"),
    "status": (lambda v: _int(v) and 100 <= v <= 599, "an HTTP status"),
    "body": (lambda v: isinstance(v, str), "a string"),
    "body_base64": (lambda v: isinstance(v, str) and _b64_ok(v),
                    "base64 text"),
    "content_type": (lambda v: isinstance(v, str)
                     and not re.search(r"[\r\n\x00]", v), "a string"),
    "headers": (_headers_ok, "an object of header name -> value"),
    # GET /api/v3/organizations answers this JSON text (any shape: the
    # endpoint is undocumented), or a default list of one organization.
    "orgs": (lambda v: True, "any JSON value"),
    # true: GET /api/v3/organizations reads the request and never answers.
    "orgs_hang": (lambda v: isinstance(v, bool), "true or false"),
    # The scale usagePercentage is served in; "orgs" give it in percent.
    # The real scale is unknown: the one public client that shows it reads
    # a fraction, so that is the default here too.
    "usage_scale": (lambda v: v in ("fraction", "percent"),
                    "fraction or percent"),
}


def served_usage(value, scale):
    """value (any JSON) with every numeric usagePercentage, given in
    percent, put in scale."""
    if isinstance(value, list):
        return [served_usage(v, scale) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: served_usage(v, scale) for k, v in value.items()}
    u = value.get("usagePercentage")
    if scale == "fraction" and _num(u):
        out["usagePercentage"] = u / 100
    return out


def orgs_answer(entry):
    """The organizations list for a known token with a usable mode."""
    if entry["mode"] not in ("ok", "ok_unverified", "ok_minimal"):
        return STATIC_MODES["revoked"](entry, None) if entry["mode"] == "revoked" \
            else (503, "text/html", b"<html><body>down</body></html>", [])
    orgs = entry.get("orgs", [{
        "id": "org-" + entry["label"], "name": "Org " + entry["label"],
        "isInRestrictedMode": False, "usagePercentage": 42.5,
        "resolvedMaxSignals": 100000}])
    orgs = served_usage(orgs, entry.get("usage_scale", "fraction"))
    return 200, JSON_TYPE, json.dumps(orgs).encode(), []


def entry_problem(entry):
    """Returns why an entry is unusable, or None. Never quotes the token."""
    if not isinstance(entry, dict):
        return "an entry must be a JSON object"
    for key, value in entry.items():
        if key not in ENTRY_KEYS:
            return "unknown key %s (known: %s)" % (
                json.dumps(TOKEN_SHAPE.sub("tdpat_<redacted>", key)[:40]),
                ", ".join(sorted(ENTRY_KEYS)))
        check, want = ENTRY_KEYS[key]
        if not check(value):
            return "%s must be %s" % (key, want)
    return None


def token_problem(token):
    if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]+", token):
        return "a token must be non-empty printable ASCII without spaces"
    return None


def parse_table(doc, base):
    """Merges a {token: entry-or-null} document into a copy of base.

    Returns (new table, None) or (None, reason). A null entry removes the
    token. Fields merge into an existing entry; a new entry gets label
    "default" and mode "ok" unless it says otherwise. Reasons name an entry
    by its position, never by its token."""
    if not isinstance(doc, dict):
        return None, "the token table must be a JSON object {token: entry}"
    table = {t: dict(e) for t, e in base.items()}
    for n, (token, spec) in enumerate(doc.items(), 1):
        why = token_problem(token)
        if why is None and spec is not None:
            why = entry_problem(spec)
        if why is None and spec is not None and spec.get("label") == \
                UNKNOWN_LABEL:
            why = 'label "%s" is reserved for unknown tokens' % UNKNOWN_LABEL
        if why is not None:
            return None, "entry #%d: %s" % (n, why)
        if spec is None:
            table.pop(token, None)
        else:
            merged = table.get(token, {"label": "default", "mode": "ok"})
            merged.update(spec)
            table[token] = merged
    return table, None


# --------------------------------------------------------------------------
# HTTP/1.1 framing.

class Request:
    __slots__ = ("method", "target", "path", "query", "version", "headers",
                 "keep_alive")


def parse_head(data):
    """Parses a request head (bytes up to and including the blank line).
    Returns a Request, or None when it is not HTTP/1.x."""
    text = data.decode("latin-1").lstrip("\r\n")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        return None
    req = Request()
    req.method, req.target, req.version = parts
    req.path, _, req.query = req.target.partition("?")
    req.headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        req.headers.setdefault(name.lower(), []).append(value.strip(" \t"))
    options = {o.strip().lower() for v in req.headers.get("connection", [])
               for o in v.split(",")}
    if req.version == "HTTP/1.1":
        req.keep_alive = "close" not in options
    else:
        req.keep_alive = "keep-alive" in options
    return req


def response_head(status, content_type=None, length=None, headers=(),
                  keep_alive=True, chunked=False):
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
             "Date: " + http_date(),
             "Server: fake-telemetrydeck"]
    if content_type:
        lines.append("Content-Type: " + content_type)
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append("Content-Length: %d" % length)
    lines.extend(headers)
    lines.append("Connection: " + ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --------------------------------------------------------------------------
# Counters.

class LabelStats:
    __slots__ = ("requests", "auth_ok", "conn_ids", "paths", "statuses")

    def __init__(self):
        self.requests = 0
        self.auth_ok = 0
        self.conn_ids = set()
        self.paths = {}
        self.statuses = {}

    def as_json(self):
        return {"requests": self.requests, "auth_ok": self.auth_ok,
                "connections": len(self.conn_ids), "paths": dict(self.paths),
                "statuses": dict(self.statuses)}


class Stats:
    def __init__(self, labels, open_connections=0):
        self.connections = 0
        self.tls_handshakes = 0
        self.tls_resumed = 0
        self.requests = 0
        self.unknown_auth = 0
        self.bad_requests = 0
        self.max_open_connections = open_connections
        # Every label in the table shows up, even before its first request,
        # so a test can read labels.<x>.requests == 0 without a KeyError.
        self.labels = {UNKNOWN_LABEL: LabelStats()}
        for label in labels:
            self.label(label)

    def label(self, name):
        stats = self.labels.get(name)
        if stats is None:
            stats = self.labels[name] = LabelStats()
        return stats


# --------------------------------------------------------------------------
# One API connection.

class Connection:
    def __init__(self, server, cid, reader, writer):
        self.server = server
        self.cid = cid
        self.reader = reader
        self.writer = writer
        self.aborted = False
        peer = writer.get_extra_info("peername")
        # The client's address, for tests of the source address it binds.
        self.peer = peer[0] if peer else "?"

    async def serve(self):
        """Answers requests until the client or a mode ends the connection."""
        server = self.server
        while True:
            try:
                if server.idle_timeout > 0:
                    head = await asyncio.wait_for(
                        self.reader.readuntil(b"\r\n\r\n"),
                        server.idle_timeout)
                else:
                    head = await self.reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client closed, perhaps mid-request
            except asyncio.LimitOverrunError:
                await self.refuse(431, "Request head too large.")
                return
            except TimeoutError:
                return  # idle keep-alive connection, like real servers do
            req = parse_head(head)
            if req is None:
                await self.refuse(400, "Malformed request.")
                return
            if "transfer-encoding" in req.headers:
                await self.refuse(501, "Chunked requests not supported.")
                return
            length = req.headers.get("content-length", ["0"])
            if len(length) != 1 or not length[0].isdigit():
                await self.refuse(400, "Bad Content-Length.")
                return
            if int(length[0]) > MAX_API_BODY:
                await self.refuse(413, "Request body too large.")
                return
            if int(length[0]):
                await self.reader.readexactly(int(length[0]))
            if not await self.answer(req) or not req.keep_alive:
                return

    async def refuse(self, status, reason):
        self.server.stats.bad_requests += 1
        self.writer.write(response_head(status, JSON_TYPE,
                                        len(vapor_error(reason)),
                                        keep_alive=False)
                          + vapor_error(reason))
        await self.writer.drain()

    async def answer(self, req):
        """Counts and answers one request. Returns False to close."""
        server = self.server
        stats = server.stats
        token, exact = server.bearer(req)
        entry = server.tokens.get(token) if token is not None else None
        if entry is not None:
            entry = dict(entry)  # a snapshot: /mode may change it meanwhile
        label = entry["label"] if entry else UNKNOWN_LABEL
        path = server.scrub(req.path)

        stats.requests += 1
        lstats = stats.label(label)
        lstats.requests += 1
        lstats.conn_ids.add(self.cid)
        lstats.paths[path] = lstats.paths.get(path, 0) + 1
        if entry is None:
            stats.unknown_auth += 1
        elif exact:
            lstats.auth_ok += 1

        delay = entry.get("delay", server.delay) if entry else server.delay
        if delay > 0:
            await asyncio.sleep(delay)

        if req.path in ORGS_PATHS and entry is not None and req.method == "GET":
            mode, answer = "orgs", orgs_answer(entry)
            if entry.get("orgs_hang"):
                mode, answer = "hang", None
        elif req.path not in API_PATHS and req.path not in ORGS_PATHS:
            mode, answer = "-", (404, JSON_TYPE, vapor_error("Not Found"), [])
        elif req.method != "GET":
            mode, answer = "-", (405, JSON_TYPE,
                                 vapor_error("Method Not Allowed"),
                                 ["Allow: GET"])
        elif entry is None:
            mode, answer = "-", (401, JSON_TYPE,
                                 vapor_error("User not authenticated."), [])
        else:
            mode = entry["mode"]
            answer = None if mode in STREAM_MODES else \
                STATIC_MODES[mode](entry, server)

        status = answer[0] if answer else (None if mode == "hang" else 200)
        if status is not None:
            key = str(status)
            lstats.statuses[key] = lstats.statuses.get(key, 0) + 1
        if not QUIET:
            method = req.method if re.fullmatch(r"[A-Z]{1,10}", req.method) \
                else "?"
            log("conn=%d peer=%s label=%s mode=%s %s %s -> %s"
                % (self.cid, self.peer, label, mode, method, path,
                   status if status is not None else "(no answer)"))

        if answer is None:
            return await getattr(self, "mode_" + mode)(req, entry)
        status, ctype, body, headers = answer
        # Headers and body in one buffer and one write: the plugin must not
        # depend on how the answer is split, but timing tests want a
        # single segment for a normal answer.
        self.writer.write(response_head(status, ctype, len(body), headers,
                                        req.keep_alive) + body)
        await self.writer.drain()
        return True

    # -- modes that misbehave on the wire ---------------------------------

    async def mode_stream_1gib(self, req, entry):
        # A body that looks like the start of a valid account and then never
        # seems to end: the client must stop reading at its own bound.
        total = 1024 ** 3
        start = ok_body(entry)[:-1] + b',"padding":"'
        end = b'"}'
        chunk = b"x" * 65536
        w = self.writer
        w.write(response_head(200, JSON_TYPE, headers=(),
                              keep_alive=req.keep_alive, chunked=True)
                + b"%x\r\n%s\r\n" % (len(start), start))
        left = total - len(start) - len(end)
        while left > 0:
            await w.drain()  # back-pressure
            # drain() returns at once while the transport takes more, which
            # it does without end for a client that has gone: let the loop
            # run, so the hang-up is seen and other connections are served.
            await asyncio.sleep(0)
            # Over TLS, drain() does not raise once the client is gone: stop
            # writing into a closing transport ourselves, or when the client
            # has hung up (EOF read), so that encrypting the rest of a
            # gigabyte for nobody does not keep the next poll waiting.
            if w.is_closing() or self.reader.at_eof():
                return False
            piece = chunk if left >= len(chunk) else chunk[:left]
            w.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            left -= len(piece)
        w.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(end), end))
        await w.drain()
        return True

    async def mode_trickle(self, req, entry):
        # Headers at once, then the body one byte per interval: a client
        # that only has a low-speed or total timeout must give up.
        body = ok_body(entry)
        interval = entry.get("interval", 1.0)
        w = self.writer
        w.write(response_head(200, JSON_TYPE, len(body), (), req.keep_alive))
        await w.drain()
        for i in range(len(body)):
            await asyncio.sleep(interval)
            if w.is_closing():
                return False
            w.write(body[i:i + 1])
            await w.drain()
        return True

    async def mode_short_body(self, req, entry):
        # Promises 100 bytes more than it sends, then closes.
        body = ok_body(entry)
        self.writer.write(response_head(200, JSON_TYPE, len(body) + 100, (),
                                        req.keep_alive) + body)
        await self.writer.drain()
        return False

    async def mode_reset_mid_body(self, req, entry):
        # Headers and half the body, then a TCP RST (SO_LINGER 0 + close).
        body = ok_body(entry)
        self.writer.write(response_head(200, JSON_TYPE, len(body), (),
                                        req.keep_alive)
                          + body[:len(body) // 2])
        await self.writer.drain()
        # Let the client read what was sent, so it sees a reset mid-body
        # rather than a reset before the headers.
        await asyncio.sleep(0.1)
        self.reset()
        return False

    async def mode_hang(self, req, entry):
        # Never answers; holds the socket open until the client goes away
        # (or the server stops), discarding whatever else it sends.
        while await self.reader.read(65536):
            pass
        return False

    def reset(self):
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        self.writer.transport.abort()
        self.aborted = True


# --------------------------------------------------------------------------
# The server: both listeners, the token table, the counters.

class FakeApi:
    def __init__(self, args, tokens):
        self.args = args
        self.tokens = tokens
        self.delay = args.delay
        self.idle_timeout = args.idle_timeout
        self.tls = None
        if args.cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.cert, args.key)
            # Pin HTTP/1.1: the plugin's libcurl may offer h2 via ALPN.
            self.tls.set_alpn_protocols(["http/1.1"])
            if args.tls_max == "1.1":
                # An old server: TLS 1.0 and 1.1 only. OpenSSL keeps them
                # off at its default security level.
                self.tls.minimum_version = ssl.TLSVersion.TLSv1
                self.tls.maximum_version = ssl.TLSVersion.TLSv1_1
                self.tls.set_ciphers("DEFAULT:@SECLEVEL=0")
        self.stats = Stats(self.labels())
        self.conn_ids = itertools.count(1)
        self.open_connections = 0
        self.tasks = set()
        self.stop = None
        self.api_port = None
        self.control_port = None

    def labels(self):
        return {e["label"] for e in self.tokens.values()}

    def bearer(self, req):
        """Returns (token or None, exact) from the Authorization header.

        Accepts what a lenient server would ("bearer", extra spaces) so the
        request is attributed to its label; exact is True only for the
        single header "Bearer <token>", which is what auth_ok counts."""
        values = req.headers.get("authorization", [])
        if len(values) != 1:
            return None, False
        m = BEARER.fullmatch(values[0])
        if m is None:
            return None, False
        return m.group(1), values[0] == "Bearer " + m.group(1)

    def scrub(self, path):
        """A request path made safe for logs and stats."""
        if path in API_PATHS:
            return path  # the common case, nothing to look at
        path = path[:200]
        for token in self.tokens:
            if token in path:
                path = path.replace(token, "<token>")
        path = TOKEN_SHAPE.sub("tdpat_<redacted>", path)
        return "".join(c if " " < c < "\x7f" else "?" for c in path)

    # -- API listener ------------------------------------------------------

    def api_protocol(self):
        # Called by asyncio at TCP accept, before any TLS handshake: this
        # is where "connections" counts.
        self.stats.connections += 1
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_HEAD, loop=loop)
        return asyncio.StreamReaderProtocol(reader, self.api_connection,
                                            loop=loop)

    async def api_connection(self, reader, writer):
        # asyncio calls this once the TLS handshake (if any) completed.
        task = asyncio.current_task()
        self.tasks.add(task)
        cid = next(self.conn_ids)
        self.open_connections += 1
        self.stats.max_open_connections = max(
            self.stats.max_open_connections, self.open_connections)
        if self.tls is not None:
            self.stats.tls_handshakes += 1
            sslobj = writer.get_extra_info("ssl_object")
            if sslobj is not None and sslobj.session_reused:
                self.stats.tls_resumed += 1
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(self, cid, reader, writer)
        cancelled = False
        try:
            await conn.serve()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError,
                TimeoutError):
            pass  # the client went away; nothing to report
        except asyncio.CancelledError:
            cancelled = True  # server shutdown
        except Exception as exc:  # noqa: BLE001 - keep serving the others
            log_internal_error("API connection", exc)
        finally:
            self.open_connections -= 1
            self.tasks.discard(task)
            if not conn.aborted:
                if cancelled:
                    writer.transport.abort()
                else:
                    writer.close()

    # -- control listener --------------------------------------------------

    def control_protocol(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_HEAD, loop=loop)
        return asyncio.StreamReaderProtocol(reader, self.control_connection,
                                            loop=loop)

    async def control_connection(self, reader, writer):
        # One request per connection, answered with Connection: close.
        task = asyncio.current_task()
        self.tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            req = parse_head(head)
            status, doc = 400, {"error": "malformed request"}
            if req is not None:
                length = req.headers.get("content-length", ["0"])
                if len(length) == 1 and length[0].isdigit() \
                        and int(length[0]) <= MAX_CONTROL_BODY:
                    body = await reader.readexactly(int(length[0]))
                    status, doc = self.control(req, body)
            payload = compact(doc) + b"\n"
            writer.write(response_head(status, JSON_TYPE, len(payload),
                                       keep_alive=False) + payload)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        except Exception as exc:  # noqa: BLE001
            log_internal_error("control connection", exc)
        finally:
            self.tasks.discard(task)
            writer.close()

    def control(self, req, body):
        """Routes one control request. Returns (status, JSON document)."""
        route = (req.method, req.path.rstrip("/") or "/")
        if route == ("GET", "/stats"):
            return 200, self.stats_json()
        if route == ("GET", "/health"):
            return 200, {"ok": True, "port": self.api_port,
                         "tls": self.tls is not None}
        if route == ("POST", "/shutdown"):
            log("shutdown requested over the control port")
            asyncio.get_running_loop().call_soon(self.stop.set)
            return 200, {"ok": True}
        if route == ("POST", "/reset_stats"):
            self.stats = Stats(self.labels(), self.open_connections)
            return 200, {"ok": True}
        if req.method != "POST" or route[1] not in ("/tokens", "/mode",
                                                    "/delay", "/certificate"):
            return 404, {"error": "no such control endpoint"}
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        if route[1] == "/tokens":
            return self.control_tokens(doc, "replace=1" in req.query.split("&"))
        if route[1] == "/mode":
            return self.control_mode(doc)
        if route[1] == "/certificate":
            return self.control_certificate(doc)
        return self.control_delay(doc)

    def control_certificate(self, doc):
        """A renewed certificate: handshakes from now on show it; the
        connections already open keep the one they were set up with."""
        if self.tls is None:
            return 409, {"error": "the API listener speaks plain HTTP"}
        if not isinstance(doc, dict) or not isinstance(doc.get("cert"), str) \
                or not isinstance(doc.get("key"), str):
            return 400, {"error": 'expected {"cert": PEM path, "key": PEM '
                                  'path}'}
        # Tried on a context of its own first: a pair that does not load
        # must leave the served one as it was.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                doc["cert"], doc["key"])
            self.tls.load_cert_chain(doc["cert"], doc["key"])
        except (OSError, ssl.SSLError) as exc:
            return 400, {"error": "cannot load the pair: %s"
                         % type(exc).__name__}
        log("certificate now %s" % os.path.basename(doc["cert"]))
        return 200, {"ok": True}

    def control_tokens(self, doc, replace):
        table, why = parse_table(doc, {} if replace else self.tokens)
        if why is not None:
            return 400, {"error": why}
        self.tokens = table
        for label in self.labels():
            self.stats.label(label)
        log("token table %s: %d entries, labels %s"
            % ("replaced" if replace else "merged", len(table),
               ", ".join(sorted(self.labels()))))
        return 200, {"ok": True, "entries": len(table),
                     "labels": sorted(self.labels())}

    def control_mode(self, doc):
        if not isinstance(doc, dict) or not isinstance(doc.get("label"), str):
            return 400, {"error": 'expected {"label": ..., "mode": ...}'}
        label = doc["label"]
        change = {k: v for k, v in doc.items() if k != "label"}
        why = entry_problem(change)
        if why is not None:
            return 400, {"error": why}
        hits = [e for e in self.tokens.values() if e["label"] == label]
        if not hits:
            return 404, {"error": "no entry has label %s" % json.dumps(
                TOKEN_SHAPE.sub("tdpat_<redacted>", label))}
        for entry in hits:
            entry.update(change)
        log("label=%s now %s" % (label, ", ".join(
            "%s=%s" % (k, json.dumps(v)) for k, v in sorted(change.items())
            if k not in ("body", "body_base64", "headers"))))
        return 200, {"ok": True, "updated": len(hits)}

    def control_delay(self, doc):
        seconds = doc.get("seconds") if isinstance(doc, dict) else None
        if not _num(seconds) or seconds < 0:
            return 400, {"error": 'expected {"seconds": number >= 0}'}
        self.delay = seconds
        log("default delay now %gs" % seconds)
        return 200, {"ok": True, "delay": seconds}

    def stats_json(self):
        s = self.stats
        return {
            "connections": s.connections,
            "tls_handshakes": s.tls_handshakes,
            "tls_resumed": s.tls_resumed,
            "requests": s.requests,
            "unknown_auth": s.unknown_auth,
            "bad_requests": s.bad_requests,
            "open_connections": self.open_connections,
            "max_open_connections": s.max_open_connections,
            "labels": {name: ls.as_json() for name, ls in s.labels.items()},
        }

    # -- life cycle --------------------------------------------------------

    async def run(self):
        loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop.set)
        loop.set_exception_handler(self.loop_error)

        tls_opts = {}
        if self.tls is not None:
            tls_opts = {"ssl": self.tls, "ssl_handshake_timeout": 30}
        # A deep backlog: a benchmark opens 1000 connections at once.
        api = await loop.create_server(
            self.api_protocol, self.args.host, self.args.port, backlog=4096,
            **tls_opts)
        control = await loop.create_server(
            self.control_protocol, LOOPBACK, self.args.control_port,
            backlog=128)
        self.api_port = api.sockets[0].getsockname()[1]
        self.control_port = control.sockets[0].getsockname()[1]
        # The API port file comes last: once it exists, everything is up.
        if self.args.control_port_file:
            write_atomically(self.args.control_port_file, self.control_port)
        if self.args.port_file:
            write_atomically(self.args.port_file, self.api_port)
        log("API on %s:%d (%s), control on %s:%d (http), %d tokens, "
            "labels %s, delay %gs"
            % (self.args.host, self.api_port, "https" if self.tls else "http",
               LOOPBACK, self.control_port, len(self.tokens),
               ", ".join(sorted(self.labels())) or "-", self.delay))

        await self.stop.wait()
        log("stopping")
        api.close()
        control.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
        log("stopped")

    def loop_error(self, loop, context):
        # asyncio's default handler prints reprs of transports and
        # exceptions; keep to the message and the exception type.
        exc = context.get("exception")
        if isinstance(exc, (ConnectionError, ssl.SSLError)):
            return  # clients that went away mid-write or mid-handshake
        log("asyncio: %s%s" % (context.get("message", "error"),
                               " (%s)" % type(exc).__name__ if exc else ""))


def write_atomically(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def raise_fd_limit():
    # A benchmark holds 1000+ connections open; the default soft limit of
    # 1024 descriptors would run out first.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Fake TelemetryDeck API on 127.0.0.1 for tests.",
        epilog="modes: " + ", ".join(MODES))
    p.add_argument("--host", choices=API_HOSTS, default=LOOPBACK,
                   help="loopback address of the API listener (default "
                        "127.0.0.1; the control port stays on 127.0.0.1)")
    p.add_argument("--port", type=int, default=0,
                   help="API port (0: ephemeral, the default)")
    p.add_argument("--port-file",
                   help="write the bound API port here once listening")
    p.add_argument("--control-port", type=int, default=0,
                   help="control port, plain HTTP (0: ephemeral)")
    p.add_argument("--control-port-file",
                   help="write the bound control port here")
    p.add_argument("--cert", help="server certificate (PEM): serve HTTPS")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--config",
                   help='JSON file {token: {"label": ..., "mode": ...}}')
    p.add_argument("--delay", type=float, default=0.0,
                   help="seconds before each answer unless the token's "
                        "entry has its own delay (default 0)")
    p.add_argument("--idle-timeout", type=float, default=0.0,
                   help="close keep-alive connections idle this long "
                        "(default 0: never)")
    p.add_argument("--tls-max", choices=("1.1",),
                   help="speak TLS 1.1 at most (an outdated server)")
    p.add_argument("--quiet", action="store_true",
                   help="no log line per request")
    args = p.parse_args(argv)
    if bool(args.cert) != bool(args.key):
        p.error("--cert and --key go together")
    if args.delay < 0 or args.idle_timeout < 0:
        p.error("--delay and --idle-timeout must be >= 0")
    return args


def load_config(path):
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        # JSON errors give a position only, never the text around it.
        raise SystemExit("fake_api: cannot read --config: %s" % exc)
    table, why = parse_table(doc, {})
    if why is not None:
        raise SystemExit("fake_api: --config: %s" % why)
    return table


def main(argv=None):
    global QUIET
    args = parse_args(argv)
    QUIET = args.quiet
    raise_fd_limit()
    try:
        server = FakeApi(args, load_config(args.config))
    except (OSError, ssl.SSLError) as exc:
        raise SystemExit("fake_api: cannot load --cert/--key: %s" % exc)
    try:
        asyncio.run(server.run())
    except OSError as exc:
        raise SystemExit("fake_api: cannot listen: %s" % exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

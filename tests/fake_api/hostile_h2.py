#!/usr/bin/python3
"""A hostile HTTP/2 users/info endpoint on 127.0.0.1, for the tests.

TLS with ALPN h2 only. The Bearer token of each request picks how its
stream is treated (the --config table, {token: {"label": L, "mode": M}}):

  ok              200 with a users/info body
  rst             RST_STREAM (INTERNAL_ERROR) on that stream
  stall_headers   HEADERS 200 with a Content-Length, then nothing: the
                  stream stays open
  never           nothing at all on that stream
  big_headers     a 200 header block of about 200 KiB (HEADERS and
                  CONTINUATION frames), more than libcurl accepts
  goaway          its own stream answered as ok, then GOAWAY (NO_ERROR)
                  naming it the last stream: every later stream on that
                  connection is left unprocessed, for the client to retry
                  on a new connection
  settings_flood  "count" SETTINGS frames (default 5000) in one burst,
                  then the ok answer

Counters go to --stats-file (JSON, rewritten whole by rename at every
change): connections accepted, and per label its requests and the
connections that carried them. Tokens never reach stdout, stderr, files or
the counters: requests are named by label only. Runs for at most
--lifetime seconds; SIGTERM or SIGINT end it with status 0. Needs Debian's
python3-h2 (hence /usr/bin/python3).
"""

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from h2.errors import ErrorCodes
from h2.settings import SettingCodes
from hpack import NeverIndexedHeaderTuple

MODES = ("ok", "rst", "stall_headers", "never", "big_headers", "goaway",
         "settings_flood")
PATHS = (b"/api/v3/users/info", b"/api/v3/users/info/")
READ_CHUNK = 65536
BIG_HEADER_FIELDS = 200       # fields of BIG_HEADER_VALUE bytes: ~200 KiB,
BIG_HEADER_VALUE = 1024       # each field far below nghttp2's per-field cap
FLOOD_DEFAULT = 5000
FLOOD_MAX = 100000
LINGER_AFTER_GOAWAY = 3.0     # seconds to read and drop what still comes


def body_for(label):
    return json.dumps({"id": "id-" + label, "email": label + "@example.com",
                       "emailIsVerified": True,
                       "organization": {"name": "Org " + label}},
                      separators=(",", ":")).encode()


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


class Stats:
    def __init__(self, path, labels):
        self.path = path
        self.connections = 0
        self.labels = {l: {"requests": 0, "connections": 0} for l in labels}
        self.labels.setdefault("unknown", {"requests": 0, "connections": 0})
        self.seen = {l: set() for l in self.labels}
        self.save()

    def connection(self):
        self.connections += 1
        self.save()
        return self.connections

    def request(self, label, conn_no):
        entry = self.labels[label]
        entry["requests"] += 1
        if conn_no not in self.seen[label]:
            self.seen[label].add(conn_no)
            entry["connections"] += 1
        self.save()

    def save(self):
        if self.path:
            write_atomically(self.path, json.dumps(
                {"connections": self.connections, "labels": self.labels},
                sort_keys=True))


class Connection:
    """One client connection: feeds h2, answers each stream by its mode."""

    def __init__(self, server, reader, writer):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.no = server.stats.connection()
        cfg = h2.config.H2Configuration(client_side=False,
                                        header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.gone_away = False

    def log(self, text):
        print("conn %d: %s" % (self.no, text), flush=True)

    async def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def run(self):
        self.h2.initiate_connection()
        await self.flush()
        while not self.gone_away:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                return
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.log("protocol error: %s" % type(e).__name__)
                await self.flush()
                return
            for ev in events:
                if isinstance(ev, h2.events.RequestReceived):
                    await self.request(ev.stream_id, dict(ev.headers))
                    if self.gone_away:
                        break  # later streams stay unprocessed
                elif isinstance(ev, h2.events.StreamReset):
                    self.log("stream %d reset by the client" % ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.log("GOAWAY from the client (error %s)"
                             % ev.error_code)
            await self.flush()
        await self.linger()

    async def linger(self):
        """After our GOAWAY the client may still be sending: read and drop
        it for a while, so closing does not turn into a reset that could
        overtake the GOAWAY."""
        loop = asyncio.get_running_loop()
        end = loop.time() + LINGER_AFTER_GOAWAY
        while loop.time() < end:
            try:
                data = await asyncio.wait_for(self.reader.read(READ_CHUNK),
                                              end - loop.time())
            except asyncio.TimeoutError:
                return
            if not data:
                return

    def entry_of(self, headers):
        auth = headers.get(b"authorization", b"")
        scheme, _, token = auth.partition(b" ")
        if scheme.lower() != b"bearer":
            return None
        return self.server.tokens.get(token.strip().decode("latin-1"))

    async def request(self, sid, headers):
        entry = self.entry_of(headers)
        label = entry["label"] if entry else "unknown"
        self.server.stats.request(label, self.no)
        path = headers.get(b":path", b"")
        if entry is None or path not in PATHS:
            status = b"401" if entry is None else b"404"
            self.h2.send_headers(sid, [(b":status", status),
                                       (b"content-length", b"0")],
                                 end_stream=True)
            self.log("stream %d: %s %s" % (sid, label, status.decode()))
            return
        mode = entry.get("mode", "ok")
        self.log("stream %d: %s %s" % (sid, label, mode))
        await getattr(self, "mode_" + mode)(sid, entry)

    def answer(self, sid, label, end=True):
        body = body_for(label)
        self.h2.send_headers(sid, [
            (b":status", b"200"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode())])
        if end:
            self.h2.send_data(sid, body, end_stream=True)

    async def mode_ok(self, sid, entry):
        self.answer(sid, entry["label"])

    async def mode_rst(self, sid, entry):
        self.h2.reset_stream(sid, ErrorCodes.INTERNAL_ERROR)

    async def mode_stall_headers(self, sid, entry):
        self.answer(sid, entry["label"], end=False)

    async def mode_never(self, sid, entry):
        pass

    async def mode_big_headers(self, sid, entry):
        # Never indexed: the block does not touch the HPACK tables, so a
        # client that refuses it stays in step with the others' headers.
        fields = [(b":status", b"200"),
                  (b"content-type", b"application/json")]
        fields += [NeverIndexedHeaderTuple(b"x-padding-%d" % i,
                                           b"p" * BIG_HEADER_VALUE)
                   for i in range(BIG_HEADER_FIELDS)]
        self.h2.send_headers(sid, fields, end_stream=True)

    async def mode_goaway(self, sid, entry):
        self.answer(sid, entry["label"])
        self.h2.close_connection(ErrorCodes.NO_ERROR, last_stream_id=sid)
        self.gone_away = True

    async def mode_settings_flood(self, sid, entry):
        count = min(int(entry.get("count", FLOOD_DEFAULT)), FLOOD_MAX)
        for _ in range(count):
            self.h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 100})
        await self.flush()
        self.answer(sid, entry["label"])


class Server:
    def __init__(self, args):
        with open(args.config) as f:
            self.tokens = json.load(f)
        for i, entry in enumerate(self.tokens.values()):
            if entry.get("mode", "ok") not in MODES:
                sys.exit("entry %d: unknown mode" % (i + 1))
            entry.setdefault("label", "default")
        self.stats = Stats(args.stats_file,
                           [e["label"] for e in self.tokens.values()])
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.ctx.set_alpn_protocols(["h2"])
        self.args = args
        self.open = set()

    async def client(self, reader, writer):
        conn = Connection(self, reader, writer)
        self.open.add(writer)
        try:
            await conn.run()
        except (ConnectionError, ssl.SSLError, OSError) as e:
            conn.log("ended: %s" % type(e).__name__)
        finally:
            self.open.discard(writer)
            writer.close()

    async def main(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(self.client, "127.0.0.1",
                                            self.args.port, ssl=self.ctx)
        port = server.sockets[0].getsockname()[1]
        if self.args.port_file:
            write_atomically(self.args.port_file, "%d\n" % port)
        print("listening on 127.0.0.1:%d" % port, flush=True)
        try:
            await asyncio.wait_for(stop.wait(), self.args.lifetime)
        except asyncio.TimeoutError:
            print("lifetime over", flush=True)
        server.close()
        for w in list(self.open):
            w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--stats-file")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--lifetime", type=float, default=600.0,
                   help="seconds before it exits by itself (default 600)")
    asyncio.run(Server(p.parse_args()).main())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 20's sections of bench/run: newconn and recon-system.

newconn: CPU per transfer of bench/tls_cost.c (the plugin's libcurl
         settings, 20 handles on one multi handle, all started at once per
         poll) against Debian's nginx on 127.0.0.1, for both libcurl
         flavours: the system store vs a one-certificate CA file; a server
         that closes each connection after its answer (TLS 1.2 and 1.3,
         nginx's session cache and tickets on) vs one that keeps it; TLS
         session caches per handle (libcurl's default), off, or shared
         through a share handle; the OpenSSL flavour's CA cache on and off.
         nginx's log says which handshakes resumed a session. Also the
         memory a connection in setup holds (tls_cost hold: 1,000
         connections to a listener that never speaks TLS).
recon-system: collectd with ours and with Debian's curl_json, the system
         store (plus the test CA), the fake closing idle connections, so
         every poll opens a new connection: CPU per poll; beside them ours
         with a one-certificate CACert (reconnecting, and on a kept
         connection), and ours built against libcurl's GnuTLS flavour
         (--gnutls-so, as before issue 20), for the record.

Loopback only; every process started here is stopped by its pid.
"""

import os
import subprocess

import nginx  # the tests' nginx runner (bench.py sets the path)
from harness import Stack, free_port

B = None  # bench.py, the running driver: set by it before any call

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

TLSCOST_FULL = dict(nc_accounts=20, nc_polls=10, nc_rounds=3,
                    hold_conns=1000, hold_conns_gnutls_system=250,
                    rs_rounds=3, rs_polls=50)
# GnuTLS with the system store holds ~3.8 MiB per connection in setup: 250
# of them, not 1,000, on a shared machine (the figure is per connection).
TLSCOST_QUICK = dict(nc_accounts=3, nc_polls=2, nc_rounds=1,
                     hold_conns=20, hold_conns_gnutls_system=20,
                     rs_rounds=1, rs_polls=5)

# Three servers in one nginx: "close" answers and closes (TLS 1.2 or 1.3,
# as the client offers: both flavours pick 1.3), "close12" the same with
# TLS 1.2 only (where GnuTLS can resume by session ID), "keep" keeps the
# connection. Session cache and tickets on, as load balancers do. Each
# answers users/info to anyone.
CLOSE = "    ssl_protocols TLSv1.2 TLSv1.3;\n    keepalive_timeout 0;\n"
CLOSE12 = "    ssl_protocols TLSv1.2;\n    keepalive_timeout 0;\n"
KEEP = "    ssl_protocols TLSv1.2 TLSv1.3;\n" + nginx.KEEP
SESSIONS = ("  ssl_session_cache shared:tdbench:4m;\n"
            "  ssl_session_tickets on;\n")


class TlsNginx(nginx.Nginx):
    """The tests' nginx (tests/integration/nginx.py) with the three
    servers; its log: port, connection, TLS protocol, session resumed."""

    def __init__(self, ws, certs):
        d = os.path.join(ws, "nginx-tlscost")
        os.makedirs(d, exist_ok=True)
        self.by = dict(close=free_port(), close12=free_port(),
                       keep=free_port())
        tls = dict(close=CLOSE, close12=CLOSE12, keep=KEEP)
        super().__init__(
            d, servers=[nginx.server(p, tls[w], auth=False)
                        for w, p in self.by.items()],
            ports=self.by.values(), log="access.log", cert_dir=certs,
            log_format="$server_port $connection $ssl_protocol "
                       "$ssl_session_reused", http=SESSIONS)

    def url(self, which):
        return "https://127.0.0.1:%d/api/v3/users/info" % self.by[which]

    def lines(self):
        try:
            with open(self.access_log) as f:
                return [l.split() for l in f if l.strip()]
        except FileNotFoundError:
            return []


def system_plus_test_ca(env):
    both = os.path.join(env.ws, "system-plus-test-ca.pem")
    with open(both, "w") as out:
        for path in (SYSTEM_BUNDLE, env.ca):
            with open(path) as f:
                out.write(f.read())
    return both


def newconn_cases(env, both):
    """(flavour, CA, server, share, cache) for every variant measured."""
    bins = {"gnutls": os.path.join(B.BIN, "tls_cost")}
    ossl = os.path.join(B.BIN, "tls_cost_openssl")
    if os.path.exists(ossl):
        bins["openssl"] = ossl
    cases = []
    for fl in bins:
        for ca in ("one", "system"):
            cases.append((fl, ca, "keep", "none", None))
            for server in ("close", "close12"):
                for share in ("none", "nosession", "ssl"):
                    cases.append((fl, ca, server, share, None))
        if fl == "openssl":
            cases.append((fl, "system", "close", "none", "0"))
    return bins, cases


def bench_newconn(env, S):
    B.say("10. CPU per transfer on a new TLS connection (tls_cost, nginx): "
          "CA file, session caches, both flavours")
    both = system_plus_test_ca(env)
    bins, cases = newconn_cases(env, both)
    cafile = {"one": env.ca, "system": both}
    with Stack() as s:
        ng = s.start(TlsNginx(env.ws, os.path.join(env.ws, "certs")))
        res = {c: [] for c in cases}
        reused = {}
        for r in range(S["nc_rounds"]):
            for c in cases[r % len(cases):] + cases[:r % len(cases)]:
                fl, ca, server, share, cache = c
                mark = len(ng.lines())
                cmd = [bins[fl], "poll", ng.url(server),
                       env.token_file("tls"), cafile[ca],
                       str(S["nc_accounts"]), str(S["nc_polls"]), share]
                if cache is not None:
                    cmd.append(cache)
                out = subprocess.run(cmd, capture_output=True, text=True,
                                     timeout=600)
                if out.returncode != 0:
                    raise RuntimeError("%s failed: %s" % (cmd, out.stderr))
                kv = dict(p.split("=", 1) for p in out.stdout.split())
                res[c].append(float(kv["cpu_us_per_transfer"]) / 1000)
                new = ng.lines()[mark:]
                conns = {l[1] for l in new}
                resumed = {l[1] for l in new if l[3] == "r"}
                protos = sorted({l[2] for l in new})
                reused[c] = (len(conns), len(resumed), protos)
    hold = {}
    for fl in bins:
        for ca in ("one", "system"):
            n = S["hold_conns_gnutls_system" if (fl, ca) == (
                "gnutls", "system") else "hold_conns"]
            out = subprocess.run([bins[fl], "hold", cafile[ca], str(n)],
                                 capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                raise RuntimeError("hold failed: %s" % out.stderr)
            kv = dict(p.split("=", 1) for p in out.stdout.split())
            hold[(fl, ca)] = (float(kv["heap_kib_per_conn"]),
                              float(kv["rss_kib_per_conn"]), n)
    for c in cases:
        B.say("   %-7s %-6s %-7s %-9s %-4s %.3f ms; %s" % (
            c[0], c[1], c[2], c[3], c[4] or "", B.median(res[c]), reused[c]))
    for k, v in hold.items():
        B.say("   hold %-7s %-6s heap %.1f KiB, rss %.1f KiB per conn"
              % (k[0], k[1], v[0], v[1]))
    return dict(res=res, reused=reused, hold=hold)


def rows_newconn(S, R):
    res, reused, hold = R["res"], R["reused"], R["hold"]

    def m(c):
        return B.median(res[c]) if c in res else float("nan")

    def rng(c):
        return "%.3f (%s)" % (m(c), B.spread(res[c]))
    n = S["nc_accounts"]
    for fl in ("gnutls", "openssl"):
        if (fl, "one", "keep", "none", None) not in res:
            continue
        kept = m((fl, "one", "keep", "none", None))
        for server, what in (("close", "TLS 1.3"), ("close12", "TLS 1.2")):
            cells = []
            for ca in ("one", "system"):
                for share in ("none", "nosession", "ssl"):
                    c = (fl, ca, server, share, None)
                    conns, resumed, _ = reused[c]
                    cells.append("%s %s: %s, %d of %d resumed" % (
                        ca, share, rng(c), resumed, conns))
            sys_new = m((fl, "system", server, "none", None))
            one_new = m((fl, "one", server, "none", None))
            yield ("10 CPU per transfer, ms, new connection per poll (nginx "
                   "closes after each answer, %s), %s flavour, %d handles "
                   "on one multi, median (range) of %d x %d polls: CA file "
                   "(one certificate / the system store) x TLS session "
                   "cache (per handle / off / shared)" % (
                       what, fl, n, S["nc_rounds"], S["nc_polls"]),
                   "; ".join(cells), "", "",
                   "system/one %.2fx; new (system)/kept %.1fx; new "
                   "(one)/kept %.1fx" % (sys_new / one_new, sys_new / kept,
                                         one_new / kept),
                   "<= 1.2x; <= 3x", B.verdict(sys_new / one_new <= 1.2 and
                                               sys_new / kept <= 3))
        yield ("10 CPU per transfer, ms, kept connection, %s flavour" % fl,
               "one: %s; system: %s" % (
                   rng((fl, "one", "keep", "none", None)),
                   rng((fl, "system", "keep", "none", None))),
               "", "", "", "", "")
    c = ("openssl", "system", "close", "none", "0")
    if c in res:
        yield ("10 CPU per transfer, ms, OpenSSL flavour, new connection, "
               "system store, CA cache off (CURLOPT_CA_CACHE_TIMEOUT 0)",
               rng(c), "", "", "cache on/off %.2fx" % (
                   m(("openssl", "system", "close", "none", None)) / m(c)),
               "", "")
    cells = ["%s %s (%d conns): heap %.1f KiB, RSS %.1f KiB"
             % (k[0], k[1], v[2], v[0], v[1])
             for k, v in sorted(hold.items())]
    worst = hold.get(("gnutls", "system"), (0, 0))[0]
    yield ("10 memory held per connection in setup: connections to a "
           "listener that accepts TCP and never speaks TLS (tls_cost hold; "
           "heap in use by mallinfo2, and VmRSS, growth per connection)",
           "; ".join(cells), "", "", "", "<= 64 KiB",
           B.verdict(worst <= 64))


# (name, daemon kind, CA file, the fake closes idle connections, flavour)
# ("main": the plugin as built, on libcurl's OpenSSL flavour; curl_json on
# Debian's GnuTLS one; "gnutls": ours built --with-curl-flavour=gnutls, as
# before issue 20, for the record.)
RS_VARIANTS = (("ours", "ours", "system", True, "main"),
               ("cj", "cj", "system", True, "main"),
               ("ours-one", "ours", "one", True, "main"),
               ("ours-kept", "ours", "one", False, "main"),
               ("gnutls", "ours", "system", True, "gnutls"),
               ("gnutls-one", "ours", "one", True, "gnutls"))


def bench_recon_system(env, S):
    """Ours and curl_json, system store + test CA, every poll a new
    connection (the fake closes idle connections after half an interval);
    beside them ours with a one-certificate CA file, reconnecting and on a
    kept connection."""
    B.say("11. CPU per poll, system store, server closes idle connections: "
          "ours / curl_json / ours with one certificate / ours kept")
    cafile = {"system": system_plus_test_ca(env), "one": env.ca}
    iv = S["cpu_interval"]
    with Stack() as s:
        idle = s.start(B.Daemon(env.ws, "rs-idle", "idle", [], iv))
        variants = [v for v in RS_VARIANTS
                    if v[4] == "main" or env.gnutls_so is not None]
        res = {v[0]: [] for v in variants}
        conns = {v[0]: [] for v in variants}
        for r in range(S["rs_rounds"]):
            k = r % len(variants)
            for name, kind, ca, closes, fl in variants[k:] + variants[:k]:
                label = "rs%d%s" % (r, name.replace("-", ""))
                with Stack() as up:
                    fake = up.start(B.Fake(
                        env.ws, "fake-" + label,
                        [{"label": label, "mode": "ok"}],
                        idle_timeout=iv / 2 if closes else 0.0))
                    got = B.daemon_cpu_run(
                        env, fake, idle, kind, label, S["rs_polls"], iv,
                        ca=cafile[ca],
                        plugin_so=env.gnutls_so if fl == "gnutls" else None)
                    st = fake.stats()["labels"][label]
                res[name].append(got["ms"])
                conns[name].append(st["connections"] / max(1, st["requests"]))
                B.say("   round %d %-9s %.3f ms/poll, %.2f connections per "
                      "poll" % (r + 1, name, got["ms"], conns[name][-1]))
        B.check_alive(idle, "idle")
    return dict(res=res, conns=conns)


def rows_recon_system(S, R):
    res = R["res"]
    m = {v: B.median(x) for v, x in res.items()}

    def cell(v):
        return "%.3f (%s)" % (m[v], B.spread(res[v]))
    yield ("1 CPU per poll, ms, **system store, server closes idle "
           "connections** (the default deployment: no CACert; here the "
           "system bundle plus the test CA as CACert, fake --idle-timeout "
           "%g s; connections per poll: ours %.2f, curl_json %.2f), median "
           "(range) of %d rounds x %d polls" % (
               S["cpu_interval"] / 2, B.median(R["conns"]["ours"]),
               B.median(R["conns"]["cj"]), S["rs_rounds"], S["rs_polls"]),
           cell("ours"), cell("cj"),
           "ours, one-certificate CACert: %s reconnecting, %s on a kept "
           "connection" % (cell("ours-one"), cell("ours-kept")),
           "ours/curl_json %.2fx; system/one %.1fx; new (system)/kept %.1fx"
           % (m["ours"] / m["cj"], m["ours"] / m["ours-one"],
              m["ours"] / m["ours-kept"]),
           "<= 1.0x; <= 1.2x; <= 3x",
           "; ".join(B.verdict(ok) for ok in (
               m["ours"] <= m["cj"], m["ours"] <= 1.2 * m["ours-one"],
               m["ours"] <= 3 * m["ours-kept"])))
    if "gnutls" in res:
        yield ("1 the same, ours built against libcurl's GnuTLS flavour "
               "(--with-curl-flavour=gnutls, as before issue 20; for the "
               "record): system store vs one-certificate CACert, both "
               "reconnecting", cell("gnutls"), "",
               "one-certificate: %s" % cell("gnutls-one"),
               "system/one %.2fx; GnuTLS/OpenSSL flavour, system store "
               "%.2fx" % (m["gnutls"] / m["gnutls-one"],
                          m["gnutls"] / m["ours"]), "",
               "for the record")

#!/usr/bin/env python3
"""The benchmark driver behind bench/run (see bench/README.md).

Runs, side by side and alternating, collectd with our plugin, collectd
with Debian's curl_json polling the same endpoint, and the bare-libcurl
floor (bench/curl_floor.c), all against our fake TelemetryDeck API on
127.0.0.1 over TLS; runs the parser benchmark (bench/parse_bench.c) under
callgrind and on the clock; and prints one Markdown table.

Every wait is bounded; every process it starts is stopped by its own pid.
Loopback only: the fake binds 127.0.0.1 and every URL names 127.0.0.1.
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD_DIR", os.path.join(TOP, "_build"))
COLLECTD = os.environ.get("COLLECTD", "/usr/sbin/collectd")
DEBIAN_PLUGINS = "/usr/lib/collectd"
TYPES_DB = "/usr/share/collectd/types.db"
FAKE = os.path.join(TOP, "tests", "fake_api", "fake_api.py")
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
# The tests' fake API, stops and waits.
from harness import (FakeAPI, Stack, proc_cpu, status_kib,  # noqa: E402
                     stop_process, wait_for)
import isolation  # noqa: E402  the sections tls, iso, h2
import tlscost  # noqa: E402  the sections newconn, recon-system
import stop  # noqa: E402  the section stop
import big  # noqa: E402  the section big
MAKE_CERTS = os.path.join(TOP, "tests", "certs", "make-certs.sh")
DOC_BODY = os.path.join(TOP, "tests", "data", "bodies",
                        "documented_example.json")
LOOPBACK = "127.0.0.1"
HOSTNAME = "bench"
BIN = None  # the bench programs' directory, from --bin
PLUGIN_SO = None  # our plugin, copied once so a rebuild mid-run cannot mix
# Values bench_null dispatches per read: what our plugin dispatches per
# valid poll by default (the table shows the count seen in the csv files).
NULL_VALUES = 11
MIB = 1024 * 1024

# Counts for the full run and for the smoke run (--quick).
FULL = dict(
    cpu_rounds=7, cpu_polls=100, cpu_interval=0.1, hs_rounds=4, hs_conns=20,
    recon_rounds=3, recon_polls=50,
    mem_rounds=3, mem_polls=20, mem_interval=0.2,
    conn_accounts=3, conn_polls=1000, conn_interval=0.1,
    cg_doc_iters=2000, big_bytes=10 * MIB, cg_big_iters=1,
    wall_doc_iters=20000, wall_big_iters=3, wall_rounds=5,
    prof_polls=15, prof_interval=2.0,
    scale_counts=[1, 10, 100, 1000], scale_interval=5.0, scale_rounds=3,
    scale_delay=0.2, cadence=1.0,
)
QUICK = dict(
    cpu_rounds=2, cpu_polls=10, cpu_interval=0.1, hs_rounds=2, hs_conns=3,
    recon_rounds=1, recon_polls=5,
    mem_rounds=1, mem_polls=5, mem_interval=0.2,
    conn_accounts=2, conn_polls=20, conn_interval=0.1,
    cg_doc_iters=100, big_bytes=256 * 1024, cg_big_iters=1,
    wall_doc_iters=1000, wall_big_iters=2, wall_rounds=2,
    prof_polls=0, prof_interval=0.5,
    scale_counts=[1, 10], scale_interval=1.0, scale_rounds=2,
    scale_delay=0.2, cadence=1.0,
)

START = time.monotonic()


def say(msg):
    sys.stderr.write("bench [%5.1fs] %s\n" % (time.monotonic() - START, msg))
    sys.stderr.flush()




def median(xs):
    return statistics.median(xs) if xs else float("nan")


def token_of(label):
    return "tdpat_bench_" + label


def raise_nofile():
    # 1,000 accounts hold 1,000 sockets; leave room above that.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# --------------------------------------------------------------------------
# The fake API.

class Fake(FakeAPI):
    """The tests' fake API (harness.FakeAPI) on 127.0.0.1 over TLS with the
    bench's certificates, quiet, in a directory of its own; an entry's
    token is token_of(its label)."""

    def __init__(self, ws, name, entries, delay=0.0, idle_timeout=0.0):
        d = os.path.join(ws, name)
        os.makedirs(d, exist_ok=True)
        super().__init__(d, {token_of(e["label"]): e for e in entries},
                         cert_dir=os.path.join(ws, "certs"), delay=delay,
                         idle_timeout=idle_timeout, quiet=True)
        # /stats of a fake under a thousand accounts may take a while.
        self.control_timeout = 30

    def requests(self, label):
        return self.label(label).get("requests", 0)


# --------------------------------------------------------------------------
# collectd.

BASE_CONF = """\
Hostname "%(host)s"
FQDNLookup false
Interval %(interval)s
BaseDir "%(dir)s"
PIDFile "%(dir)s/collectd.pid"
PluginDir "%(plugins)s"
TypesDB "%(typesdb)s"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%(dir)s/collectd.log"
  Timestamp true
</Plugin>
%(rest)s
"""

# Without a write plugin collectd logs a complaint for dispatched values,
# which would be counted as the plugin's cost; the CPU, memory and profile
# runs drop values after the cache instead, the same for every variant.
DROP_CHAIN = """\
<Chain "BenchDrop">
  Target "stop"
</Chain>
PostCacheChain "BenchDrop"
"""


def ours_block(accounts):
    out = ["LoadPlugin telemetrydeck", "<Plugin telemetrydeck>"]
    for a in accounts:
        out += ['  <Account "%s">' % a["label"],
                '    Token "%s"' % token_of(a["label"]),
                '    URL "%s"' % a["url"],
                "    Interval %g" % a["interval"]]
        # No CA: the system trust store (the broken accounts' setup).
        if a["ca"]:
            out.append('    CACert "%s"' % a["ca"])
        # Timeout left out when it equals the interval: the plugin's default
        # then.
        if a["timeout"] != a["interval"]:
            out.append("    Timeout %g" % a["timeout"])
        out += ["    " + line for line in a.get("extra", [])]
        out.append("  </Account>")
    out.append("</Plugin>")
    return "\n".join(out)


# curl_json as an operator would set it up for this endpoint: the same URL,
# bearer header, CA and interval, verification on (curl_json's own default
# is off). Our plugin dispatches 11 values per valid poll by default
# (reachable, code, response time, token valid, e-mail verified, the TLS
# certificate's days left and five per-phase durations); curl_json gets the
# same count: the boolean emailIsVerified and ten of its Statistics, the
# per-phase times among them. The table shows both counts, from the csv
# files of the 1-account scale run.
CJ_STATS = ("TotalTime", "NamelookupTime", "ConnectTime", "AppconnectTime",
            "PretransferTime", "StarttransferTime", "SizeDownload",
            "HeaderSize", "RequestSize", "NumConnects")


def cj_block(accounts):
    out = ["LoadPlugin curl_json", "<Plugin curl_json>"]
    for a in accounts:
        out += ['  <URL "%s">' % a["url"],
                '    Instance "%s"' % a["label"],
                '    Header "Authorization: Bearer %s"' % token_of(a["label"]),
                '    CACert "%s"' % a["ca"],
                "    VerifyPeer true",
                "    VerifyHost true",
                "    Interval %g" % a["interval"],
                "    Timeout %d" % int(a["timeout"] * 1000),
                '    <Key "emailIsVerified">',
                '      Type "gauge"',
                "    </Key>",
                "    <Statistics>"]
        out += ["      %s true" % s for s in CJ_STATS]
        out += ["    </Statistics>", "  </URL>"]
    out.append("</Plugin>")
    return "\n".join(out)


class Daemon:
    """The real collectd in the foreground. kind: "ours", "cj", "null"
    (bench/null_plugin.c: NULL_VALUES values per read, no I/O) or "idle"
    (no read plugin)."""

    def __init__(self, ws, name, kind, accounts, interval, csv=False,
                 system=False, wrapper=None, plugin_so=None):
        self.dir = os.path.join(ws, name)
        self.kind = kind
        plugins = os.path.join(self.dir, "plugins")
        os.makedirs(plugins, exist_ok=True)
        # collectd refuses symbolic links: copy real files into PluginDir.
        wanted = ["logfile"]
        rest = []
        if csv:
            wanted.append("csv")
            self.csv = os.path.join(self.dir, "csv")
            rest += ["LoadPlugin csv", "<Plugin csv>",
                     '  DataDir "%s"' % self.csv, "  StoreRates false",
                     "</Plugin>"]
        else:
            rest.append(DROP_CHAIN)
        if system:
            wanted += ["cpu", "load"]
            rest += ["LoadPlugin cpu", "LoadPlugin load"]
        if kind == "ours":
            shutil.copy(plugin_so or PLUGIN_SO,
                        os.path.join(plugins, "telemetrydeck.so"))
            rest.append(ours_block(accounts))
        elif kind == "cj":
            wanted.append("curl_json")
            rest.append(cj_block(accounts))
        elif kind == "null":
            shutil.copy(os.path.join(BIN, "bench_null.so"), plugins)
            rest += ["LoadPlugin bench_null", "<Plugin bench_null>",
                     "  Values %d" % NULL_VALUES, "</Plugin>"]
        for p in wanted:
            shutil.copy(os.path.join(DEBIAN_PLUGINS, p + ".so"), plugins)
        self.conf = os.path.join(self.dir, "collectd.conf")
        with open(self.conf, "w") as f:
            f.write(BASE_CONF % dict(host=HOSTNAME, interval="%g" % interval,
                                     dir=self.dir, plugins=plugins,
                                     typesdb=TYPES_DB, rest="\n".join(rest)))
        self.out = open(os.path.join(self.dir, "collectd.out"), "w")
        cmd = (wrapper or []) + [COLLECTD, "-f", "-C", self.conf]
        self.proc = subprocess.Popen(cmd, stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=raise_nofile)
        self.pid = self.proc.pid

    def cpu(self):
        """CPU seconds of the whole process, all threads, dead ones too:
        the kernel's per-process scheduler clock (ns resolution), the
        same sum /proc/PID/stat reports as utime+stime in 10 ms ticks."""
        return time.clock_gettime(((~self.pid) << 3) | 2)

    def proc_stat_cpu(self):
        return proc_cpu(self.pid)

    def vmhwm_kib(self):
        return status_kib(self.pid, "VmHWM")

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            with open(os.path.join(self.dir, "collectd.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        stop_process(self.proc, 60)
        self.out.close()


def check_alive(d, what):
    if not d.alive():
        raise RuntimeError("collectd (%s) exited; see %s" % (what, d.dir))


def account(label, url, ca, interval, timeout=None):
    return dict(label=label, url=url, ca=ca, interval=interval,
                timeout=interval if timeout is None else timeout)


# --------------------------------------------------------------------------
# 1. CPU per poll, and 3a. peak memory from the same runs.

def daemon_cpu_run(env, fake, idle, kind, label, polls, interval,
                   timeout=None, ca=None, plugin_so=None):
    """One daemon, one account: CPU over `polls` polls after warm-up,
    minus the idle daemon's CPU over the same wall time."""
    base = fake.requests(label)
    if kind == "cj" and timeout is None:
        # curl_json's Timeout may exceed its interval; at 0.1 s its first
        # handshake (the CA path: 65 ms of CPU on a loaded machine) timed
        # out and curl_json suspended the URL for 25 s. Steady-state CPU
        # per poll does not depend on it.
        timeout = 1.0
    with Stack() as s:
        d = s.start(Daemon(env.ws, "cpu-%s-%d" % (kind, env.seq()), kind,
                           [account(label, fake.url(), ca or env.ca, interval,
                                    timeout)],
                           interval, plugin_so=plugin_so))
        # Warm: connection open, TLS done, first polls behind us.
        if not wait_for(lambda: fake.requests(label) >= base + 3, 30, 0.05):
            raise RuntimeError("%s made no polls; see %s" % (kind, d.dir))
        c0, i0, q0 = d.cpu(), idle.cpu(), fake.requests(label)
        s0, t0 = d.proc_stat_cpu(), time.monotonic()
        wait_for(lambda: fake.requests(label) >= q0 + polls,
                 polls * interval * 4 + 20, interval / 2)
        c1, i1, q1 = d.cpu(), idle.cpu(), fake.requests(label)
        s1, t1 = d.proc_stat_cpu(), time.monotonic()
        check_alive(d, kind)
        hwm = d.vmhwm_kib()
    n = q1 - q0
    if n <= 0:
        raise RuntimeError("%s: no polls measured" % kind)
    return dict(ms=((c1 - c0) - (i1 - i0)) / n * 1000,
                stat_ms=(s1 - s0) / n * 1000, idle_ms=(i1 - i0) / n * 1000,
                polls=n, wall=t1 - t0, hwm=hwm, base=base)


def floor_run(env, fake, label, polls, interval, mode="reuse"):
    out = subprocess.run(
        [env.floor_bin, fake.url(), env.token_file(label), env.ca, str(polls),
         str(int(round(interval * 1000))), mode],
        capture_output=True, text=True, timeout=polls * interval * 4 + 60)
    if out.returncode != 0:
        raise RuntimeError("curl_floor failed: %s" % out.stderr.strip())
    kv = dict(p.split("=", 1) for p in out.stdout.split())
    return dict(ms=float(kv["cpu_us_per_request"]) / 1000,
                polls=int(kv["requests"]), connects=int(kv["connects"]))


def null_cpu_run(env, idle, polls, interval):
    """collectd with bench_null: collectd's own cost of a read callback
    that dispatches NULL_VALUES values, over the same number of reads."""
    with Stack() as s:
        d = s.start(Daemon(env.ws, "cpu-null-%d" % env.seq(), "null", [],
                           interval))
        time.sleep(3 * interval + 0.5)
        c0, i0, t0 = d.cpu(), idle.cpu(), time.monotonic()
        time.sleep(polls * interval)
        c1, i1, t1 = d.cpu(), idle.cpu(), time.monotonic()
        check_alive(d, "null")
        hwm = d.vmhwm_kib()
    n = (t1 - t0) / interval
    return dict(ms=((c1 - c0) - (i1 - i0)) / n * 1000, polls=n, wall=t1 - t0,
                hwm=hwm)


def bench_cpu(env, S):
    say("1. CPU per poll: %d rounds of %d polls at %g s, alternating "
        "ours / curl_json / floor / null" % (S["cpu_rounds"], S["cpu_polls"],
                                             S["cpu_interval"]))
    iv = S["cpu_interval"]
    with Stack() as s:
        fake = s.start(Fake(env.ws, "fake-cpu", [
            {"label": "ours", "mode": "ok"}, {"label": "cj", "mode": "ok"},
            {"label": "floor", "mode": "ok"}]))
        idle = s.start(Daemon(env.ws, "cpu-idle", "idle", [], iv))
        order = ["ours", "cj", "floor", "null"]
        res = {v: [] for v in order}
        time.sleep(1.0)
        for r in range(S["cpu_rounds"]):
            for v in order[r % 4:] + order[:r % 4]:
                if v == "floor":
                    got = floor_run(env, fake, "floor", S["cpu_polls"], iv)
                elif v == "null":
                    got = null_cpu_run(env, idle, S["cpu_polls"], iv)
                else:
                    try:
                        got = daemon_cpu_run(env, fake, idle, v, v,
                                             S["cpu_polls"], iv)
                    except RuntimeError as e:
                        # A round lost to the machine (curl_json suspends
                        # a URL after a failed handshake): say so, go on.
                        say("   round %d %-5s lost: %s" % (r + 1, v, e))
                        continue
                res[v].append(got)
                say("   round %d %-5s %.3f ms/poll over %d polls%s"
                    % (r + 1, v, got["ms"], got["polls"],
                       ", VmHWM %.1f MiB" % (got["hwm"] / 1024)
                       if "hwm" in got else ""))
        # For reference: the same floor unpaced (hot caches, no idle).
        tight = [floor_run(env, fake, "floor", 1000, 0) for _ in range(3)]
        # What a new connection costs: a TLS handshake, with and without
        # libcurl's default CA path loaded next to the CACert.
        fresh = {"fresh": [], "fresh-nocapath": []}
        for r in range(S["hs_rounds"]):
            for mode in (("fresh", "fresh-nocapath") if r % 2 == 0 else
                         ("fresh-nocapath", "fresh")):
                fresh[mode].append(floor_run(env, fake, "floor",
                                             S["hs_conns"], 0, mode)["ms"])
        say("   new connection: %.2f ms with the CA path, %.2f ms without"
            % (median(fresh["fresh"]), median(fresh["fresh-nocapath"])))
        recon = reconnect_runs(env, S, idle)
        check_alive(idle, "idle")
        idle_hwm = idle.vmhwm_kib()
    return dict(res=res, idle_hwm=idle_hwm, tight=tight, fresh=fresh,
                recon=recon)


def reconnect_runs(env, S, idle):
    """CPU per poll when the server closes idle connections before the
    next poll (as servers do at Interval 60): every poll reconnects."""
    iv = S["cpu_interval"]
    with Stack() as s:
        fake = s.start(Fake(env.ws, "fake-recon",
                            [{"label": "rours", "mode": "ok"},
                             {"label": "rcj", "mode": "ok"}],
                            idle_timeout=iv / 2))
        res = {"ours": [], "cj": []}
        for r in range(S["recon_rounds"]):
            for v in (("ours", "cj") if r % 2 == 0 else ("cj", "ours")):
                label = "r" + v
                c0 = fake.stats()["labels"][label]["connections"]
                got = daemon_cpu_run(env, fake, idle, v, label,
                                     S["recon_polls"], iv)
                st = fake.stats()["labels"][label]
                got["conns_per_poll"] = ((st["connections"] - c0) /
                                         max(1, st["requests"] - got["base"]))
                res[v].append(got)
                say("   reconnecting, round %d %-4s %.3f ms/poll, %.2f "
                    "connections per poll" % (r + 1, v, got["ms"],
                                              got["conns_per_poll"]))
    return res


# --------------------------------------------------------------------------
# 3b. Peak memory: 1 KiB answers vs a streamed answer cut at the bound.

def one_kib_body():
    head = {"email": "m1k@example.com", "emailIsVerified": True,
            "id": "id-m1k", "organization": {"name": "Org m1k"}}
    text = json.dumps(head, separators=(",", ":"))[:-1] + ',"padding":"'
    return text + "x" * (1024 - len(text) - 2) + '"}'


def bench_mem(env, S):
    say("3. memory: 1 KiB answers vs streamed answers, %d rounds of %d polls"
        % (S["mem_rounds"], S["mem_polls"]))
    iv = S["mem_interval"]
    body = one_kib_body()
    assert len(body) == 1024
    with Stack() as s:
        fake = s.start(Fake(env.ws, "fake-mem", [
            {"label": "m1k", "mode": "custom", "status": 200, "body": body},
            {"label": "mstream", "mode": "stream_1gib"}]))
        res = {"m1k": [], "mstream": []}
        notes = {}
        for r in range(S["mem_rounds"]):
            for label in (["m1k", "mstream"] if r % 2 == 0
                          else ["mstream", "m1k"]):
                base = fake.requests(label)
                with Stack() as up:
                    d = up.start(Daemon(
                        env.ws, "mem-%s-%d" % (label, env.seq()), "ours",
                        [account(label, fake.url(), env.ca, iv)], iv))
                    wait_for(lambda: fake.requests(label)
                             >= base + S["mem_polls"],
                             S["mem_polls"] * iv * 4 + 30, iv / 2)
                    check_alive(d, "ours")
                    res[label].append(d.vmhwm_kib())
                    log = d.log()
                notes[label] = log
                say("   round %d %-7s VmHWM %.2f MiB" %
                    (r + 1, label, res[label][-1] / 1024))
        st = fake.stats()
    stopped = "larger than the plugin accepts" in notes.get("mstream", "")
    return dict(res=res, stopped_at_bound=stopped,
                stream_conns=st["labels"]["mstream"]["connections"],
                stream_requests=st["labels"]["mstream"]["requests"])


# --------------------------------------------------------------------------
# 2. Connections and TLS handshakes over many polls.

def bench_conn(env, S, out):
    """Runs in a thread. Fills out[kind] with the fake's counts."""
    try:
        with Stack() as s:
            conn_counts(s, env, S, out)
    except Exception as exc:  # reported in the table, not lost in a thread
        out["error"] = "%s: %s" % (type(exc).__name__, exc)


def conn_counts(s, env, S, out):
    """bench_conn's run, its fakes and daemons started on the Stack s."""
    n, polls, iv = S["conn_accounts"], S["conn_polls"], S["conn_interval"]
    fakes, daemons = {}, {}
    for kind in ("ours", "cj"):
        labels = ["c%s%d" % (kind, i) for i in range(n)]
        fakes[kind] = s.start(Fake(
            env.ws, "fake-conn-" + kind,
            [{"label": l, "mode": "ok"} for l in labels]))
        daemons[kind] = s.start(Daemon(
            env.ws, "conn-" + kind, kind,
            [account(l, fakes[kind].url(), env.ca, iv) for l in labels], iv))

    def done(kind):
        labs = fakes[kind].stats()["labels"]
        return all(labs[l]["requests"] >= polls
                   for l in labs if l != "unknown")
    for kind in ("ours", "cj"):
        wait_for(lambda: done(kind), polls * iv * 4 + 60, 1.0)
        check_alive(daemons[kind], kind)
    for kind in ("ours", "cj"):
        st = fakes[kind].stats()
        labs = {l: v for l, v in st["labels"].items() if l != "unknown"}
        out[kind] = dict(
            accounts=n,
            requests=[v["requests"] for v in labs.values()],
            conns_per_label=[v["connections"] for v in labs.values()],
            connections=st["connections"],
            tls_handshakes=st["tls_handshakes"],
            tls_resumed=st["tls_resumed"])


# --------------------------------------------------------------------------
# 4. Parser throughput.

def callgrind_parse(env, binary, parser, body, iters):
    outfile = os.path.join(env.ws, "cg-parse-%d.out" % env.seq())
    r = subprocess.run(
        ["valgrind", "--tool=callgrind", "--toggle-collect=bench_loop",
         "--callgrind-out-file=" + outfile, binary, parser, body,
         str(iters)], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("callgrind %s %s failed: %s"
                           % (parser, body, r.stderr[-500:]))
    kv = dict(p.split("=", 1) for p in r.stdout.split() if "=" in p)
    with open(outfile) as f:
        totals = [int(l.split()[1]) for l in f if l.startswith("totals:")]
    return dict(ir=totals[0] / iters, bytes=int(kv["bytes"]),
                status=int(kv["status"]), id=kv.get("id", ""))


def bench_parse_callgrind(env, S):
    big = "gen:%d" % S["big_bytes"]
    out = {}
    for name, binary, body, iters in (
            ("doc", env.parse_bin, DOC_BODY, S["cg_doc_iters"]),
            ("big", env.parse_big_bin, big, S["cg_big_iters"])):
        for parser in ("ours", "floor", "tree"):
            out[(name, parser)] = callgrind_parse(env, binary, parser, body,
                                                  iters)
        say("   callgrind %s: ours %.0f, floor %.0f, tree %.0f Ir per body"
            % (name, out[(name, "ours")]["ir"], out[(name, "floor")]["ir"],
               out[(name, "tree")]["ir"]))
    # The real extractor must refuse the big body at its bound.
    r = subprocess.run([env.parse_bin, "ours", big, "1"], capture_output=True,
                       text=True, timeout=60)
    out["bounded_status"] = int(re.search(r"status=(\d+)", r.stdout).group(1))
    return out


def bench_parse_wall(env, S):
    say("4. parser wall clock: %d rounds, parsers alternating"
        % S["wall_rounds"])
    out = {}
    for name, binary, body, iters in (
            ("doc", env.parse_bin, DOC_BODY, S["wall_doc_iters"]),
            ("big", env.parse_big_bin, "gen:%d" % S["big_bytes"],
             S["wall_big_iters"])):
        r = subprocess.run([binary, "wall", body, str(iters),
                            str(S["wall_rounds"])], capture_output=True,
                           text=True, timeout=900, check=True)
        per = {}
        for line in r.stdout.splitlines():
            kv = dict(p.split("=", 1) for p in line.split())
            per.setdefault(kv["parser"], []).append(float(kv["ns_per_body"]))
        for parser, xs in per.items():
            out[(name, parser)] = median(xs)
    return out


# --------------------------------------------------------------------------
# 6. Where a poll's instructions go: collectd under callgrind.

def callgrind_by_object(path):
    """Self cost (Ir) per object file and per function from a callgrind
    output file. Cost lines after a calls= line are inclusive costs of the
    call and belong to the callee, so they are skipped."""
    names = {}
    per_ob, per_fn = {}, {}
    ob = fn = "?"
    skip_next = False

    def resolve(kind, value):
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        key = (kind, m.group(1))
        if m.group(2) is not None:
            names[key] = m.group(2)
        return names.get(key, "?")

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip_next:
                    skip_next = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    ir = int(parts[1])
                    per_ob[ob] = per_ob.get(ob, 0) + ir
                    per_fn[(ob, fn)] = per_fn.get((ob, fn), 0) + ir
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = resolve("ob", value)
            elif key == "fn":
                fn = resolve("fn", value)
            elif key in ("cob", "cfn", "cfi", "cfl"):
                resolve(key[1:] if key != "cfl" else "fl", value)
            elif key in ("fl", "fi", "fe"):
                resolve("fl", value)
            elif key == "calls":
                skip_next = True
    return per_ob, per_fn


def category(ob):
    base = os.path.basename(ob)
    if base.startswith("telemetrydeck"):
        return "plugin code"
    if base.startswith("curl_json"):
        return "plugin code"
    if base.startswith("libcurl"):
        return "libcurl"
    if re.match(r"lib(gnutls|nettle|hogweed|gmp|tasn1|p11-kit|idn2|"
                r"unistring|ffi|brotli|z\.|zstd|nghttp2|rtmp|ssh2|psl|"
                r"lber|ldap|sasl|gssapi|krb5|k5crypto)", base):
        return "TLS and other libcurl deps"
    if base.startswith("libyajl"):
        return "yajl"
    if base.startswith("libc.so") or base.startswith("libc-"):
        return "libc"
    if base == "collectd" or base.endswith(".so") and base[:-3] in (
            "logfile", "csv"):
        return "collectd daemon"
    if base.startswith("ld-linux"):
        return "ld.so"
    return "other (%s)" % base


def profile_daemon(env, S, kind):
    iv = S["prof_interval"]
    label = "p" + kind
    with Stack() as s:
        fake = s.start(Fake(env.ws, "fake-prof-" + kind,
                            [{"label": label, "mode": "ok"}]))
        outfile = os.path.join(env.ws, "cg-%s.out" % kind)
        d = s.start(Daemon(env.ws, "prof-" + kind, kind,
                           [account(label, fake.url(), env.ca, iv)], iv,
                           wrapper=["valgrind", "--tool=callgrind",
                                    "--callgrind-out-file=" + outfile]))
        if not wait_for(lambda: fake.requests(label) >= 4, 120, 0.2):
            raise RuntimeError("%s under callgrind made no polls" % kind)
        ctl = lambda op: subprocess.run(
            ["callgrind_control", op, str(d.pid)], capture_output=True,
            text=True, timeout=120)
        # Two dumps: the second holds exactly the measured polls. (Zeroing
        # with -z instead leaves a large stray cost in its dump.)
        ctl("-d")
        q0 = fake.requests(label)
        wait_for(lambda: fake.requests(label) >= q0 + S["prof_polls"],
                 S["prof_polls"] * iv * 6 + 60, 0.2)
        ctl("-d")
        q1 = fake.requests(label)
        check_alive(d, kind)
    dump = os.path.join(env.ws, "cg-%s.out.2" % kind)
    if not os.path.exists(dump):
        raise RuntimeError("callgrind_control wrote no second dump for %s"
                           % kind)
    per_ob, per_fn = callgrind_by_object(dump)
    polls = q1 - q0
    cats = {}
    for ob, ir in per_ob.items():
        cats[category(ob)] = cats.get(category(ob), 0) + ir / polls
    top = sorted(((ir / polls, os.path.basename(ob), fn)
                  for (ob, fn), ir in per_fn.items()), reverse=True)[:25]
    return dict(polls=polls, total=sum(per_ob.values()) / polls, cats=cats,
                top=top)


# --------------------------------------------------------------------------
# 5. Scale: many accounts on one daemon, answers after 200 ms.

def csv_rows(path):
    rows = []
    try:
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                parts = line.split(",")
                try:
                    rows.append((float(parts[0]), float(parts[1])))
                except (ValueError, IndexError):
                    pass
    except FileNotFoundError:
        pass
    return rows


def csv_series(csv_dir, plugin_dir, prefix):
    """Rows of every csv file DIR/bench/PLUGIN_DIR/PREFIX-YYYY-MM-DD."""
    d = os.path.join(csv_dir, HOSTNAME, plugin_dir)
    rows = []
    if os.path.isdir(d):
        for fn in sorted(os.listdir(d)):
            if re.fullmatch(re.escape(prefix) + r"-\d{4}-\d\d-\d\d", fn):
                rows += csv_rows(os.path.join(d, fn))
    return sorted(rows)


def poll_rows(d, kind, label):
    """(completion time, response time) of every poll of an account."""
    if kind == "ours":
        return csv_series(d.csv, "telemetrydeck-" + label, "response_time")
    return csv_series(d.csv, "curl_json-" + label, "duration-total_time")


def max_gap(rows, t0, t1):
    """The longest stretch of [t0, t1] without a row (a plugin that kept a
    cadence of c seconds shows about c)."""
    ts = [t0] + [t for t, _ in rows if t0 < t < t1] + [t1]
    return max(b - a for a, b in zip(ts, ts[1:]))


def scale_run(env, S, kind, n):
    iv, rounds, delay = S["scale_interval"], S["scale_rounds"], S["scale_delay"]
    labels = ["%s%04d" % ("s" if kind == "ours" else "j", i) for i in range(n)]
    with Stack() as s:
        fake = s.start(Fake(env.ws, "fake-scale-%s-%d" % (kind, n),
                            [{"label": l, "mode": "ok"} for l in labels],
                            delay=delay))
        d = s.start(Daemon(env.ws, "scale-%s-%d" % (kind, n), kind,
                           [account(l, fake.url(), env.ca, iv, min(iv, 10.0))
                            for l in labels], S["cadence"], csv=True,
                           system=True))
        # A round of curl_json takes n * delay / ReadThreads(5) seconds; wait
        # for at least one whole round, and `rounds` intervals in any case.
        round_guess = n * delay / 5 if kind == "cj" else 2 * delay
        deadline = time.monotonic() + rounds * iv + round_guess * 1.5 + 30
        def all_polled():
            labs = fake.stats()["labels"]
            return all(labs[l]["requests"] >= 1 for l in labels)
        wait_for(lambda: fake.stats()["requests"] > 0, 60, 0.1)
        first = time.time()
        wait_for(all_polled, max(1.0, deadline - time.monotonic()), 0.5)
        # `rounds` whole intervals after the first poll, then half a one.
        end = first + (rounds + 0.6) * iv
        while time.time() < end and time.monotonic() < deadline:
            time.sleep(0.2)
        check_alive(d, kind)
        hwm = d.vmhwm_kib()
        st = fake.stats()
        stopped = time.time()
    time.sleep(0.2)
    per = {l: poll_rows(d, kind, l) for l in labels}
    firsts = [rows[0][0] for rows in per.values() if rows]
    if not firsts:
        raise RuntimeError("scale %s %d: no poll reached the csv files; see %s"
                           % (kind, n, d.dir))
    t0 = min(firsts)
    win = (t0 - iv / 2, t0 + (rounds - 0.5) * iv)
    done = sum(min(rounds, sum(1 for t, _ in rows if win[0] <= t < win[1]))
               for rows in per.values())
    missed = rounds * n - done

    def round_wall(k):
        if any(len(rows) <= k for rows in per.values()):
            return None
        ends = [rows[k][0] for rows in per.values()]
        starts = [rows[k][0] - rows[k][1] for rows in per.values()]
        return max(ends) - min(starts)
    walls = [round_wall(k) for k in range(rounds)]
    steady = [w for w in walls[1:] if w is not None]
    first_dir = os.path.join(d.csv, HOSTNAME, ("telemetrydeck-" if kind == "ours"
                                               else "curl_json-") + labels[0])
    values = len(set(re.sub(r"-\d{4}-\d\d-\d\d$", "", f)
                     for f in os.listdir(first_dir)))
    # cpu and load read every `cadence` seconds: the largest gap between
    # their rows from the first poll to the end of the run.
    cad = (t0, stopped)
    gaps = [max_gap(csv_series(d.csv, "load", "load"), *cad),
            max_gap(csv_series(d.csv, "cpu-0", "cpu-user"), *cad)]
    return dict(n=n, values=values, first=walls[0],
                steady=median(steady) if steady else None,
                missed=missed, expected=rounds * n, gap=max(gaps), hwm=hwm,
                connections=st["connections"],
                handshakes=st["tls_handshakes"], dir=d.dir)


def bench_scale(env, S):
    say("5. scale: %s accounts, Interval %g s, answers after %g s, %d rounds"
        % ("/".join(map(str, S["scale_counts"])), S["scale_interval"],
           S["scale_delay"], S["scale_rounds"]))
    out = {}
    for n in S["scale_counts"]:
        for kind in (("ours", "cj") if n % 2 else ("cj", "ours")):
            r = scale_run(env, S, kind, n)
            out[(kind, n)] = r
            say("   %-4s n=%-4d round 1 %s, steady %s, missed %d/%d, "
                "cpu/load max gap %.2f s, VmHWM %.1f MiB, %d conns"
                % (kind, n, fmt_s(r["first"]), fmt_s(r["steady"]),
                   r["missed"], r["expected"], r["gap"], r["hwm"] / 1024,
                   r["connections"]))
    return out


# --------------------------------------------------------------------------
# The table.

def fmt_s(x):
    return "n/a" if x is None else "%.2f s" % x


def verdict(ok):
    return "met" if ok else "**missed**"


class Env:
    def __init__(self, ws, bindir):
        self.ws = ws
        self.ca = os.path.join(ws, "certs", "ca.pem")
        self.floor_bin = os.path.join(bindir, "curl_floor")
        self.parse_bin = os.path.join(bindir, "parse_bench")
        self.parse_big_bin = os.path.join(bindir, "parse_bench_big")
        self._seq = 0

    def seq(self):
        self._seq += 1
        return self._seq

    def token_file(self, label):
        path = os.path.join(self.ws, "token-" + label)
        with open(path, "w") as f:
            f.write(token_of(label) + "\n")
        return path


def spread(xs):
    return "%.3f-%.3f" % (min(xs), max(xs)) if len(xs) > 1 else ""


def rows_cpu(S, cpu, scale):
    res = cpu["res"]
    ms = {v: [r["ms"] for r in res[v]] for v in res}
    o, j, f, z = (median(ms[v]) for v in ("ours", "cj", "floor", "null"))
    tight = median([r["ms"] for r in cpu["tight"]])
    counts = ""
    if scale and ("ours", 1) in scale:
        counts = "; values per poll: ours %d, curl_json %d, null %d" % (
            scale[("ours", 1)]["values"], scale[("cj", 1)]["values"],
            NULL_VALUES)
    yield ("1 CPU per poll, ms: median (range) of %d rounds x %d polls at "
           "%g s; collectd minus an idle collectd; floor paced the same%s"
           % (S["cpu_rounds"], S["cpu_polls"], S["cpu_interval"], counts),
           "%.3f (%s)" % (o, spread(ms["ours"])),
           "%.3f (%s)" % (j, spread(ms["cj"])),
           "libcurl floor %.3f (%s; unpaced %.3f); collectd + bench_null "
           "(%d values, no I/O) %.3f; floor + bench_null %.3f"
           % (f, spread(ms["floor"]), tight, NULL_VALUES, z, f + z),
           "ours/curl_json %.2fx; ours/floor %.2fx; ours/(floor + "
           "bench_null) %.2fx" % (o / j, o / f, o / (f + z)),
           "<= 1.0x; <= 1.3x",
           "%s; %s" % (verdict(o <= j), verdict(o <= 1.3 * f)))
    fc = median(cpu["fresh"]["fresh"])
    fn = median(cpu["fresh"]["fresh-nocapath"])
    yield ("1 CPU per new connection (TCP + TLS handshake), ms, libcurl "
           "floor, median of %d x %d: libcurl's default CA path "
           "(/etc/ssl/certs) loaded next to CACert, vs CAPATH cleared"
           % (S["hs_rounds"], S["hs_conns"]),
           "", "", "%.2f with the CA path; %.2f without" % (fc, fn),
           "%.1fx" % (fc / fn), "", "")
    ro = [r["ms"] for r in cpu["recon"]["ours"]]
    rj = [r["ms"] for r in cpu["recon"]["cj"]]
    cpp = median([r["conns_per_poll"] for r in cpu["recon"]["ours"] +
                  cpu["recon"]["cj"]])
    yield ("1 CPU per poll, ms, when the server closes idle connections "
           "between polls (fake --idle-timeout %g s; %.2f connections per "
           "poll): median (range) of %d rounds x %d polls"
           % (S["cpu_interval"] / 2, cpp, S["recon_rounds"],
              S["recon_polls"]),
           "%.3f (%s)" % (median(ro), spread(ro)),
           "%.3f (%s)" % (median(rj), spread(rj)), "",
           "ours/curl_json %.2fx" % (median(ro) / median(rj)), "<= 1.0x",
           verdict(median(ro) <= median(rj)))
    mo = median([r["hwm"] for r in res["ours"]]) / 1024
    mj = median([r["hwm"] for r in res["cj"]]) / 1024
    yield ("3 peak RSS (VmHWM) of collectd, MiB, median of the CPU runs",
           "%.2f" % mo, "%.2f" % mj,
           "idle collectd %.2f; bench_null %.2f"
           % (cpu["idle_hwm"] / 1024,
              median([r["hwm"] for r in res["null"]]) / 1024),
           "ours/curl_json %.3fx (%+.0f KiB)" % (mo / mj, (mo - mj) * 1024),
           "<= 1.0x",
           verdict(mo <= mj) if abs(mo - mj) > 0.1 else
           "met within noise (< 0.1 MiB)")


def rows_mem(S, mem):
    m1 = median(mem["res"]["m1k"]) / 1024
    ms = median(mem["res"]["mstream"]) / 1024
    yield ("3 peak RSS of collectd with ours, MiB: 1 KiB answers vs a "
           "streamed answer (1 GiB offered%s), median of %d"
           % ("; cut at the 256 KiB bound" if mem["stopped_at_bound"] else
              "; **the cut was not seen in the log**", S["mem_rounds"]),
           "%.2f vs %.2f" % (m1, ms), "", "%d streamed polls, %d "
           "connections (the plugin drops the connection when it stops "
           "reading)" % (mem["stream_requests"], mem["stream_conns"]),
           "%+.2f MiB" % (ms - m1),
           "< +1 MiB", verdict(ms - m1 < 1.0))


def rows_conn(S, conn):
    if "error" in conn:
        yield ("2 connections", "error", "error", "", conn["error"], "", "")
        return
    co, cj = conn["ours"], conn["cj"]

    def per(c):
        return ("%g TCP connections, %g TLS handshakes per account; "
                "connections each account's requests used: %s"
                % (c["connections"] / c["accounts"],
                   c["tls_handshakes"] / c["accounts"],
                   "/".join(map(str, c["conns_per_label"]))))
    yield ("2 connections and TLS handshakes (the fake's counts), %d "
           "accounts x >= %d polls" % (co["accounts"],
                                       min(co["requests"] + cj["requests"])),
           per(co), per(cj), "", "", "1 per account",
           verdict(co["connections"] == co["accounts"] and
                   co["tls_handshakes"] == co["accounts"]))


def rows_parse(S, cg, wall):
    for name in ("doc", "big"):
        io, ifl, it = (cg[(name, p)]["ir"] for p in ("ours", "floor", "tree"))
        wo, wf, wt = (wall[(name, p)] for p in ("ours", "floor", "tree"))
        size = cg[(name, "ours")]["bytes"]
        what = ("the documented body (%d B)" % size if name == "doc" else
                "a %.2f MiB body of unknown fields (bound raised for this "
                "row; the plugin's build %s it)" % (
                    size / MIB, "refuses" if cg["bounded_status"] == 5
                    else "**does not refuse**"))
        yield ("4 parser over %s: instructions per body (callgrind), wall "
               "ns per body (median of %d rounds)" % (what, S["wall_rounds"]),
               "%.0f Ir; %.0f ns" % (io, wo), "",
               "yajl no-callback floor %.0f Ir, %.0f ns; yajl_tree %.0f Ir, "
               "%.0f ns" % (ifl, wf, it, wt),
               "throughput ours/floor %.2fx (wall %.2fx); tree/ours %.2fx "
               "(wall %.2fx)" % (ifl / io, wf / wo, it / io, wt / wo),
               ">= 0.8x; >= 3x",
               "%s; %s" % (verdict(ifl / io >= 0.8), verdict(it / io >= 3)))


def rows_scale(S, scale):
    for n in S["scale_counts"]:
        o, j = scale[("ours", n)], scale[("cj", n)]

        def cell(r):
            return ("round %s, then %s; missed %d/%d; cpu/load max gap "
                    "%.2f s; %d conns; VmHWM %.1f MiB" % (
                        fmt_s(r["first"]), fmt_s(r["steady"]), r["missed"],
                        r["expected"], r["gap"], r["connections"],
                        r["hwm"] / 1024))
        ok = (o["missed"] == 0 and o["gap"] < 1.5 * S["cadence"] and
              (n < 1000 or (o["steady"] or 99) <= 1.0))
        yield ("5 scale: %d account%s, Interval %g s, answers after %g s, "
               "%d rounds" % (n, "" if n == 1 else "s", S["scale_interval"],
                              S["scale_delay"], S["scale_rounds"]),
               cell(o), cell(j), "", "",
               "none missed; a round of 1,000 in ~1 s; cpu/load every %g s"
               % S["cadence"], verdict(ok))


def rows_prof(S, prof):
    po, pj = prof["ours"], prof["cj"]
    cats = sorted(set(po["cats"]) | set(pj["cats"]),
                  key=lambda c: -max(po["cats"].get(c, 0),
                                     pj["cats"].get(c, 0)))
    split = "; ".join("%s %.0fk vs %.0fk" % (
        c, po["cats"].get(c, 0) / 1e3, pj["cats"].get(c, 0) / 1e3)
        for c in cats if max(po["cats"].get(c, 0),
                             pj["cats"].get(c, 0)) >= 1000)
    yield ("6 instructions per poll, whole collectd (callgrind, %d polls "
           "each), ours vs curl_json by component" % po["polls"],
           "%.0fk" % (po["total"] / 1e3), "%.0fk" % (pj["total"] / 1e3),
           split, "ours/curl_json %.2fx" % (po["total"] / pj["total"]),
           "", "")


def machine():
    """The machine and the versions, as Markdown lines."""
    def pkg(name):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                           capture_output=True, text=True)
        return r.stdout.strip() or "?"
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/etc/debian_version") as f:
        debian = f.read().strip()
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    git = subprocess.run(["git", "-C", TOP, "describe", "--always",
                          "--dirty"], capture_output=True, text=True)
    return ("- source: %s\n"
            "- machine: %d CPUs (nproc), %s, %.0f GiB RAM, kernel %s\n"
            "- Debian %s; collectd-core %s; libcurl4 %s; libssl3 %s; "
            "libcurl3-gnutls %s; libgnutls30 %s; libyajl2 %s; valgrind %s; "
            "Python %s\n"
            % (git.stdout.strip() or "?",
               os.cpu_count(), model, mem, os.uname().release, debian,
               pkg("collectd-core"), pkg("libcurl4"), pkg("libssl3"),
               pkg("libcurl3-gnutls"),
               pkg("libgnutls30"), pkg("libyajl2"), pkg("valgrind"),
               sys.version.split()[0]))


def table(S, R):
    rows = []
    if "cpu" in R:
        rows += rows_cpu(S, R["cpu"], R.get("scale"))
    if "mem" in R:
        rows += rows_mem(S, R["mem"])
    if "conn" in R:
        rows += rows_conn(S, R["conn"])
    if "cg" in R:
        rows += rows_parse(S, R["cg"], R["wall"])
    if "scale" in R:
        rows += rows_scale(S, R["scale"])
    if "prof" in R:
        rows += rows_prof(S, R["prof"])
    if "tls" in R:
        rows += isolation.rows_tls(S, R["tls"])
    if "iso" in R:
        rows += isolation.rows_iso(S, R["env"], R["iso"])
    if "h2" in R:
        rows += isolation.rows_h2(S, R["env"], R["h2"])
    if "recon-system" in R:
        rows += tlscost.rows_recon_system(S, R["recon-system"])
    if "newconn" in R:
        rows += tlscost.rows_newconn(S, R["newconn"])
    if "stop" in R:
        rows += stop.rows_stop(S, R["stop"])
    if "big" in R:
        rows += big.rows_big(S, R["big"])
    head = ("| measure | ours | curl_json | baseline | ratio | goal | "
            "verdict |\n|---|---|---|---|---|---|---|\n")
    return head + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"


SECTIONS = ("cpu", "mem", "conn", "parse", "prof", "scale", "tls", "iso",
            "h2", "recon-system", "newconn", "stop", "big")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny counts: a smoke run that ends within a minute")
    ap.add_argument("--bin", required=True,
                    help="directory with curl_floor, parse_bench and "
                         "parse_bench_big")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="comma-separated sections to run (default: all): "
                         + ", ".join(SECTIONS))
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory")
    ap.add_argument("--out", help="also write the table and details here")
    ap.add_argument("--gnutls-so",
                    help="our plugin linked to libcurl's GnuTLS flavour, run "
                         "for the record in the recon-system section")
    ap.add_argument("--big-cases",
                    help="the big section's rows, e.g. HTTP/1.1:60,HTTP/2:10 "
                         "(default: both protocols at 60 and 10)")
    ap.add_argument("--baseline-so",
                    help="an earlier build's telemetrydeck.so, run side by "
                         "side with ours in the tls/iso/h2 sections")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not only <= set(SECTIONS):
        ap.error("--only takes: " + ", ".join(SECTIONS))
    S = dict(QUICK if args.quick else FULL)
    S.update(isolation.ISO_QUICK if args.quick else isolation.ISO_FULL)
    S.update(tlscost.TLSCOST_QUICK if args.quick else tlscost.TLSCOST_FULL)
    S.update(stop.STOP_QUICK if args.quick else stop.STOP_FULL)
    S.update(big.BIG_QUICK if args.quick else big.BIG_FULL)
    if args.big_cases:
        S["big_cases"] = [(c.split(":")[0], float(c.split(":")[1]))
                          for c in args.big_cases.split(",")]
    isolation.B = tlscost.B = stop.B = big.B = sys.modules[__name__]
    global BIN
    BIN = args.bin
    if not S["prof_polls"]:
        only.discard("prof")
    raise_nofile()
    ws = tempfile.mkdtemp(prefix="td-bench-")
    env = Env(ws, args.bin)
    env.baseline_so = None
    env.gnutls_so = None
    if args.gnutls_so:
        env.gnutls_so = os.path.join(ws, "gnutls-telemetrydeck.so")
        shutil.copy(args.gnutls_so, env.gnutls_so)
    if args.baseline_so:
        env.baseline_so = os.path.join(ws, "baseline-telemetrydeck.so")
        shutil.copy(args.baseline_so, env.baseline_so)
    global PLUGIN_SO
    PLUGIN_SO = os.path.join(ws, "telemetrydeck.so")
    shutil.copy(os.path.join(BUILD, ".libs", "telemetrydeck.so"), PLUGIN_SO)
    R = {}
    ok = False
    try:
        subprocess.run(["bash", MAKE_CERTS, os.path.join(ws, "certs")],
                       check=True, stdout=subprocess.DEVNULL)
        if "cpu" in only:
            R["cpu"] = bench_cpu(env, S)
        if "mem" in only:
            R["mem"] = bench_mem(env, S)
        # Counting sections side by side: the connection run is light and
        # its figures are counts; callgrind's figures are instruction counts.
        t = None
        if "conn" in only:
            say("2. connections over %d polls (in the background)"
                % S["conn_polls"])
            R["conn"] = {}
            t = threading.Thread(target=bench_conn, args=(env, S, R["conn"]))
            t.start()
        if "parse" in only:
            say("4. parser under callgrind")
            R["cg"] = bench_parse_callgrind(env, S)
        if "prof" in only:
            say("6. profile: %d polls of each daemon under callgrind"
                % S["prof_polls"])
            R["prof"] = {}
            for kind in ("ours", "cj"):
                R["prof"][kind] = profile_daemon(env, S, kind)
                say("   %-4s %.0f Ir per poll" % (kind,
                                                  R["prof"][kind]["total"]))
        if t is not None:
            t.join(S["conn_polls"] * S["conn_interval"] * 6 + 300)
            if t.is_alive():
                R["conn"]["error"] = "the connection run did not finish"
        if "parse" in only:
            R["wall"] = bench_parse_wall(env, S)
        if "scale" in only:
            R["scale"] = bench_scale(env, S)
        if "tls" in only:
            R["tls"] = isolation.bench_tls(env, S)
        if "iso" in only:
            R["iso"] = isolation.bench_iso(env, S)
        if "h2" in only:
            R["h2"] = isolation.bench_h2(env, S)
        if "recon-system" in only:
            R["recon-system"] = tlscost.bench_recon_system(env, S)
        if "newconn" in only:
            R["newconn"] = tlscost.bench_newconn(env, S)
        if "stop" in only:
            plugins = [("ours", PLUGIN_SO)]
            if env.baseline_so:
                plugins.append(("before", env.baseline_so))
            R["stop"] = stop.bench_stop(plugins, S)
        if "big" in only:
            R["big"] = big.bench_big(env, S)
        text = table(S, dict(R, env=env))
        sys.stdout.write(text)
        sys.stdout.flush()
        about = machine()
        sys.stderr.write(about)
        if args.out:
            with open(args.out, "w") as f:
                f.write(about + "- command: bench/run %s\n\n"
                        % " ".join(sys.argv[3:]) + text)
                f.write("\n<!-- raw figures\n")
                json.dump(jsonable(R), f, indent=1, default=str)
                f.write("\n-->\n")
        ok = True
    finally:
        if args.keep or not ok:
            say("scratch directory kept: %s" % ws)
        else:
            shutil.rmtree(ws, ignore_errors=True)
    return 0


def jsonable(x):
    """Tuple keys become "a/b" so the raw figures can be dumped as JSON."""
    if isinstance(x, dict):
        return {"/".join(map(str, k)) if isinstance(k, tuple) else str(k):
                jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Can libcurl's OpenSSL flavour live in one collectd beside Debian's
GnuTLS-linked curl_json and write_http? (issue 20)

Usage: bench/coexist.py PLUGIN_SO [--runs N] [--asan] [--keep]

PLUGIN_SO is our plugin linked to libcurl.so.4 (the OpenSSL flavour, as
configure links it by default), e.g. an instrumented build:

  BUILD_DIR=$PWD/_build/ossl-asan tools/build CC=gcc \
    CFLAGS='-g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer' \
    LDFLAGS=-fsanitize=address,undefined

One collectd loads it together with
/usr/lib/collectd/curl_json.so and write_http.so (both linked to
libcurl-gnutls.so.4), all three talking TLS to one nginx on 127.0.0.1:
ours and curl_json GET users/info (one server port closes every
connection after its answer, so both TLS stacks handshake at every poll),
write_http POSTs every value over TLS. The daemon is stopped with SIGTERM
after a random 0.3-6 s, N times. With --asan collectd runs with the ASan
and UBSan runtimes preloaded (as tools/sanitize does), and the reports are
read. Prints what each run saw: exit status, sanitizer reports, requests
answered per client (nginx's log), which libcurls and TLS libraries the
daemon had mapped, rows of our timeleft-tls_certificate (csv), and log
lines of level error.

Loopback only; every process started here is stopped by its pid.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import free_port, stop_process  # noqa: E402
import nginx  # noqa: E402  the tests' nginx runner

PLUGINS = "/usr/lib/collectd"
# Libraries whose presence in the daemon each run reports.
MAPPED = ("libcurl.so.4", "libcurl-gnutls.so.4", "libssl.so.3",
          "libgnutls.so.30", "libasan.so")

# One nginx, two servers answering users/info to anyone: "close" closes
# each connection after its answer, "keep" keeps it and takes write_http's
# posts at /collect. Its log: port, method, path, status, User-Agent.
CLOSE = "    keepalive_timeout 0;\n"
KEEP = nginx.KEEP + "    client_body_buffer_size 1m;\n"
COLLECT = "    location = /collect { return 204; }\n"
LOG_FORMAT = "$server_port $request_method $uri $status $http_user_agent"


COLLECTD_CONF = """\
Hostname "coexist"
FQDNLookup false
Interval 0.5
BaseDir "%(dir)s"
PIDFile "%(dir)s/collectd.pid"
PluginDir "%(plugins)s"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "%(dir)s/collectd.log"
  Timestamp true
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "%(dir)s/csv"
</Plugin>
LoadPlugin telemetrydeck
<Plugin telemetrydeck>
%(ours)s
</Plugin>
LoadPlugin curl_json
<Plugin curl_json>
%(cj)s
</Plugin>
LoadPlugin write_http
<Plugin write_http>
  <Node "nginx">
    URL "https://127.0.0.1:%(keep)d/collect"
    CACert "%(certs)s/ca.pem"
    VerifyPeer true
    VerifyHost true
    Format "JSON"
    StoreRates true
  </Node>
</Plugin>
"""


def ours(port, certs, label):
    return """  <Account "%s">
    Token "tdpat_coexist_%s"
    URL "https://127.0.0.1:%d/api/v3/users/info"
    CACert "%s/ca.pem"
    Interval 0.5
  </Account>""" % (label, label, port, certs)


def cj(port, certs, label):
    return """  <URL "https://127.0.0.1:%d/api/v3/users/info">
    Instance "%s"
    Header "Authorization: Bearer tdpat_coexist_%s"
    CACert "%s/ca.pem"
    VerifyPeer true
    VerifyHost true
    Interval 0.5
    Timeout 2000
    <Key "emailIsVerified">
      Type "gauge"
    </Key>
  </URL>""" % (port, label, label, certs)


def count(log, mark):
    """Requests per client since line `mark`: ours (our User-Agent),
    curl_json (libcurl's none), write_http (POST)."""
    with open(log) as f:
        lines = f.read().splitlines()[mark:]
    c = {"ours": 0, "curl_json": 0, "write_http": 0, "not 2xx": 0}
    for l in lines:
        p = l.split(" ", 4)
        if len(p) < 4:
            continue
        if not p[3].startswith("2"):
            c["not 2xx"] += 1
        elif p[1] == "POST":
            c["write_http"] += 1
        elif len(p) > 4 and p[4].startswith("collectd-telemetrydeck"):
            c["ours"] += 1
        else:
            c["curl_json"] += 1
    return c, len(lines) + mark


def cert_rows(csv):
    """Rows of our timeleft-tls_certificate per account, from csv."""
    got = {}
    for root, _, files in os.walk(csv):
        for n in files:
            if (n.startswith("timeleft-tls_certificate") and
                    "telemetrydeck" in root):
                with open(os.path.join(root, n)) as f:
                    rows = [l for l in f if l[:1].isdigit()]
                got[os.path.basename(root).split("-", 1)[-1]] = len(rows)
    return json.dumps(got, sort_keys=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plugin_so")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--asan", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    ws = tempfile.mkdtemp(prefix="td-coexist-")
    certs = os.path.join(ws, "certs")
    subprocess.run(["bash", os.path.join(TOP, "tests/certs/make-certs.sh"),
                    certs], check=True, stdout=subprocess.DEVNULL)
    plugins = os.path.join(ws, "plugins")
    os.makedirs(plugins)
    shutil.copy(a.plugin_so, os.path.join(plugins, "telemetrydeck.so"))
    for p in ("logfile", "csv", "curl_json", "write_http"):
        shutil.copy(os.path.join(PLUGINS, p + ".so"), plugins)
    close, keep = free_port(), free_port()
    nd = os.path.join(ws, "nginx")
    os.makedirs(nd)
    ng = nginx.Nginx(nd, servers=[
        nginx.server(close, CLOSE, auth=False),
        nginx.server(keep, KEEP, auth=False, more=COLLECT)],
        ports=[close, keep], log="access.log", log_format=LOG_FORMAT,
        cert_dir=certs)
    env = dict(os.environ)
    if a.asan:
        libs = [subprocess.run(["gcc", "-print-file-name=" + l],
                               capture_output=True, text=True).stdout.strip()
                for l in ("libasan.so", "libubsan.so")]
        env["LD_PRELOAD"] = " ".join(libs)
    print("seed %d; scratch %s" % (a.seed, ws))
    mark = 0
    bad = 0
    try:
        for r in range(a.runs):
            d = os.path.join(ws, "run%d" % r)
            os.makedirs(d)
            conf = os.path.join(d, "collectd.conf")
            with open(conf, "w") as f:
                f.write(COLLECTD_CONF % dict(
                    dir=d, plugins=plugins, certs=certs, keep=keep,
                    ours="\n".join([ours(close, certs, "c1"),
                                    ours(close, certs, "c2"),
                                    ours(keep, certs, "k1")]),
                    cj="\n".join([cj(close, certs, "jc1"),
                                  cj(keep, certs, "jk1")])))
            opts = "abort_on_error=0:halt_on_error=1:print_stacktrace=1"
            env["ASAN_OPTIONS"] = ("detect_leaks=1:malloc_context_size=8:"
                                   "quarantine_size_mb=16:%s:log_path=%s/asan"
                                   % (opts, d))
            env["UBSAN_OPTIONS"] = "%s:log_path=%s/ubsan" % (opts, d)
            env["LSAN_OPTIONS"] = "exitcode=0"
            out = open(os.path.join(d, "stdout"), "w")
            p = subprocess.Popen(["/usr/sbin/collectd", "-f", "-C", conf],
                                 stdout=out, stderr=subprocess.STDOUT,
                                 env=env)
            wait = rnd.uniform(0.3, 6.0)
            time.sleep(wait)
            alive = p.poll() is None
            try:
                with open("/proc/%d/maps" % p.pid) as f:
                    maps = f.read()
            except OSError:
                maps = ""
            libs = [l for l in MAPPED if "/" + l in maps]
            t0 = time.monotonic()
            stop_process(p, 20)
            took = time.monotonic() - t0
            out.close()
            c, mark = count(ng.access_log, mark)
            reports = [x for x in os.listdir(d)
                       if x.startswith(("asan", "ubsan"))]
            kinds = []
            for x in reports:
                with open(os.path.join(d, x)) as f:
                    t = f.read()
                kinds += re.findall(r"ERROR: \w+Sanitizer: [\w-]+", t)
                kinds += re.findall(r"runtime error: .{0,60}", t)
                leak = re.findall(r"SUMMARY: AddressSanitizer: (\d+) byte",
                                  t)
                if leak:
                    kinds.append("leaks %s bytes" % "+".join(leak))
                plugin_frames = "telemetrydeck" in t
                if plugin_frames:
                    kinds.append("(a report names telemetrydeck)")
            certs_rows = cert_rows(os.path.join(d, "csv"))
            with open(os.path.join(d, "collectd.log")) as f:
                log = f.read()
            errors = [l for l in log.splitlines() if "[error]" in l]
            ok = (alive and p.returncode == 0 and c["ours"] > 0 and
                  c["curl_json"] > 0 and c["write_http"] > 0 and
                  c["not 2xx"] == 0 and
                  not any("ERROR" in k or "runtime" in k for k in kinds))
            bad += not ok
            print("run %d: SIGTERM after %.1f s, exit %s in %.2f s; %s; "
                  "timeleft-tls_certificate rows per account: %s; "
                  "mapped: %s; sanitizer: %s; error lines: %d%s" % (
                      r + 1, wait, p.returncode, took, json.dumps(c),
                      certs_rows,
                      " ".join(libs),
                      "; ".join(kinds) or "none", len(errors),
                      "" if ok else "  <-- NOT OK"))
            for l in errors[:3]:
                print("   " + l)
    finally:
        ng.stop()
        if a.keep or bad:
            print("scratch kept: %s" % ws)
        else:
            shutil.rmtree(ws, ignore_errors=True)
    print("%d of %d runs clean" % (a.runs - bad, a.runs))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

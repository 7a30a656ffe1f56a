#!/usr/bin/env python3
"""Drives the demo: starts the fake API and collectd, plays the story and
prints one line per poll and every notification. See tools/demo."""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import harness  # noqa: E402

DEMO_TOKEN = "tdpat_DEMO_not_a_real_token"
INTERVAL = 2

HEALTHY_ORGS = [{"id": "org-1", "name": "Demo Org", "usagePercentage": 61.5,
                 "isInRestrictedMode": False}]
OVER_ORGS = [{"id": "org-1", "name": "Demo Org", "usagePercentage": 104.2,
              "isInRestrictedMode": True}]

# (seconds, what the fake API does, its organizations, what to say)
STORY = [
    (8, "ok", HEALTHY_ORGS, "healthy: the token works"),
    (8, "revoked", HEALTHY_ORGS, "the token is revoked in the dashboard"),
    (8, "ok", HEALTHY_ORGS, "a valid token is back"),
    (8, "ok", OVER_ORGS, "the organization passes its signal quota and is restricted"),
    (10, "503_html", HEALTHY_ORGS, "the API goes down (HTTP 503)"),
    (8, "ok", HEALTHY_ORGS, "the API is back"),
]

PUTVAL = re.compile(r"^PUTVAL \S+/telemetrydeck-(\S+)/(\S+) interval=\S+ "
                    r"([\d.]+):(\S+)$")
SHORT = {"bool-api_reachable": "reachable", "bool-token_valid": "token_valid",
         "bool-email_verified": "email_verified", "response_code": "code",
         "response_time": "time_ms", "timeleft-token": "days_left",
         "timeleft-tls_certificate": "cert_days",
         "duration-dns": "dns_ms", "duration-connect": "connect_ms",
         "duration-tls": "tls_ms", "duration-ttfb": "ttfb_ms",
         "duration-transfer": "xfer_ms",
         "gauge-usage_percent-Demo_Org": "org_usage_%",
         "bool-restricted_mode-Demo_Org": "org_restricted"}


def fmt(v):
    f = float(v)
    return "%d" % f if f == int(f) else "%.4g" % f


class Printer:
    """Turns collectd's stdout into one line per poll plus notifications."""

    def __init__(self):
        self.key = None   # (instance, time of the poll's first value)
        self.fields = []
        self.seen = set()

    def flush(self):
        if self.fields:
            order = list(SHORT.values())
            self.fields.sort(key=lambda f: order.index(f.split("=")[0])
                             if f.split("=")[0] in order else len(order))
            stamp = time.strftime("%H:%M:%S", time.localtime(self.key[1]))
            print("%s  %-6s values  %s" % (stamp, self.key[0], "  ".join(self.fields)),
                  flush=True)
        self.fields = []
        self.seen = set()

    def line(self, text):
        m = PUTVAL.match(text)
        if m:
            inst, ident, t, v = m.groups()
            t = float(t)
            # One poll's values come together: a new instance, a value seen
            # already or a later time starts the next poll's line.
            if (self.key is None or self.key[0] != inst or ident in self.seen
                    or t - self.key[1] > 0.5):
                self.flush()
                self.key = (inst, t)
            self.seen.add(ident)
            name = SHORT.get(ident, ident)
            if name.endswith("_ms"):  # collectd has seconds; ms read better
                v = "%.2f" % (float(v) * 1000)
            elif name.endswith("days_left") or name == "cert_days":
                v = "%.2f" % (float(v) / 86400)  # timeleft is in seconds
            self.fields.append("%s=%s" % (name, fmt(v)))
            return
        self.flush()
        if "Notification:" in text:
            m = re.search(r"severity = (\w+).*type = (\w+), type_instance = ([\w.-]+), "
                          r"message = (.*)$", text)
            if m:
                print("%s  NOTIFICATION %-7s %s-%s: %s" % (
                    time.strftime("%H:%M:%S"), *m.groups()), flush=True)
                return
        if "plugin_load" in text:
            return
        if "telemetrydeck" in text or "ERROR" in text or "error" in text:
            print("%s  log    %s" % (time.strftime("%H:%M:%S"),
                                     re.sub(r"^\[[^]]*\] ", "", text)), flush=True)


def run_collectd(workdir, block, seconds, interval, rrd_dir=None):
    plugins = os.path.join(workdir, "plugins")
    os.makedirs(plugins, exist_ok=True)
    shutil.copy(os.path.join(harness.BUILD, ".libs", "telemetrydeck.so"), plugins)
    for p in ("logfile", "csv", "rrdtool"):
        shutil.copy(os.path.join(harness.DEBIAN_PLUGINS, p + ".so"), plugins)
    rrd = ""
    if rrd_dir:
        rrd = """LoadPlugin rrdtool
<Plugin rrdtool>
  DataDir "%s"
  StepSize %d
  HeartBeat %d
  RRARows 1200
</Plugin>
""" % (rrd_dir, interval, 3 * interval)
    conf = os.path.join(workdir, "collectd.conf")
    with open(conf, "w") as f:
        f.write("""Hostname "demo"
FQDNLookup false
Interval %s
BaseDir "%s"
PIDFile "%s/collectd.pid"
PluginDir "%s"
TypesDB "/usr/share/collectd/types.db"
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File STDOUT
  Timestamp false
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "stdout"
</Plugin>
%s
LoadPlugin telemetrydeck
<Plugin telemetrydeck>
%s
</Plugin>
""" % (interval, workdir, workdir, plugins, rrd, block))
    # collectd's stdout is a pipe here: line-buffer it so each value and
    # notification shows up when it happens, not a story step later.
    proc = subprocess.Popen(["stdbuf", "-oL", harness.COLLECTD, "-f", "-C", conf],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    printer = Printer()
    reader = threading.Thread(
        target=lambda: [printer.line(l.rstrip("\n")) for l in proc.stdout],
        daemon=True)
    reader.start()
    return proc, printer, reader


def stop(proc, reader, printer):
    proc.terminate()
    proc.wait(15)
    reader.join(5)
    printer.flush()


GRAPHS = {
    # file: (title, vertical label, [(rrd file, DEF name, how to draw)])
    "demo-reachability.png": (
        "TelemetryDeck API reachable / token valid", "0 or 1",
        [("bool-api_reachable.rrd", "reach", "AREA:reach#8fd18f:api_reachable"),
         ("bool-token_valid.rrd", "valid", "LINE2:valid#d62728:token_valid")]),
    "demo-response-time.png": (
        "Response time", "seconds",
        [("response_time.rrd", "rt", "LINE2:rt#1f77b4:response_time")]),
    "demo-days-left.png": (
        "Days left before the token expires", "days",
        # collectd stores seconds; a CDEF scales the axis to days.
        [("timeleft-token.rrd", "left", "CDEF:days=left,86400,/",
          "LINE2:days#ff7f0e:timeleft-token (days)")]),
}


def render_graphs(rrd_dir, out_dir, start, end):
    """Draws the story from collectd's rrdtool output with `rrdtool graph`."""
    base = os.path.join(rrd_dir, "demo", "telemetrydeck-demo")
    os.makedirs(out_dir, exist_ok=True)
    for name, (title, vlabel, series) in GRAPHS.items():
        cmd = ["rrdtool", "graph", os.path.join(out_dir, name),
               "--start", str(int(start)), "--end", str(int(end)),
               "--title", title, "--vertical-label", vlabel,
               "--width", "640", "--height", "160", "--lower-limit", "0"]
        for rrd, var, *draw in series:
            cmd += ["DEF:%s=%s:value:AVERAGE" % (var, os.path.join(base, rrd))] + draw
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print("demo: graphs of the story in %s/ (%s)" % (out_dir, ", ".join(GRAPHS)))


def story(workdir, graphs_dir):
    fake = harness.FakeAPI(workdir, {DEMO_TOKEN: {"label": "demo", "mode": "ok",
                                                  "orgs": HEALTHY_ORGS}})
    expires = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 20 * 86400))
    block = harness.account(
        "demo", fake.url(), DEMO_TOKEN, CACert=os.path.join(harness.certs(), "ca.pem"),
        TokenExpires=expires, UnreachableAfter=3, CollectOrganizations=True,
        OrganizationsInterval=4)
    print("demo: fake TelemetryDeck API on %s (TLS, test CA); collectd polls "
          "every %d s; token expires %s" % (fake.url(), INTERVAL, expires), flush=True)
    rrd_dir = os.path.join(workdir, "rrd")
    started = time.time()
    proc, printer, reader = run_collectd(workdir, block, 60, INTERVAL, rrd_dir)
    try:
        for secs, mode, orgs, say in STORY:
            fake.mode("demo", mode, orgs=orgs)
            printer.flush()
            print("\n==== %s (fake API: %s)" % (say, mode), flush=True)
            time.sleep(secs)
    finally:
        stop(proc, reader, printer)
        st = fake.stats()
        fake.stop()
    lab = st["labels"].get("demo", {})
    print("\ndemo: the fake API answered %d requests on %d connection(s); "
          "every one carried the right bearer token: %s" % (
              lab.get("requests", 0), lab.get("connections", 0),
              lab.get("auth_ok") == lab.get("requests")))
    render_graphs(rrd_dir, graphs_dir, started, time.time())


def real_api(workdir, token_file, seconds=60):
    block = harness.account("real", None, token_file=os.path.abspath(token_file),
                            Interval=10)
    print("demo: polling the real TelemetryDeck API every 10 s for %d s" % seconds,
          flush=True)
    proc, printer, reader = run_collectd(workdir, block, seconds, 10)
    try:
        time.sleep(seconds)
    finally:
        stop(proc, reader, printer)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--token-file", help="poll the real API with this token file")
    ap.add_argument("--graphs", default=os.path.join(TOP, "demo-output"),
                    help="where the story's PNG graphs go (default: demo-output/)")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="td-demo-")
    try:
        if args.token_file:
            real_api(workdir, args.token_file)
        else:
            story(workdir, args.graphs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

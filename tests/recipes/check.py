#!/usr/bin/env python3
"""Checks what operators read and paste, and prints TAP: the man pages
(they render without warnings and document every option, value and
notification the code has), the threshold plugin example in a real
collectd, the Prometheus rules with promtool, the Grafana dashboard's
queries, and that the metric names both use are the ones collectd's
write_prometheus really exposes.

promtool comes from PATH or $PROMTOOL; without it those checks are
skipped ("ok N - ... # skip ..."). tools/deps installs Debian's
(package prometheus).
Usage: tests/recipes/check.py
"""

import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tools"))
from tap import Tap  # noqa: E402

from harness import (BUILD, DEBIAN_PLUGINS, Collectd, FakeAPI, account,  # noqa: E402
                     certs, wait_for)

RULES = os.path.join(TOP, "conf", "prometheus-rules.yml")
RULES_TESTS = [os.path.join(HERE, "prometheus-rules.test.yml"),
               os.path.join(HERE, "prometheus-rules-days.test.yml")]
DASHBOARD = os.path.join(TOP, "conf", "grafana-dashboard.json")
THRESHOLD = os.path.join(TOP, "conf", "threshold.conf")
MAN5 = os.path.join(TOP, "man", "collectd-telemetrydeck.5")
MAN1 = os.path.join(TOP, "man", "telemetrydeck-check.1")
PLUGIN_SRC = os.path.join(TOP, "src", "telemetrydeck.c")
WORDS_SRC = os.path.join(TOP, "src", "td_words.c")  # note names live here
SETTINGS_SRC = os.path.join(TOP, "src", "td_settings.c")
CHECK = os.path.join(BUILD, "telemetrydeck-check")
TOKEN = "tdpat_RECIPESECRET0123456789abcdef"

# Metric name -> the type label values write_prometheus gives it, for
# this plugin's values (None: no type label). The fake API's default
# organization is "Org main", whose values end in "-Org_main".
EXPECTED = {
    "collectd_telemetrydeck_bool": {"token_valid", "api_reachable",
                                    "email_verified",
                                    "restricted_mode-Org_main"},
    "collectd_telemetrydeck_timeleft": {"token", "tls_certificate"},
    "collectd_telemetrydeck_response_time": {None},
    "collectd_telemetrydeck_response_code": {None},
    # The duration type's data source is "seconds", not "value".
    "collectd_telemetrydeck_duration_seconds": {"dns", "connect", "tls",
                                                "ttfb", "transfer"},
    "collectd_telemetrydeck_gauge": {"usage_percent-Org_main"},
}
SELECTOR_RE = re.compile(r"(collectd_telemetrydeck_[a-z_]+)(\{[^}]*\})?")

tap = Tap()


def promtool():
    p = os.environ.get("PROMTOOL") or shutil.which("promtool")
    return p if p and os.access(p, os.X_OK) else None


def selectors(text):
    """(metric, type label or None) pairs used in a PromQL text; a
    type=~"REGEX" matcher stands as "~REGEX"."""
    out = set()
    for m in SELECTOR_RE.finditer(text):
        t = re.search(r'type=(~?)"([^"]*)"', m.group(2) or "")
        out.add((m.group(1), t.group(1) + t.group(2) if t else None))
    return out


def type_known(metric, t, known):
    """Whether type label (or ~regex) t names some type in known."""
    if t is None:
        return True
    if t.startswith("~"):
        return any(re.fullmatch(t[1:], k or "") for k in known)
    return t in known


def covered(used, exposed):
    """The (metric, type) pairs of used that no exposed series matches."""
    return [(m, t) for m, t in used
            if not type_known(m, t, {e for n, e in exposed if n == m})]


def rules_selectors():
    with open(RULES) as f:
        text = f.read()
    # Only the expressions, not the comments above them.
    exprs = re.findall(r"^\s+expr: (?:>-\n)?((?:.+\n)+?)\s+(?:for|labels):", text,
                       re.M)
    return selectors("\n".join(exprs)), len(exprs)


def dashboard_selectors(dash):
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    return selectors("\n".join(exprs))


def check_selectors(used, what):
    bad = [(m, t) for m, t in used if m not in EXPECTED or
           not type_known(m, t, EXPECTED[m])]
    return not bad, "%s uses unknown series: %s" % (what, bad)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def man_text(path):
    """The page's source with roff's escaped hyphens made plain."""
    return read(path).replace("\\-", "-").replace("\\&", "")


def test_man_pages():
    for page in (MAN5, MAN1):
        name = os.path.basename(page)
        p = subprocess.run(["groff", "-man", "-ww", "-z", page],
                           capture_output=True, text=True)
        tap(p.returncode == 0 and p.stdout + p.stderr == "",
            "%s: groff -man -ww -z prints no warning" % name,
            diag=p.stdout + p.stderr)
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        p = subprocess.run(["man", "--warnings", "-l", page],
                           capture_output=True, text=True, env=env)
        tap(p.returncode == 0 and p.stderr == "" and "SEE ALSO" in p.stdout,
            "%s: man -l renders it without warnings" % name, diag=p.stderr)

    version = re.search(r"AC_INIT\(\[[^]]*\], \[([^]]*)\]",
                        read(os.path.join(TOP, "configure.ac"))).group(1)
    heads = [re.search(r'^\.TH .*"collectd-telemetrydeck ([^"]*)"', read(p), re.M)
             for p in (MAN5, MAN1)]
    tap(all(h and h.group(1) == version for h in heads),
        "both man pages carry the version of configure.ac (%s)" % version,
        diag=str([h.group(0) if h else None for h in heads]))

    page = man_text(MAN5)
    src = read(PLUGIN_SRC)
    options = re.findall(r'^\s+\{TD_OPT_\w+, "(\w+)",', read(SETTINGS_SRC),
                         re.M)
    missing = [o for o in options if not re.search(r"^\.BI %s \"" % o, page, re.M)]
    tap(options and not missing,
        "collectd-telemetrydeck.5 documents all %d options of the plugin" % len(options),
        diag="missing: %s" % missing)

    idents = set()
    for t, i in re.findall(r'submit\(a, "(\w+)", "(\w*)"', src):
        idents.add("%s-%s" % (t, i) if i else t)
    for phase in re.findall(r'\[TD_PHASE_\w+\] = "(\w+)"', src):
        idents.add("duration-" + phase)
    # Per-organization values: the type, and the instance's prefix.
    for t in re.findall(r'submit_every\([^;]*?"(\w+)", ti,', src, re.S):
        idents.add(t)
    for fmt in re.findall(r'snprintf\(ti, sizeof\(ti\), "(\w+)-%s"', src):
        idents.add(fmt + "-")
    for t, i in re.findall(r'\[TD_NOTE_\w+\] = \{"(\w+)", "(\w+)"\}', read(WORDS_SRC)):
        idents.add("%s-%s" % (t, i))
    missing = sorted(i for i in idents if i not in page)
    tap(len(idents) > 8 and not missing,
        "collectd-telemetrydeck.5 names every value and notification (%d)" % len(idents),
        diag="missing: %s" % missing)

    if not os.access(CHECK, os.X_OK):
        tap(False, "telemetrydeck-check.1 documents every option of --help",
            diag="%s is not built" % CHECK)
        return
    helptext = subprocess.run([CHECK, "--help"], capture_output=True,
                              text=True).stdout
    opts = sorted(set(re.findall(r"--[a-z][a-z-]+", helptext)))
    page1 = man_text(MAN1)
    missing = [o for o in opts if o not in page1]
    tap(len(opts) >= 10 and not missing,
        "telemetrydeck-check.1 documents every option of --help (%d)" % len(opts),
        diag="missing: %s" % missing)


def test_dashboard():
    try:
        with open(DASHBOARD) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        tap(False, "grafana-dashboard.json is valid JSON", diag=str(e))
        return None
    tap(True, "grafana-dashboard.json is valid JSON")
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    ok = all(w in titles for w in ("reachab", "response time", "token expires",
                                   "tls certificate", "usage",
                                   "restricted"))
    tap(ok, "the dashboard shows reachability, response time, token and "
        "certificate time left, organization usage and restricted mode",
        diag=titles)
    units = {t["expr"]: p["fieldConfig"]["defaults"].get("unit")
             for p in dash["panels"] for t in p.get("targets", [])
             if "_timeleft" in t["expr"]}
    tap(units and set(units.values()) == {"s"},
        "the dashboard shows timeleft in seconds (Grafana unit s)",
        diag=str(units))
    used = dashboard_selectors(dash)
    ok, why = check_selectors(used, "the dashboard")
    ok = ok and {("collectd_telemetrydeck_bool", "api_reachable"),
                 ("collectd_telemetrydeck_response_time", None),
                 ("collectd_telemetrydeck_timeleft", "token"),
                 ("collectd_telemetrydeck_timeleft", "tls_certificate")} <= used
    tap(ok, "the dashboard queries only write_prometheus names of our values",
        diag=why + " / used: %s" % sorted(used, key=str))
    ids = [p["id"] for p in dash["panels"]]
    tap(len(ids) == len(set(ids)), "dashboard panel ids are unique")
    return used


def test_rules():
    used, n = rules_selectors()
    ok, why = check_selectors(used, "the rules")
    rule_names = re.findall(r"^\s+- alert: (\w+)", read(RULES), re.M)
    ok = ok and n == len(rule_names) == 10 and {
        ("collectd_telemetrydeck_bool", "token_valid"),
        ("collectd_telemetrydeck_bool", "api_reachable"),
        ("collectd_telemetrydeck_timeleft", "token"),
        ("collectd_telemetrydeck_timeleft", "tls_certificate"),
        ("collectd_telemetrydeck_gauge", "~usage_percent-.+"),
        ("collectd_telemetrydeck_bool", "~restricted_mode-.+")} <= used
    tap(ok, "the rules cover revocation, expiry, certificate, "
        "unreachability and organizations with write_prometheus names",
        diag=why + " / %d expressions" % n)
    tests = "".join(read(t) for t in RULES_TESTS)
    untested = [r for r in rule_names
                if not re.search(r"alertname: %s$" % r, tests, re.M)]
    tap(rule_names and not untested,
        "the promtool tests exercise every rule (%d)" % len(rule_names),
        diag="untested: %s" % untested)
    tool = promtool()
    for args, name in ((["check", "rules", RULES], "promtool check rules"),
                       (["test", "rules"] + RULES_TESTS,
                        "promtool test rules")):
        if tool is None:
            tap(True, name, skip="promtool not installed (tools/deps "
                                 "installs Debian's prometheus)")
            continue
        p = subprocess.run([tool] + args, capture_output=True, text=True,
                           cwd=TOP)
        tap(p.returncode == 0, name, diag=p.stdout + p.stderr)
    return used


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def loadable(plugin):
    so = os.path.join(DEBIAN_PLUGINS, plugin + ".so")
    if not os.path.exists(so):
        return False
    p = subprocess.run(["ldd", so], capture_output=True, text=True)
    return p.returncode == 0 and "not found" not in p.stdout


def test_write_prometheus(used):
    name = "write_prometheus exposes every series the rules and dashboard use"
    if not loadable("write_prometheus"):
        tap(True, name, skip="collectd's write_prometheus cannot load here "
                             "(needs libmicrohttpd12 and libprotobuf-c1)")
        return
    d = tempfile.mkdtemp(prefix="td-recipes-")
    fake = FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}})
    plugins = os.path.join(d, "plugins")
    os.makedirs(plugins)
    shutil.copy(os.path.join(DEBIAN_PLUGINS, "write_prometheus.so"), plugins)
    port = free_port()
    extra = ('LoadPlugin write_prometheus\n<Plugin write_prometheus>\n'
             '  Host "127.0.0.1"\n  Port "%d"\n</Plugin>\n' % port)
    expires = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(days=40)).strftime("%Y-%m-%d")
    cd = Collectd(d, account("main", fake.url(), TOKEN,
                             CACert=os.path.join(certs(), "ca.pem"),
                             TokenExpires=expires,
                             CollectOrganizations=True,
                             OrganizationsInterval=1), extra=extra)
    text = ""
    try:
        def scrape():
            nonlocal text
            try:
                with urllib.request.urlopen(
                        "http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                    text = r.read().decode()
            except OSError:
                return False
            return all(m in text for m in EXPECTED) and \
                'type="email_verified"' in text and \
                'type="restricted_mode-' in text
        wait_for(scrape, 15, step=0.2)
    finally:
        cd.stop()
        fake.stop()
    exposed = set()
    for line in text.splitlines():
        m = re.match(r'(collectd_telemetrydeck_[a-z_]+)\{([^}]*)\} ', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if labels.get("telemetrydeck") == "main" and \
                    labels.get("instance") == "testhost":
                exposed.add((m.group(1), labels.get("type")))
    want = {(m, t) for m, ts in EXPECTED.items() for t in ts}
    ok = want <= exposed and not covered(used, exposed)
    tap(ok, name, diag="exposed: %s\nused: %s\n%s" % (
        sorted(exposed, key=str), sorted(used, key=str), text[-2000:]))
    if ok:
        shutil.rmtree(d, ignore_errors=True)


def test_threshold():
    name_prefix = "conf/threshold.conf in a real collectd:"
    d = tempfile.mkdtemp(prefix="td-recipes-")
    plugins = os.path.join(d, "plugins")
    os.makedirs(plugins)
    shutil.copy(os.path.join(DEBIAN_PLUGINS, "threshold.so"), plugins)
    fake = FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}})
    expires = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The plugin's own notifications are turned off: every notification
    # seen comes from the threshold plugin. The recipe is a missing-value
    # alarm only: an expiry near, a revocation, an outage and a recovery,
    # with values arriving all along, give none.
    cd = Collectd(d, account("main", fake.url(), TOKEN,
                             CACert=os.path.join(certs(), "ca.pem"),
                             TokenExpires=expires, Notifications=False),
                  extra='Include "%s"' % THRESHOLD)

    def polls(value):
        return len([r for r in cd.values("main", "response_code")
                    if r[1] == value])
    try:
        steps = []
        for mode, code in (("ok", 200), ("revoked", 401), ("503_html", 503),
                           ("ok", 200)):
            fake.mode("main", mode)
            before = polls(code)
            steps.append(bool(wait_for(lambda: polls(code) >= before + 4, 15)))
    finally:
        cd.stop()
        fake.stop()
    log = cd.log()
    notes = [l for l in log.splitlines() if "Notification:" in l]
    tap(all(steps) and not notes,
        name_prefix + " expiry near, revoked, HTTP 503 and back: no notification",
        diag=log[-3000:])
    errors = [l for l in log.splitlines() if "threshold" in l.lower() and
              ("error" in l.lower() or "unknown" in l.lower())]
    tap(not errors and cd.was_alive,
        name_prefix + " the threshold plugin accepts the file", diag="\n".join(errors))
    if all(tap.results[-2:]):
        shutil.rmtree(d, ignore_errors=True)


def main():
    if not os.path.exists(os.path.join(BUILD, ".libs", "telemetrydeck.so")):
        print("1..0 # skip the plugin is not built (run tools/build)")
        return 1
    test_man_pages()
    used = test_dashboard() or set()
    used |= test_rules()
    test_write_prometheus(used)
    test_threshold()
    return tap.done()  # the plan comes last, as TAP allows


if __name__ == "__main__":
    sys.exit(main())

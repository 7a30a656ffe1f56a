"""conf/prometheus-rules.yml in a real Prometheus (Debian's prometheus
package) scraping the real collectd's write_prometheus, through a story
told by the fake API: valid, revoked, valid, revoked, outage (HTTP 503),
back, collectd stopped. Every assertion goes through
Prometheus' own HTTP API (/api/v1/alerts, /api/v1/rules, /api/v1/query).

Prometheus scrapes the one /metrics page twice: job "collectd" as the
rules file's header recommends (honor_timestamps left true) and job
"scrape_time" with honor_timestamps: false. A control rule, the old bare
"token_valid == 0", shows on the same server why the shipped rules check
freshness. Only the "for" durations of the shipped rules are shortened,
in a copy of the file.

Set TD_PROM_TIMELINE=1 to print what happened when, as TAP comments.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

from harness import (DEBIAN_PLUGINS, TOP, Collectd, FakeAPI, account, certs,
                     files_containing, free_port, inputs, stop_process,
                     wait_for)

PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
RULES = os.path.join(TOP, "conf", "prometheus-rules.yml")
TOKEN = "tdpat_PROMSECRET0123456789abcdef"
JOBS = ("collectd", "scrape_time")
WAIT = 60  # seconds; generous, for a loaded machine

PROM_CONF = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %(rules)s
  - %(control)s
scrape_configs:
  - job_name: collectd
    honor_labels: true
    static_configs:
      - targets: ["127.0.0.1:%(port)d"]
  - job_name: scrape_time
    honor_labels: true
    honor_timestamps: false
    static_configs:
      - targets: ["127.0.0.1:%(port)d"]
"""

CONTROL_RULES = """\
groups:
  - name: control
    rules:
      - alert: ControlBareTokenRejected
        expr: collectd_telemetrydeck_bool{type="token_valid"} == 0
"""


class Prometheus:
    """/usr/bin/prometheus on 127.0.0.1 with its data in the test's dir."""

    def __init__(self, workdir, config):
        self.port = free_port()
        conf = os.path.join(inputs(workdir), "prometheus.yml")
        with open(conf, "w") as f:
            f.write(config)
        self.logf = open(os.path.join(workdir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + conf,
             "--storage.tsdb.path=" + os.path.join(workdir, "prometheus-data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.logf, stderr=subprocess.STDOUT)
        self.log_path = self.logf.name

    def get(self, path, **params):
        url = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read() or b"null")
        except (OSError, ValueError):
            return None

    def ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError("prometheus exited:\n" + self.log()[-2000:])
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/-/ready" % self.port, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def alerts(self):
        """Active alerts (pending or firing), or None if the API failed."""
        got = self.get("/api/v1/alerts")
        return got["data"]["alerts"] if got and got.get("status") == "success" \
            else None

    def query(self, expr):
        got = self.get("/api/v1/query", query=expr)
        return got["data"]["result"] if got and got.get("status") == "success" \
            else None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.proc, grace=20)
        self.logf.close()


def shortened_rules(workdir):
    """A copy of the shipped rules whose "for" durations are 3 s."""
    with open(RULES) as f:
        text = f.read()
    text, n = re.subn(r"^(\s+for: )\d+[smh]$", r"\g<1>3s", text, flags=re.M)
    assert n >= 2, "no for: durations found in %s" % RULES
    path = os.path.join(inputs(workdir), "rules.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_alerts_fire_and_resolve_in_a_real_prometheus(d):
    assert os.access(PROMETHEUS, os.X_OK), \
        "%s missing: tools/deps installs Debian's prometheus" % PROMETHEUS
    timeline = []
    start = time.monotonic()

    def note(what):
        timeline.append("%5.1f s  %s" % (time.monotonic() - start, what))

    expires = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake = FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok", "orgs": [
        {"id": "o1", "name": "Acme Inc", "isInRestrictedMode": True,
         "usagePercentage": 95.5},
        {"id": "o2", "name": "Beta", "isInRestrictedMode": False,
         "usagePercentage": 10}]}})
    plugins = os.path.join(d, "plugins")
    os.makedirs(plugins, exist_ok=True)
    shutil.copy(os.path.join(DEBIAN_PLUGINS, "write_prometheus.so"), plugins)
    wp_port = free_port()
    extra = ('LoadPlugin write_prometheus\n<Plugin write_prometheus>\n'
             '  Host "127.0.0.1"\n  Port "%d"\n</Plugin>\n' % wp_port)
    control = os.path.join(inputs(d), "control.yml")
    with open(control, "w") as f:
        f.write(CONTROL_RULES)
    prom = Prometheus(d, PROM_CONF % dict(rules=shortened_rules(d),
                                          control=control, port=wp_port))
    cd = None

    def active(name, job, state="firing"):
        alerts = prom.alerts() or []
        return [a for a in alerts if a["labels"].get("alertname") == name and
                a["labels"].get("job") == job and a["state"] == state]

    def gone(name, job):
        alerts = prom.alerts()
        return alerts is not None and not [
            a for a in alerts if a["labels"].get("alertname") == name and
            a["labels"].get("job") == job]

    def wait_firing(name, job="collectd"):
        got = wait_for(lambda: active(name, job), WAIT, step=0.2)
        assert got, "%s{job=%s} never fired; alerts: %s" % (
            name, job, prom.alerts())
        note("%s fires (job %s)" % (name, job))
        return got

    def wait_gone(name, job="collectd"):
        assert wait_for(lambda: gone(name, job), WAIT, step=0.2), \
            "%s{job=%s} never resolved; alerts: %s" % (name, job, prom.alerts())
        note("%s resolved (job %s)" % (name, job))

    try:
        assert wait_for(prom.ready, WAIT, step=0.2), prom.log()[-2000:]
        note("prometheus ready")
        # Interval 1 s; OrganizationsInterval 400 s is above
        # write_prometheus' StalenessDelta, so the organization series
        # come without timestamps, as at the default 3600.
        cd = Collectd(d, account("main", fake.url(), TOKEN,
                                 CACert=os.path.join(certs(), "ca.pem"),
                                 TokenExpires=expires,
                                 CollectOrganizations=True,
                                 OrganizationsInterval=400),
                      interval=1, extra=extra)

        # Valid token, 3 days left, Acme Inc at 95.5 % and restricted.
        for job in JOBS:
            soon = wait_firing("TelemetryDeckTokenExpiringSoon", job)
            secs = float(soon[0]["value"])
            assert 2.9 * 86400 < secs <= 3 * 86400, soon
            assert soon[0]["labels"]["telemetrydeck"] == "main"
            assert soon[0]["labels"]["instance"] == "testhost", soon
        usage = wait_firing("TelemetryDeckOrganizationUsageHigh")
        assert [a["labels"]["organization"] for a in usage] == ["Acme_Inc"], usage
        restricted = wait_firing("TelemetryDeckOrganizationRestricted")
        assert [a["labels"]["organization"] for a in restricted] == \
            ["Acme_Inc"], restricted
        assert "Acme_Inc is in restricted mode" in \
            restricted[0]["annotations"]["summary"]
        for job in JOBS:
            assert gone("TelemetryDeckTokenRejected", job), prom.alerts()
            assert gone("TelemetryDeckAPIUnreachable", job), prom.alerts()

        # Revoked: the token alert fires for both jobs ...
        fake.mode("main", "revoked")
        note("fake: revoked")
        for job in JOBS:
            rejected = wait_firing("TelemetryDeckTokenRejected", job)
            assert "rejects the token of account main" in \
                rejected[0]["annotations"]["summary"]
        # ... and resolves when the token is valid again.
        fake.mode("main", "ok")
        note("fake: ok")
        for job in JOBS:
            wait_gone("TelemetryDeckTokenRejected", job)

        # Revoked again, then an outage: the API answers 503, the plugin
        # cannot tell and sends no token_valid; the last one was 0.
        fake.mode("main", "revoked")
        note("fake: revoked")
        for job in JOBS:
            wait_firing("TelemetryDeckTokenRejected", job)
        wait_firing("ControlBareTokenRejected")
        fake.mode("main", "503_html")
        note("fake: 503_html")
        # With sample timestamps the rule drops the stale 0 at the first
        # failed poll, while the bare rule still matches it.
        wait_gone("TelemetryDeckTokenRejected", "collectd")
        assert active("ControlBareTokenRejected", "collectd"), \
            "the bare rule stopped matching the stale 0 early: %s" % \
            prom.alerts()
        note("ControlBareTokenRejected still fires (job collectd)")
        # With scrape timestamps both drop it once write_prometheus has
        # dropped the value from /metrics (two intervals).
        wait_gone("TelemetryDeckTokenRejected", "scrape_time")
        wait_gone("ControlBareTokenRejected", "scrape_time")
        for job in JOBS:
            wait_firing("TelemetryDeckAPIUnreachable", job)
            assert gone("TelemetryDeckTokenRejected", job), prom.alerts()
        assert prom.query('collectd_telemetrydeck_bool{type="api_reachable",'
                          'job="collectd"} == 0'), "api_reachable is not 0"
        # The outage goes on: still no token alert.
        t = time.monotonic()
        wait_for(lambda: time.monotonic() - t > 3, 10, step=0.5)
        for job in JOBS:
            assert gone("TelemetryDeckTokenRejected", job), prom.alerts()
            assert active("TelemetryDeckAPIUnreachable", job), prom.alerts()
        assert active("ControlBareTokenRejected", "collectd"), prom.alerts()
        note("outage: TelemetryDeckTokenRejected stays resolved, the bare rule "
             "still fires on the stale 0 (job collectd)")

        # Back: reachable and valid; nothing about the token fires.
        fake.mode("main", "ok")
        note("fake: ok")
        for job in JOBS:
            wait_gone("TelemetryDeckAPIUnreachable", job)
            assert gone("TelemetryDeckTokenRejected", job), prom.alerts()
        assert wait_for(lambda: prom.query(
            'collectd_telemetrydeck_bool{type="token_valid",job="collectd"} == 1'),
            WAIT, step=0.2)
        assert gone("TelemetryDeckNoData", "collectd"), prom.alerts()

        # collectd stops: the target fails, Prometheus marks the
        # scrape_time job's series stale, and NoData fires there. (With
        # sample timestamps the last values stay for the 5-minute
        # lookback; promtool's tests cover that case.)
        cd.stop()
        note("collectd stopped")
        nodata = wait_firing("TelemetryDeckNoData", "scrape_time")
        assert nodata[0]["labels"]["telemetrydeck"] == "main", nodata
        assert gone("TelemetryDeckNoData", "collectd"), prom.alerts()

        # No rule failed to evaluate (e.g. a many-to-many match).
        rules = prom.get("/api/v1/rules")
        bad = [(r["name"], r.get("lastError")) for g in rules["data"]["groups"]
               for r in g["rules"] if r.get("health") != "ok"]
        names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        assert not bad, bad
        assert len(names) == 11, names  # 10 shipped + the control rule
    finally:
        if cd is not None and cd.proc.poll() is None:
            cd.stop()
        prom.stop()
        fake.stop()
        if os.environ.get("TD_PROM_TIMELINE"):
            for line in timeline:
                print("# " + line, flush=True)
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    leaks = files_containing(d, (TOKEN,))
    assert not leaks, "token found in %s" % leaks

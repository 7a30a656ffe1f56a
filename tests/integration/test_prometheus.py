"""conf/prometheus-rules.yml in a real Prometheus (Debian's prometheus
package) scraping the real collectd's write_prometheus, with Debian's
prometheus-alertmanager sending to a webhook receiver in this test, all
on 127.0.0.1. The fake API tells a story: valid, revoked, valid (one
incident), revoked, an outage (HTTP 503), back with the token still
revoked, valid (a second incident, with the outage one of its own);
then collectd stops. Prometheus' own HTTP API (/api/v1/alerts,
/api/v1/rules, /api/v1/query) shows the alerts' states; the receiver
shows what the on-call person got: one FIRING and one RESOLVED per
incident, with the status code, the man page section and the dashboard.

Prometheus scrapes the one /metrics page twice: job "collectd" as the
rules file's header recommends (honor_timestamps left true) and job
"scrape_time" with honor_timestamps: false. A control rule, the bare
"token_valid == 0", shows on the same server what a stale sample does.
Only the "for" durations and TelemetryDeckNoData's window of the shipped
rules are shortened, in a copy of the file.

Set TD_PROM_TIMELINE=1 to print what happened when, as TAP comments.
"""

import datetime
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from harness import (DEBIAN_PLUGINS, TOP, Collectd, FakeAPI, account, certs,
                     files_containing, free_port, inputs, stop_process,
                     wait_for)

PROMETHEUS = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
ALERTMANAGER = os.environ.get("ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
RULES = os.path.join(TOP, "conf", "prometheus-rules.yml")
TOKEN = "tdpat_PROMSECRET0123456789abcdef"
JOBS = ("collectd", "scrape_time")
WAIT = 60  # seconds; generous, for a loaded machine

PROM_CONF = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:%(am_port)d"]
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


def ready(server, name):
    """Whether a Prometheus or Alertmanager answers /-/ready; raises if
    its process has ended."""
    if server.proc.poll() is not None:
        raise RuntimeError("%s exited:\n%s" % (name, server.log()[-2000:]))
    try:
        with urllib.request.urlopen(
                "http://127.0.0.1:%d/-/ready" % server.port, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


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
        return ready(self, "prometheus")

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


AM_CONF = """\
route:
  receiver: hook
  group_by: [alertname, job, instance, telemetrydeck]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:%(port)d/
        send_resolved: true
"""


class Receiver:
    """A webhook receiver on 127.0.0.1: keeps every alert of every POST,
    with the notification's status, in arrival order."""

    def __init__(self):
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                for alert in json.loads(body)["alerts"]:
                    got.append(alert)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def statuses(self, name, job="collectd"):
        """FIRING/RESOLVED of one alert, in the order they came."""
        return [a["status"] for a in self.got
                if a["labels"].get("alertname") == name and
                a["labels"].get("job") == job]

    def alerts(self, name, status, job="collectd"):
        return [a for a in self.got
                if a["labels"].get("alertname") == name and
                a["labels"].get("job") == job and a["status"] == status]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Alertmanager:
    """/usr/bin/prometheus-alertmanager on 127.0.0.1, no cluster listener."""

    def __init__(self, workdir, receiver_port):
        self.port = free_port()
        conf = os.path.join(inputs(workdir), "alertmanager.yml")
        with open(conf, "w") as f:
            f.write(AM_CONF % dict(port=receiver_port))
        self.logf = open(os.path.join(workdir, "alertmanager.log"), "w")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, "--config.file=" + conf,
             "--storage.path=" + os.path.join(workdir, "alertmanager-data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--cluster.listen-address="],
            stdout=self.logf, stderr=subprocess.STDOUT)

    def ready(self):
        return ready(self, "alertmanager")

    def log(self):
        with open(self.logf.name, errors="replace") as f:
            return f.read()

    def stop(self):
        stop_process(self.proc, grace=20)
        self.logf.close()


def shortened_rules(workdir):
    """A copy of the shipped rules whose "for" durations are 3 s and
    whose window for a dead poller is 4 s (3 minutes shipped)."""
    with open(RULES) as f:
        text = f.read()
    text, n = re.subn(r"^(\s+for: )\d+[smh]$", r"\g<1>3s", text, flags=re.M)
    assert n >= 2, "no for: durations found in %s" % RULES
    text, n = re.subn(r"(last_over_time\(collectd_telemetrydeck_response_code)"
                      r"\[3m\]", r"\g<1>[4s]", text)
    assert n == 1, "TelemetryDeckNoData's window not found in %s" % RULES
    path = os.path.join(inputs(workdir), "rules.yml")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_alerts_fire_and_resolve_in_a_real_prometheus(d):
    assert os.access(PROMETHEUS, os.X_OK), \
        "%s missing: tools/deps installs Debian's prometheus" % PROMETHEUS
    assert os.access(ALERTMANAGER, os.X_OK), \
        "%s missing: tools/deps installs Debian's prometheus-alertmanager" % \
        ALERTMANAGER
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
    receiver = Receiver()
    am = Alertmanager(d, receiver.port)
    prom = Prometheus(d, PROM_CONF % dict(rules=shortened_rules(d),
                                          control=control, port=wp_port,
                                          am_port=am.port))
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

    def wait_received(name, statuses, job="collectd"):
        """Until the receiver got exactly these notifications of an alert
        (more would be a second page for the same incident)."""
        wait_for(lambda: len(receiver.statuses(name, job)) >= len(statuses),
                 WAIT, step=0.2)
        assert receiver.statuses(name, job) == statuses, \
            "%s{job=%s}: the receiver got %s, not %s" % (
                name, job, receiver.statuses(name, job), statuses)
        note("receiver: %s %s (job %s)" % (name, statuses[-1], job))

    def sleep(seconds):
        t = time.monotonic()
        wait_for(lambda: time.monotonic() - t > seconds, seconds + 5, step=0.5)

    try:
        assert wait_for(prom.ready, WAIT, step=0.2), prom.log()[-2000:]
        assert wait_for(am.ready, WAIT, step=0.2), am.log()[-2000:]
        note("prometheus and alertmanager ready")
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
            wait_received("TelemetryDeckTokenExpiringSoon", ["firing"], job)

        # First incident: revoked; the token alert fires for both jobs ...
        fake.mode("main", "revoked")
        note("fake: revoked")
        for job in JOBS:
            rejected = wait_firing("TelemetryDeckTokenRejected", job)
            assert "rejects the token of account main" in \
                rejected[0]["annotations"]["summary"]
            wait_received("TelemetryDeckTokenRejected", ["firing"], job)
        # ... and resolves when the token is valid again.
        fake.mode("main", "ok")
        note("fake: ok")
        for job in JOBS:
            wait_gone("TelemetryDeckTokenRejected", job)
            wait_received("TelemetryDeckTokenRejected", ["firing", "resolved"],
                          job)

        # Second incident: revoked again, then an outage: the API answers
        # 503, the plugin cannot tell and sends no token_valid. No poll
        # has shown the token fixed, so the token alert stays firing.
        fake.mode("main", "revoked")
        note("fake: revoked")
        for job in JOBS:
            wait_firing("TelemetryDeckTokenRejected", job)
            wait_received("TelemetryDeckTokenRejected",
                          ["firing", "resolved", "firing"], job)
        wait_firing("ControlBareTokenRejected")
        fake.mode("main", "503_html")
        note("fake: 503_html")
        # With scrape timestamps the bare rule drops the stale 0 once
        # write_prometheus has dropped the value from /metrics (two
        # intervals); the shipped rule holds it.
        wait_gone("ControlBareTokenRejected", "scrape_time")
        for job in JOBS:
            wait_firing("TelemetryDeckAPIUnreachable", job)
            assert active("TelemetryDeckTokenRejected", job), prom.alerts()
            wait_received("TelemetryDeckAPIUnreachable", ["firing"], job)
        assert prom.query('collectd_telemetrydeck_bool{type="api_reachable",'
                          'job="collectd"} == 0'), "api_reachable is not 0"
        # The outage goes on: the token alert still fires, its
        # annotations now naming the outage's status.
        sleep(3)
        for job in JOBS:
            rejected = active("TelemetryDeckTokenRejected", job)
            assert rejected, prom.alerts()
            assert rejected[0]["annotations"]["response_code"] == "503", \
                rejected
            assert active("TelemetryDeckAPIUnreachable", job), prom.alerts()
        assert active("ControlBareTokenRejected", "collectd"), prom.alerts()
        note("outage: TelemetryDeckTokenRejected still fires")

        # Back, the token still revoked: the outage resolves, the token
        # alert goes on without a new page.
        fake.mode("main", "revoked")
        note("fake: revoked (API back)")
        for job in JOBS:
            wait_gone("TelemetryDeckAPIUnreachable", job)
            wait_received("TelemetryDeckAPIUnreachable",
                          ["firing", "resolved"], job)
        assert wait_for(lambda: prom.query(
            'collectd_telemetrydeck_response_code{job="collectd"} == 401'),
            WAIT, step=0.2)
        sleep(2)
        for job in JOBS:
            assert active("TelemetryDeckTokenRejected", job), prom.alerts()
            assert receiver.statuses("TelemetryDeckTokenRejected", job) == \
                ["firing", "resolved", "firing"], receiver.got

        # Valid: the second incident resolves, once.
        fake.mode("main", "ok")
        note("fake: ok")
        for job in JOBS:
            wait_gone("TelemetryDeckTokenRejected", job)
            wait_received("TelemetryDeckTokenRejected",
                          ["firing", "resolved", "firing", "resolved"], job)
        assert wait_for(lambda: prom.query(
            'collectd_telemetrydeck_bool{type="token_valid",job="collectd"} == 1'),
            WAIT, step=0.2)
        assert gone("TelemetryDeckNoData", "collectd"), prom.alerts()

        # What the on-call person read: the status code, the man page
        # section and the dashboard; no "type" label of a series.
        for job in JOBS:
            for alert in receiver.alerts("TelemetryDeckTokenRejected",
                                         "firing", job):
                ann = alert["annotations"]
                assert ann["response_code"] == "401", alert
                assert "the last poll got HTTP 401." in ann["description"], \
                    alert
                assert ann["man"] == "man 5 collectd-telemetrydeck, " \
                    "NOTIFICATIONS, bool-token_valid FAILURE", alert
                assert "uid collectd-telemetrydeck" in ann["dashboard"], alert
            unreachable = receiver.alerts("TelemetryDeckAPIUnreachable",
                                          "firing", job)
            ann = unreachable[0]["annotations"]
            assert ann["response_code"] == "503", unreachable
            assert "the last poll got HTTP 503." in ann["description"], \
                unreachable
            assert ann["man"] == "man 5 collectd-telemetrydeck, " \
                "NOTIFICATIONS, bool-api_reachable WARNING", unreachable
        for alert in receiver.got:
            if alert["labels"]["alertname"].startswith("TelemetryDeck"):
                assert "type" not in alert["labels"], alert

        # collectd stops: the dead poller fires for both jobs (window
        # shortened to 4 s, "for" to 3 s); the expiry alert stays firing,
        # since no poll has shown it fixed.
        cd.stop()
        note("collectd stopped")
        for job in JOBS:
            nodata = wait_firing("TelemetryDeckNoData", job)
            assert nodata[0]["labels"]["telemetrydeck"] == "main", nodata
            assert nodata[0]["labels"]["severity"] == "critical", nodata
            wait_received("TelemetryDeckNoData", ["firing"], job)
            assert active("TelemetryDeckTokenExpiringSoon", job), prom.alerts()
            assert receiver.statuses("TelemetryDeckTokenExpiringSoon", job) \
                == ["firing"], receiver.got

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
        am.stop()
        receiver.stop()
        fake.stop()
        if os.environ.get("TD_PROM_TIMELINE"):
            for line in timeline:
                print("# " + line, flush=True)
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    leaks = files_containing(d, (TOKEN,))
    assert not leaks, "token found in %s" % leaks

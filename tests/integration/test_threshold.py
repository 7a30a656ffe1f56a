"""conf/threshold.conf in collectd's own threshold plugin: a missing-value
alarm, and nothing else.

The real daemon includes the shipped file as it is, next to a second
<Plugin threshold> block of the test's, and lives through a story: a
healthy start (one account's expiry near), a revocation, an API outage of
several polls, an account whose TokenFile goes away. The recipe must say
nothing until that account is polled no more, and then exactly one
FAILURE. A second test puts the recipe on a central server (docs/fleet.md)
that a poller sends to: nothing while the poller runs, one FAILURE per
account when it stops.
"""

import os
import re
import time

from harness import (TOP, Collectd, FakeAPI, Stack, account, certs,
                     files_containing, inputs, wait_for)
from test_network import (PASSWORDS, central_dir, free_udp_port,
                          poller, shipped)

TOKEN = "tdpat_THRESHOLDSECRET0123456789ab"
TOKEN_B = "tdpat_THRESHOLDFILESECRET987654"
RECIPE = os.path.join(TOP, "conf", "threshold.conf")
INTERVAL = 1.5   # seconds between polls
OUTAGE = 6       # failed polls in the outage
DAY = 86400

# A block of the user's own next to the recipe's: both are read.
SECOND_BLOCK = """
<Plugin threshold>
  <Plugin "telemetrydeck">
    <Type "response_code">
      WarningMax 400
      Interesting false
    </Type>
  </Plugin>
</Plugin>
"""

# A notification of the threshold plugin: its messages begin "Host " (a
# value out of range, or back in range) or name the missing value; the
# plugin's own begin "Account ".
THRESHOLD_NOTE = (r"Notification: severity = \w+, host = (?P<host>[^,]+), "
                  r"plugin = telemetrydeck, .*message = (?:Host |\S+ has not "
                  r"been updated for )")


def ca():
    return os.path.join(certs(), "ca.pem")


def utc(seconds_ahead):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() + seconds_ahead))


def missing(host, account):
    return (r"Notification: severity = FAILURE, host = %s, "
            r"plugin = telemetrydeck, plugin_instance = %s, "
            r"type = bool, type_instance = api_reachable, message = "
            r"%s/telemetrydeck-%s/bool-api_reachable has not been "
            r"updated for (\d+\.\d{3}) seconds\.$" % (host, account, host, account))


def recipe_notes(cd):
    """Threshold notes but those of the test's own response_code block."""
    return [l for l in cd.log_lines(THRESHOLD_NOTE)
            if "type = response_code," not in l]


def polls_since(cd, account, since, value=None):
    return [r for r in cd.values(account, "bool-api_reachable")
            if r[0] >= since and (value is None or r[1] == value)]


def test_threshold_recipe_pages_only_a_silent_account(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"},
                                   TOKEN_B: {"label": "filed", "mode": "ok"}}))
        tf = os.path.join(inputs(d), "filed.token")
        fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, TOKEN_B.encode())
        os.close(fd)
        block = "\n".join([
            # 20 days left: the plugin warns, in words; the recipe says nothing.
            account("main", fake.url(), TOKEN, CACert=ca(), Interval=INTERVAL,
                    TokenExpires=utc(20 * DAY)),
            # 3 days left. Its TokenFile goes away.
            account("filed", fake.url(), token_file=tf, CACert=ca(),
                    Interval=INTERVAL, TokenExpires=utc(3 * DAY)),
        ])
        extra = 'Include "%s"\n%s' % (RECIPE, SECOND_BLOCK)
        cd = s.start(Collectd(d, block, extra=extra, debian=("threshold",)))
        start = time.time() - 1
        # -- A healthy start: three polls of each account, and more than
        # collectd's Timeout (2) intervals: the recipe says nothing.
        for name in ("main", "filed"):
            assert wait_for(lambda: len(polls_since(cd, name, start)) >= 3,
                            6 * INTERVAL + 10), cd.log()
        assert wait_for(lambda: cd.log_lines(
            r'plugin_instance = main, type = timeleft, type_instance = token, '
            r'message = Account "main"'), 10), cd.log()
        assert recipe_notes(cd) == [], cd.log()

        # -- Revocation: the plugin's FAILURE and the test's own block's
        # response_code WARNING; nothing from the recipe.
        fake.mode("main", "revoked")
        rc = (r"Notification: severity = WARNING, host = testhost, "
              r"plugin = telemetrydeck, plugin_instance = main, "
              r"type = response_code, message = Host testhost, plugin "
              r"telemetrydeck \(instance main\) type response_code: "
              r'Data source "value" is currently 401\.000000\. That is above '
              r"the warning threshold of 400\.000000\.$")
        assert wait_for(lambda: cd.log_lines(rc), 10), cd.log()
        assert wait_for(lambda: [n for n in cd.notes("main", "token_valid")
                                 if n["severity"] == "FAILURE"], 10), cd.log()
        fake.mode("main", "ok")
        assert wait_for(lambda: [n for n in cd.notes("main", "token_valid")
                                 if n["severity"] == "OKAY"], 10), cd.log()

        # -- Outage: HTTP 503 for OUTAGE polls (token_valid not sent for
        # longer than collectd's Timeout), then back. The plugin warns and
        # says OKAY; the recipe says nothing.
        fake.mode("main", "503_html")
        since = time.time()
        assert wait_for(lambda: len(polls_since(cd, "main", since, 0.0)) >= OUTAGE,
                        (OUTAGE + 2) * INTERVAL + 10), cd.log()
        fake.mode("main", "ok")
        back = time.time()
        assert wait_for(lambda: len(polls_since(cd, "main", back, 1.0)) >= 2,
                        4 * INTERVAL + 10), cd.log()
        assert [n["severity"] for n in cd.notes("main", "api_reachable")] == \
            ["WARNING", "OKAY"], cd.log()
        assert recipe_notes(cd) == [], cd.log()

        # -- The TokenFile of "filed" goes away: the account is polled no
        # more, and the recipe says so, once.
        os.unlink(tf)
        gone = time.time()
        rx = missing("testhost", "filed")
        assert wait_for(lambda: cd.log_lines(rx), 4 * INTERVAL + 10), cd.log()
        secs = float(re.search(rx, cd.log_lines(rx)[0]).group(1))
        # collectd's Timeout (2) intervals after the last value, give or
        # take one pass of its main loop.
        assert 2 * INTERVAL <= secs < 2 * INTERVAL + 4, secs
        assert time.time() - gone < 2 * INTERVAL + 8
        time.sleep(3 * INTERVAL)
        assert recipe_notes(cd) == cd.log_lines(rx), cd.log()
        assert len(cd.log_lines(rx)) == 1, cd.log()
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    assert not files_containing(d, (TOKEN, TOKEN_B))


def test_threshold_recipe_on_a_central_server_pages_a_silent_poller(d):
    port = free_udp_port()
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}}))
        sub, authfile = central_dir(d, {"poller-a": PASSWORDS["poller-a"]})
        # The central server's own network block, without its threshold
        # block: here the shipped recipe is its only threshold.
        network = shipped("network-central.conf", [
            ('"0.0.0.0" "25826"', '"127.0.0.1" "%d"' % port),
            ('"/etc/collectd/network-passwd"', '"%s"' % authfile)])
        network = network[:network.index("LoadPlugin threshold")]
        central = s.start(Collectd(sub, None, hostname="central",
                                   debian=("network", "threshold"),
                                   extra=network + 'Include "%s"\n' % RECIPE))
        a = s.start(poller(d, "poller-a", port, fake))
        start = time.time()
        # Values arrive for more than collectd's Timeout (2) intervals of
        # the poller's Interval (2 s): nothing from the recipe.
        rows = os.path.join(central.csv, "poller-a", "telemetrydeck-main")
        assert wait_for(lambda: os.path.isdir(rows), 20), central.log()
        assert wait_for(lambda: time.time() - start > 8, 12)
        assert central.log_lines(THRESHOLD_NOTE) == [], central.log()

        # The poller stops: one FAILURE, for its account.
        a.stop()
        rx = missing("poller-a", "main")
        assert wait_for(lambda: central.log_lines(rx), 20), central.log()
        time.sleep(4)
        assert central.log_lines(THRESHOLD_NOTE) == central.log_lines(rx), \
            central.log()
        assert len(central.log_lines(rx)) == 1, central.log()
    assert central.was_alive, "collectd died:\n" + central.log()[-2000:]
    assert not files_containing(d, (TOKEN,))

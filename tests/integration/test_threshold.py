"""conf/threshold.conf in collectd's own threshold plugin.

The real daemon includes the shipped file as it is, next to a second
<Plugin threshold> block of the test's, and lives through a story: expiry
near from the start, a revocation, an outage of several polls, an account
whose TokenFile goes away. Each threshold notification is checked word for
word and counted in polls: at the moment it first shows in the log, the csv
rows of its value say which poll brought it.
"""

import os
import re
import time

from harness import (TOP, Collectd, FakeAPI, account, certs,
                     files_containing, inputs, wait_for)

TOKEN = "tdpat_THRESHOLDSECRET0123456789ab"
TOKEN_B = "tdpat_THRESHOLDFILESECRET987654"
RECIPE = os.path.join(TOP, "conf", "threshold.conf")
INTERVAL = 1.5   # seconds between polls: room to see which poll a note came with
OUTAGE = 6       # failed polls in the outage
DAY = 86400

# A block of the user's own next to the recipe's: both must fire.
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


def ca():
    return os.path.join(certs(), "ca.pem")


def utc(seconds_ahead):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() + seconds_ahead))


def said(kind, account, ti, *rest):
    """The start of the threshold plugin's message for a value."""
    head = "Host testhost, plugin telemetrydeck (instance %s) type %s (instance %s): " % (
        account, kind, ti)
    return head + "".join(rest)


BELOW = 'Data source "value" is currently %s. That is below the %s threshold of %s.'
IN_RANGE = 'All data sources are within range again. Current value of "value" is %s.'


def threshold_notes(cd, account, ti):
    """Notes the threshold plugin sent (the plugin's own begin "Account")."""
    return [n for n in cd.notes(account, ti)
            if not n["message"].startswith('Account "')]


def poll_of(cd, account, ti, ident, bad, since, count_before, timeout=20):
    """Waits for threshold note number count_before+1 on account/ti and
    returns (note, polls): polls is how many rows of ident with value bad
    (any value for None) the csv held since `since` when the note first showed. The log is read
    before the csv, and a note is written after its value's row, so polls
    is the poll that brought it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        notes = threshold_notes(cd, account, ti)
        rows = [r for r in cd.values(account, ident)
                if r[0] >= since and (bad is None or r[1] == bad)]
        if len(notes) > count_before:
            return notes[count_before], len(rows)
        time.sleep(0.05)
    raise AssertionError("no threshold note on %s/%s:\n%s" % (
        account, ti, cd.log()[-3000:]))


def test_threshold_recipe_story(d):
    fake = FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"},
                       TOKEN_B: {"label": "filed", "mode": "ok"}})
    tf = os.path.join(inputs(d), "filed.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, TOKEN_B.encode())
    os.close(fd)
    block = "\n".join([
        # 20 days left: below the recipe's 30-day warning.
        account("main", fake.url(), TOKEN, CACert=ca(), Interval=INTERVAL,
                TokenExpires=utc(20 * DAY)),
        # 3 days left: below its 7-day failure. Its TokenFile goes away.
        account("filed", fake.url(), token_file=tf, CACert=ca(),
                Interval=INTERVAL, TokenExpires=utc(3 * DAY)),
    ])
    extra = 'Include "%s"\n%s' % (RECIPE, SECOND_BLOCK)
    cd = Collectd(d, block, extra=extra, debian=("threshold",))
    start = time.time() - 1
    try:
        # -- Start: every value seen the first time is OKAY; expiry near
        # warns (or fails) with the first poll.
        n, polls = poll_of(cd, "main", "token", "timeleft-token", None, start, 0)
        assert n["severity"] == "WARNING", n
        assert re.fullmatch(re.escape(said("timeleft", "main", "token")) +
                            r'Data source "value" is currently 17\d{5}\.\d{6}\. '
                            r'That is below the warning threshold of 2592000\.000000\.',
                            n["message"]), n
        n, _ = poll_of(cd, "filed", "token", "timeleft-token", None, start, 0)
        assert n["severity"] == "FAILURE", n
        assert n["message"].endswith(
            "That is below the failure threshold of 604800.000000."), n
        assert polls == 1, (polls, cd.log())
        for ti in ("token_valid", "api_reachable"):
            n, _ = poll_of(cd, "main", ti, "bool-" + ti, None, start, 0)
            assert n["severity"] == "OKAY", n
            assert n["message"] == said("bool", "main", ti, IN_RANGE % "1.000000"), n
        n, _ = poll_of(cd, "main", "tls_certificate", "timeleft-tls_certificate",
                       None, start, 0)
        assert n["severity"] == "OKAY", n

        # -- The TokenFile of "filed" goes away: the account is polled no
        # more, and only api_reachable's absence speaks, once.
        os.unlink(tf)
        gone = time.time()
        rx = (r"Notification: severity = FAILURE, host = testhost, "
              r"plugin = telemetrydeck, plugin_instance = filed, "
              r"type = bool, type_instance = api_reachable, message = "
              r"testhost/telemetrydeck-filed/bool-api_reachable has not been "
              r"updated for (\d+\.\d{3}) seconds\.$")
        assert wait_for(lambda: cd.log_lines(rx), 4 * INTERVAL + 10), cd.log()
        secs = float(re.search(rx, cd.log_lines(rx)[0]).group(1))
        # collectd's Timeout (2) intervals after the last value, give or
        # take one pass of its main loop.
        assert 2 * INTERVAL <= secs < 2 * INTERVAL + 4, secs
        assert time.time() - gone < 2 * INTERVAL + 8

        # -- Revocation: FAILURE with the first poll that says 0, and the
        # second block's response_code WARNING beside it.
        fake.mode("main", "revoked")
        since = time.time()
        n, polls = poll_of(cd, "main", "token_valid", "bool-token_valid", 0.0, since, 1)
        assert n["severity"] == "FAILURE", n
        assert n["message"] == said("bool", "main", "token_valid",
                                    BELOW % ("0.000000", "failure", "1.000000")), n
        assert polls == 1, (polls, cd.log())
        rc = (r"Notification: severity = WARNING, host = testhost, "
              r"plugin = telemetrydeck, plugin_instance = main, "
              r"type = response_code, message = Host testhost, plugin "
              r"telemetrydeck \(instance main\) type response_code: "
              r'Data source "value" is currently 401\.000000\. That is above '
              r"the warning threshold of 400\.000000\.$")
        assert wait_for(lambda: cd.log_lines(rc), 5), cd.log()
        fake.mode("main", "ok")
        since = time.time()
        n, polls = poll_of(cd, "main", "token_valid", "bool-token_valid", 1.0, since, 2)
        assert n["severity"] == "OKAY" and polls == 1, (n, polls)
        assert n["message"] == said("bool", "main", "token_valid", IN_RANGE % "1.000000")

        # -- Outage: HTTP 503 for OUTAGE polls. WARNING with the 3rd failed
        # poll (Hits 1), nothing about the token, OKAY with the first
        # answer.
        tv_before = len(threshold_notes(cd, "main", "token_valid"))
        fake.mode("main", "503_html")
        since = time.time()
        n, polls = poll_of(cd, "main", "api_reachable", "bool-api_reachable",
                           0.0, since, 1)
        assert n["severity"] == "WARNING", n
        assert n["message"] == said("bool", "main", "api_reachable",
                                    BELOW % ("0.000000", "warning", "1.000000")), n
        assert polls == 3, (polls, cd.log())
        assert wait_for(lambda: len([r for r in cd.values("main", "bool-api_reachable")
                                     if r[0] >= since and r[1] == 0]) >= OUTAGE,
                        (OUTAGE + 2) * INTERVAL + 10)
        fake.mode("main", "ok")
        back = time.time()
        n, polls = poll_of(cd, "main", "api_reachable", "bool-api_reachable",
                           1.0, back, 2)
        assert n["severity"] == "OKAY" and polls == 1, (n, polls)
        # token_valid was not sent for OUTAGE polls, longer than collectd's
        # Timeout: it comes back as a value seen the first time (OKAY).
        assert wait_for(lambda: len(threshold_notes(cd, "main", "token_valid"))
                        > tv_before, 3 * INTERVAL + 5), cd.log()
        time.sleep(INTERVAL)
        during = threshold_notes(cd, "main", "token_valid")[tv_before:]
        assert [x["severity"] for x in during] == ["OKAY"], during
        assert not cd.log_lines(r"plugin_instance = main, .*has not been updated"), \
            cd.log()
        # The timeleft WARNING was said once; it held through the outage.
        assert len(threshold_notes(cd, "main", "token")) == 1
        # One missing-value FAILURE in all, the one for "filed".
        assert len(cd.log_lines(r"has not been updated")) == 1, cd.log()
    finally:
        cd.stop()
        fake.stop()
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    assert not files_containing(d, (TOKEN, TOKEN_B))

"""Accounts on one host stay independent, and a stop never waits.

One fake API serves every account here, and gives each token its own
behaviour: a hang after the request, a slow answer, a body that stalls
after the headers, an organizations list that never comes. Each healthy
account beside them must be judged by its own request alone."""

import os
import subprocess
import time

from harness import COLLECTD, Collectd, FakeAPI, Stack, account, inputs, wait_for
from test_core import ca, check_clean

HANG = "tdpat_INDEPhang0123456789abcdef"
GOOD = "tdpat_INDEPgood0123456789abcdef"
SLOW = "tdpat_INDEPslow0123456789abcdef"
TOKENS = (HANG, GOOD, SLOW)


def reach(cd, name):
    return [v for _, v in cd.values(name, "bool-api_reachable")]


def hang_beside_good(s, d, interval, **opts):
    """The fake API with a hanging and a healthy token, and collectd with
    the hanging account listed first, both at interval, both started on
    the Stack s."""
    fake = s.start(FakeAPI(d, {HANG: {"label": "hang", "mode": "hang"},
                               GOOD: {"label": "good", "mode": "ok"}}))
    blocks = [account(n, fake.url(), t, CACert=ca(), Interval=interval,
                      **opts) for n, t in (("hang", HANG), ("good", GOOD))]
    return fake, s.start(Collectd(d, "\n".join(blocks), interval=interval))


def test_hanging_token_listed_first_delays_no_neighbour(d):
    with Stack() as s:
        fake, cd = hang_beside_good(s, d, 2)
        assert wait_for(lambda: len(reach(cd, "good")) >= 4, 15), cd.log()[-2000:]
        assert reach(cd, "good")[:4] == [1.0] * 4, reach(cd, "good")
        assert not cd.notes(instance="good"), cd.notes(instance="good")
        # A revocation of the healthy token beside the hanging one is seen.
        fake.mode("good", "revoked")
        assert wait_for(lambda: cd.notes(instance="good",
                                         type_instance="token_valid"), 10), cd.log()[-2000:]
        note = cd.notes(instance="good", type_instance="token_valid")[0]
        assert note["severity"] == "FAILURE", note
        assert 0.0 in [v for _, v in cd.values("good", "bool-token_valid")]
        assert wait_for(lambda: cd.notes(instance="hang",
                                         type_instance="api_reachable"), 10)
        hang_notes = cd.notes(instance="hang", type_instance="api_reachable")
        assert "timeout after" in hang_notes[0]["message"], hang_notes
    check_clean(d, cd, *TOKENS)


def test_long_interval_neighbour_of_a_hanging_token_is_polled_at_once(d):
    # The man page's Interval 60: the healthy account's first poll is
    # sent and answered at once, not paced behind the hanging one.
    with Stack() as s:
        fake, cd = hang_beside_good(s, d, 60)
        assert wait_for(lambda: reach(cd, "good"), 8), cd.log()[-2000:]
        assert reach(cd, "good") == [1.0], reach(cd, "good")
        assert fake.stats()["labels"]["good"]["requests"] == 1
    assert cd.stop_seconds < 5, cd.stop_seconds
    check_clean(d, cd, *TOKENS)


def test_each_account_is_judged_by_its_own_timeout(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {GOOD: {"label": "short", "mode": "ok", "delay": 2},
                                   SLOW: {"label": "patient", "mode": "ok", "delay": 2}}))
        blocks = [account("short", fake.url(), GOOD, CACert=ca(), Interval=5,
                          Timeout=1),
                  account("patient", fake.url(), SLOW, CACert=ca(), Interval=5,
                          Timeout=4)]
        cd = s.start(Collectd(d, "\n".join(blocks), interval=5))
        assert wait_for(lambda: len(reach(cd, "patient")) >= 3, 20), cd.log()[-2000:]
        assert reach(cd, "patient")[:3] == [1.0] * 3, reach(cd, "patient")
        assert not cd.notes(instance="patient"), cd.notes(instance="patient")
        assert wait_for(lambda: cd.notes(instance="short"), 10)
        msg = cd.notes(instance="short")[0]["message"]
        assert "timeout after 1 s" in msg, msg
    check_clean(d, cd, *TOKENS)


def test_hanging_organizations_list_never_marks_users_info_unreachable(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {GOOD: {"label": "orgs", "mode": "ok", "orgs_hang": True},
                                   SLOW: {"label": "next", "mode": "ok"}}))
        blocks = [account("orgs", fake.url(), GOOD, CACert=ca(), Interval=1,
                          CollectOrganizations=True, OrganizationsInterval=1),
                  account("next", fake.url(), SLOW, CACert=ca(), Interval=1)]
        cd = s.start(Collectd(d, "\n".join(blocks), interval=1))
        assert wait_for(lambda: len(reach(cd, "orgs")) >= 5 and
                        len(reach(cd, "next")) >= 5, 15), cd.log()[-2000:]
        assert set(reach(cd, "orgs")) == {1.0}, reach(cd, "orgs")
        assert set(reach(cd, "next")) == {1.0}, reach(cd, "next")
        assert not cd.notes(type_instance="api_reachable")
        assert not cd.log_lines("no answer from the API")
    check_clean(d, cd, *TOKENS)


def test_body_stalled_after_headers_delays_no_neighbour(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {HANG: {"label": "stall", "mode": "trickle",
                                          "interval": 100},
                                   GOOD: {"label": "good", "mode": "ok"}}))
        blocks = [account("stall", fake.url(), HANG, CACert=ca(), Interval=1),
                  account("good", fake.url(), GOOD, CACert=ca(), Interval=1)]
        cd = s.start(Collectd(d, "\n".join(blocks), interval=1))
        assert wait_for(lambda: len(reach(cd, "good")) >= 5, 15), cd.log()[-2000:]
        assert set(reach(cd, "good")) == {1.0}, reach(cd, "good")
        assert not cd.log_lines('"good": the previous poll is still running')
    check_clean(d, cd, *TOKENS)


def stop_during_hang(d, timeout):
    with Stack() as s:
        fake, cd = hang_beside_good(s, d, timeout, Timeout=timeout)
        assert wait_for(lambda: reach(cd, "good"), 8), cd.log()[-2000:]
        time.sleep(2)  # the hanging poll is in flight
        assert cd.stop(timeout=30), "collectd died early"
        assert not cd.killed, "SIGTERM was not enough"
        return cd.stop_seconds


def test_sigterm_with_a_poll_hanging_for_timeout_600_ends_collectd_at_once(d):
    seconds = stop_during_hang(d, 600)
    # The stop waits for no Timeout: far below the 600 s it would take.
    assert seconds < 5, seconds


def test_collectd_test_read_polls_the_healthy_account_beside_a_hanging_one(d):
    with Stack() as s:
        fake, cd = hang_beside_good(s, d, 2, Timeout=1)
        cd.stop()
        out = subprocess.run([COLLECTD, "-T", "-C", cd.conf],
                             capture_output=True, text=True, timeout=30)
        assert reach(cd, "good")[-1:] == [1.0], (reach(cd, "good"), cd.log()[-2000:])
        assert fake.stats()["labels"]["good"]["requests"] >= 1
        # The hanging account's poll fails: -T says so by its exit status.
        assert out.returncode != 0, out
    check_clean(d, cd, *TOKENS)


# A plugin loaded before ours whose shutdown takes 3 s: collectd 5.12 calls
# the shutdown callbacks in turn, in load order, after it stopped its read
# and write threads, so ours comes after it. A notification plugin there
# may have freed its state; nothing of ours may reach it.
SLOW_SHUTDOWN = '''\
import time

import collectd


def shutdown():
    collectd.info("slowstop: shutdown begins")
    time.sleep(3)
    collectd.info("slowstop: shutdown ends")


collectd.register_shutdown(shutdown)
'''


def test_sigterm_with_polls_in_flight_dispatches_nothing_once_shutdown_began(d):
    # Twelve accounts whose first answer takes 2 s and shows a certificate
    # that expires in 2 days: each first poll that ends sends a FAILURE.
    # SIGTERM comes while they are in flight, so they end during the
    # other plugin's slow shutdown, or during ours.
    tokens = ["tdpat_INDEPstop%02d0123456789abcdef" % i for i in range(12)]
    fake = FakeAPI(d, {t: {"label": "s%02d" % i, "mode": "ok", "delay": 2}
                       for i, t in enumerate(tokens)}, cert="soon")
    with open(os.path.join(inputs(d), "slowstop.py"), "w") as f:
        f.write(SLOW_SHUTDOWN)
    extra = ('<LoadPlugin python>\n  Globals true\n</LoadPlugin>\n'
             '<Plugin python>\n  ModulePath "%s"\n  Import "slowstop"\n'
             '</Plugin>' % inputs(d))
    cd = Collectd(d, "\n".join(account("s%02d" % i, fake.url(), t, CACert=ca(),
                                       Interval=10)
                               for i, t in enumerate(tokens)),
                  interval=10, extra=extra, debian=("python",))
    try:
        assert wait_for(lambda: fake.stats()["requests"] >= len(tokens), 20), \
            cd.log()[-2000:]
        time.sleep(0.5)  # every first poll is in flight, its answer 2 s off
        assert cd.stop(timeout=30), "collectd died early"
        assert not cd.killed, "SIGTERM was not enough"
        # The other plugin's 3 s and little else.
        assert cd.stop_seconds < 10, cd.stop_seconds
        lines = cd.log().splitlines()
        begins = [i for i, l in enumerate(lines)
                  if "slowstop: shutdown begins" in l]
        assert len(begins) == 1, lines[-30:]
        # The answers came in during the other plugin's shutdown: not one
        # of their FAILUREs (or anything else of the plugin's) went out.
        late = [l for l in lines[begins[0]:] if "telemetrydeck" in l]
        assert not late, late
        ours = [i for i, l in enumerate(lines) if "telemetrydeck plugin: "
                "collectd is shutting down; the plugin stopped polling." in l]
        assert len(ours) == 1, lines[-30:]
        # Stopped before the first shutdown callback ran ...
        assert ours[0] < begins[0], lines[-30:]
        # ... and nothing of the plugin's after: no value and no
        # notification, although answers came in meanwhile.
        after = [l for l in lines[ours[0] + 1:] if "telemetrydeck" in l]
        assert not after, after
        assert not cd.notes(type_instance="tls_certificate"), cd.notes()
    finally:
        if cd.alive():
            cd.stop()
        fake.stop()
    check_clean(d, cd, *tokens)

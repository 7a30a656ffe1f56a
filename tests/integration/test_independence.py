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

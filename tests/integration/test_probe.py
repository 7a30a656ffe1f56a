"""Beyond the probes (issue 6): per-phase timings and the API's certificate."""

import time

from harness import Collectd, FakeAPI, account, wait_for
from test_core import TOKEN, ca, check_clean


def test_phase_timings_show_a_handshake_once_then_reused_connection(d):
    fake = FakeAPI(d, {TOKEN: {"label": "t", "mode": "ok"}})
    cd = Collectd(d, account("t", fake.url(), TOKEN, CACert=ca()))
    try:
        assert wait_for(lambda: len(cd.values("t", "duration-tls")) >= 4, 10), cd.log()
        time.sleep(0.3)
        tls = [v for _, v in cd.values("t", "duration-tls")]
        connect = [v for _, v in cd.values("t", "duration-connect")]
        ttfb = [v for _, v in cd.values("t", "duration-ttfb")]
        assert tls[0] > 0 and connect[0] > 0, (tls, connect)
        # Keep-alive: later polls skip connect and TLS entirely.
        assert all(v == 0 for v in tls[1:]) and all(v == 0 for v in connect[1:]), (tls, connect)
        assert all(v > 0 for v in ttfb), ttfb
        for phase in ("dns", "transfer"):
            assert cd.values("t", "duration-" + phase), phase
        # Each phase is its own span: their sum never exceeds response_time.
        total = cd.values("t", "response_time")[0][1]
        first = sum(cd.values("t", "duration-" + p)[0][1]
                    for p in ("dns", "connect", "tls", "ttfb", "transfer"))
        assert first <= total + 1e-6, (first, total)
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd)


def test_collect_timings_false_sends_no_durations(d):
    fake = FakeAPI(d, {TOKEN: {"label": "t", "mode": "ok"}})
    cd = Collectd(d, account("t", fake.url(), TOKEN, CACert=ca(), CollectTimings=False))
    try:
        assert wait_for(lambda: len(cd.values("t", "response_time")) >= 3, 10), cd.log()
        assert cd.values("t", "duration-ttfb") == []
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd)


def test_certificate_expiring_in_two_days_gives_timeleft_and_failure(d):
    fake = FakeAPI(d, {TOKEN: {"label": "c", "mode": "ok"}}, cert="soon")
    cd = Collectd(d, account("c", fake.url(), TOKEN, CACert=ca()))
    try:
        assert wait_for(lambda: cd.notes("c", "tls_certificate"), 10), cd.log()
        time.sleep(1.5)
        notes = cd.notes("c", "tls_certificate")
        # Two days is inside TLSExpiryFailureDays (3): one FAILURE, no repeat.
        assert [n["severity"] for n in notes] == ["FAILURE"], notes
        assert "TLS certificate expires in 2.0 days" in notes[0]["message"], notes
        left = [v for _, v in cd.values("c", "timeleft-tls_certificate")]
        # Known from the handshake, and still dispatched on reused connections.
        assert len(left) >= 3 and all(1.9 < v <= 2.0 for v in left), left
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd)


def test_tls_thresholds_are_options(d):
    fake = FakeAPI(d, {TOKEN: {"label": "c", "mode": "ok"}}, cert="soon")
    cd = Collectd(d, account("c", fake.url(), TOKEN, CACert=ca(),
                             TLSExpiryWarningDays=5, TLSExpiryFailureDays=1))
    try:
        assert wait_for(lambda: cd.notes("c", "tls_certificate"), 10), cd.log()
        assert [n["severity"] for n in cd.notes("c", "tls_certificate")] == ["WARNING"]
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd)


def test_failed_verification_says_why(d):
    cases = {"expired": "the certificate has expired",
             "selfsigned": "the certificate is self-signed and not trusted",
             "wrongname": "the certificate is for another name"}
    fakes = {c: FakeAPI(d, {TOKEN: {"label": c, "mode": "ok"}}, cert=c, name=c)
             for c in cases}
    block = "\n".join(account(c, f.url(), TOKEN, CACert=ca(), UnreachableAfter=1)
                      for c, f in fakes.items())
    cd = Collectd(d, block)
    try:
        for c, why in cases.items():
            assert wait_for(lambda: cd.notes(c, "api_reachable"), 10), cd.log()
            msg = cd.notes(c, "api_reachable")[0]["message"]
            assert "TLS verification failed: " + why in msg, (c, msg)
            assert fakes[c].stats()["requests"] == 0
    finally:
        cd.stop()
        for f in fakes.values():
            f.stop()
    check_clean(d, cd)

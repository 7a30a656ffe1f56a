"""Beyond the probes: per-phase timings and the API's certificate."""

import time

from harness import Collectd, FakeAPI, Stack, account, refused, wait_for
from test_core import TOKEN, TOKEN_B, ca, check_clean


def test_phase_timings_show_a_handshake_once_then_reused_connection(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "t", "mode": "ok"}}))
        cd = s.start(Collectd(d, account("t", fake.url(), TOKEN, CACert=ca())))
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
    check_clean(d, cd)


def test_collect_timings_false_sends_no_durations(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "t", "mode": "ok"}}))
        cd = s.start(Collectd(d, account("t", fake.url(), TOKEN, CACert=ca(),
                                         CollectTimings=False)))
        assert wait_for(lambda: len(cd.values("t", "response_time")) >= 3, 10), cd.log()
        assert cd.values("t", "duration-ttfb") == []
    check_clean(d, cd)


def test_certificate_expiring_in_two_days_gives_timeleft_and_failure(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "c", "mode": "ok"}}, cert="soon"))
        cd = s.start(Collectd(d, account("c", fake.url(), TOKEN, CACert=ca())))
        assert wait_for(lambda: cd.notes("c", "tls_certificate"), 10), cd.log()
        time.sleep(1.5)
        notes = cd.notes("c", "tls_certificate")
        # Two days is inside TLSExpiryFailureDays (3): one FAILURE, no repeat.
        assert [n["severity"] for n in notes] == ["FAILURE"], notes
        assert "TLS certificate expires in 2.0 days" in notes[0]["message"], notes
        left = [v for _, v in cd.values("c", "timeleft-tls_certificate")]
        # Known from the handshake, and still dispatched on reused connections.
        assert len(left) >= 3 and all(1.9 * 86400 < v <= 2.0 * 86400 for v in left), left
    check_clean(d, cd)


def test_renewed_certificate_is_seen_after_connection_lifetime(d):
    # Both servers renew their certificate for new handshakes while the
    # plugin's connections stay open (the fake never closes an idle one).
    # "short" sets its connection up afresh after ConnectionLifetime and
    # sees the renewal; "kept", at the default hour, keeps its connection
    # and the certificate it was set up with. Apart, so that neither's
    # handshake speaks for the other (a group keeps the last chain seen).
    tok = {"short": TOKEN, "kept": TOKEN_B}
    fakes = {n: FakeAPI(d, {t: {"label": n, "mode": "ok"}}, cert="soon", name=n)
             for n, t in tok.items()}
    cd = Collectd(d, "\n".join([
        account("short", fakes["short"].url(), TOKEN, CACert=ca(), Interval=2,
                ConnectionLifetime=4),
        account("kept", fakes["kept"].url(), TOKEN_B, CACert=ca(), Interval=2),
    ]), interval=2)

    def days(name, since=0.0):
        return [v / 86400 for t, v in cd.values(name, "timeleft-tls_certificate")
                if t >= since]

    try:
        # Generous waits throughout: on an ASan build a poll and a
        # handshake take far longer than the fake's answer.
        for n in tok:
            assert wait_for(lambda: cd.notes(n, "tls_certificate"), 30), cd.log()
            assert wait_for(lambda: len(days(n)) >= 2, 30), cd.log()
            assert all(1.9 < v <= 2.0 for v in days(n)), (n, days(n))
        for f in fakes.values():
            f.certificate("server")
        renewed = time.time()
        # At Interval 2 a 4 s old connection is set up afresh at the third
        # poll on it at the latest: the new chain within some 8 s.
        assert wait_for(lambda: [n for n in cd.notes("short", "tls_certificate")
                                 if n["severity"] == "OKAY"], 40), cd.log()
        assert wait_for(lambda: any(v > 800 for v in days("short", renewed)),
                        10), days("short")
        notes = cd.notes("short", "tls_certificate")
        assert [n["severity"] for n in notes] == ["FAILURE", "OKAY"], notes
        assert "no longer close to its expiry" in notes[1]["message"], notes
        # Once moved, it stays on the new certificate's days.
        after = days("short", renewed)
        first_new = next(i for i, v in enumerate(after) if v > 800)
        assert all(824 < v <= 825 for v in after[first_new:]), after
        assert fakes["short"].stats()["connections"] >= 2
        # "kept" polled as long and more, on its one connection: still the
        # old certificate, and no OKAY.
        since = time.time()
        assert wait_for(lambda: len(days("kept", since)) >= 2, 20), cd.log()
        assert all(1.9 < v <= 2.0 for v in days("kept", renewed)), days("kept")
        kept = [n["severity"] for n in cd.notes("kept", "tls_certificate")]
        assert kept == ["FAILURE"], kept
        assert fakes["kept"].stats()["connections"] == 1, fakes["kept"].stats()
        assert fakes["kept"].label("kept")["requests"] >= 6
    finally:
        cd.stop()
        for f in fakes.values():
            f.stop()
    check_clean(d, cd)


def test_tls_thresholds_are_options(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "c", "mode": "ok"}}, cert="soon"))
        cd = s.start(Collectd(d, account("c", fake.url(), TOKEN, CACert=ca(),
                                         TLSExpiryWarningDays=5, TLSExpiryFailureDays=1)))
        assert wait_for(lambda: cd.notes("c", "tls_certificate"), 10), cd.log()
        assert [n["severity"] for n in cd.notes("c", "tls_certificate")] == ["WARNING"]
    check_clean(d, cd)


def test_failed_verification_says_why(d):
    cases = {"expired": "the certificate has expired",
             "selfsigned": "the certificate is self-signed and not trusted",
             "wrongname": "the certificate is for another name"}
    with Stack() as s:
        fakes = {c: s.start(FakeAPI(d, {TOKEN: {"label": c, "mode": "ok"}},
                                    cert=c, name=c))
                 for c in cases}
        block = "\n".join(account(c, f.url(), TOKEN, CACert=ca(), UnreachableAfter=1)
                          for c, f in fakes.items())
        cd = s.start(Collectd(d, block))
        for c, why in cases.items():
            assert wait_for(lambda: cd.notes(c, "api_reachable"), 10), cd.log()
            msg = cd.notes(c, "api_reachable")[0]["message"]
            assert "TLS verification failed: " + why in msg, (c, msg)
            assert fakes[c].stats()["requests"] == 0
    check_clean(d, cd)


def org(name, usage=None, restricted=None, **more):
    o = dict(id="org-" + name, name=name, **more)
    if usage is not None:
        o["usagePercentage"] = usage
    if restricted is not None:
        o["isInRestrictedMode"] = restricted
    return o


def test_organizations_usage_and_restricted_mode_notify_once_each_way(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "o", "mode": "ok",
                                           "orgs": [org("Acme Inc.", 42.5, False),
                                                    org("Side/Project", 10, False)]}}))
        cd = s.start(Collectd(d, account("o", fake.url(), TOKEN, CACert=ca(),
                                         CollectOrganizations=True, OrganizationsInterval=1)))
        assert wait_for(lambda: cd.last("o", "gauge-usage_percent-Acme_Inc.") == 42.5, 10), cd.log()
        assert cd.last("o", "bool-restricted_mode-Acme_Inc.") == 0
        assert cd.last("o", "gauge-usage_percent-Side_Project") == 10
        assert fake.label("o")["paths"].get("/api/v3/organizations", 0) >= 1
        fake.mode("o", "ok", orgs=[org("Acme Inc.", 117.5, True),
                                   org("Side/Project", 10, False)])
        assert wait_for(lambda: len(cd.notes("o")) >= 2, 10), cd.log()
        fake.mode("o", "ok", orgs=[org("Acme Inc.", 50, False),
                                   org("Side/Project", 10, False)])
        assert wait_for(lambda: len(cd.notes("o")) >= 4, 10), cd.log()
        time.sleep(2.5)
        got = [(n["type"], n["type_instance"], n["severity"]) for n in cd.notes("o")]
        assert sorted(got[:2]) == [("bool", "restricted_mode-Acme_Inc.", "FAILURE"),
                                   ("gauge", "usage_percent-Acme_Inc.", "WARNING")], got
        assert sorted(got[2:]) == [("bool", "restricted_mode-Acme_Inc.", "OKAY"),
                                   ("gauge", "usage_percent-Acme_Inc.", "OKAY")], got
        assert "117.5%" in cd.notes("o", "usage_percent-Acme_Inc.")[0]["message"]
        # users/info goes on at its own interval beside the organizations.
        assert cd.last("o", "bool-token_valid") == 1
    check_clean(d, cd)


def test_organizations_of_unknown_shape_missing_fields_are_no_value(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "o", "mode": "ok", "orgs": {
            "organizations": [org("NoUsage", restricted=False), org("NoFlag", 5),
                              {"id": "x"}, "junk", 7, org("Typed", "lots", "yes")],
            "meta": {"total": 4}}}}))
        cd = s.start(Collectd(d, account("o", fake.url(), TOKEN, CACert=ca(),
                                         CollectOrganizations=True, OrganizationsInterval=1)))
        assert wait_for(lambda: cd.last("o", "gauge-usage_percent-NoFlag") == 5, 10), cd.log()
        time.sleep(1.2)
        assert cd.values("o", "gauge-usage_percent-NoUsage") == []
        assert cd.last("o", "bool-restricted_mode-NoUsage") == 0
        assert cd.values("o", "bool-restricted_mode-NoFlag") == []
        assert cd.values("o", "gauge-usage_percent-Typed") == []
        assert cd.values("o", "bool-restricted_mode-Typed") == []
        assert cd.values("o", "gauge-usage_percent-unnamed") == []
        assert not cd.log_lines("organizations answer is unusable"), cd.log()
    check_clean(d, cd)


def test_usage_scale_fraction_by_default_percent_on_request_and_the_self_check(d):
    # The orgs lists are written in percent; the fake serves them in the
    # entry's usage_scale (a fraction unless told).
    tok = {n: "tdpat_SCALE_%s_0123456789" % n
           for n in ("frac", "pct", "frac_wrong", "pct_wrong", "bad")}
    acme = [org("Acme", 42.5, False), org("Side", 5, False)]
    held = [org("Held", 117.5, True)]
    with Stack() as s:
        fake = s.start(FakeAPI(d, {
            tok["frac"]: {"label": "frac", "mode": "ok", "orgs": acme},
            tok["pct"]: {"label": "pct", "mode": "ok", "orgs": acme,
                         "usage_scale": "percent"},
            tok["frac_wrong"]: {"label": "frac_wrong", "mode": "ok", "orgs": acme,
                                "usage_scale": "percent"},
            tok["pct_wrong"]: {"label": "pct_wrong", "mode": "ok", "orgs": held},
            tok["bad"]: {"label": "bad", "mode": "ok"},
        }))
        opts = dict(CACert=ca(), CollectOrganizations=True, OrganizationsInterval=0.5)
        cd = s.start(Collectd(d, "\n".join([
            account("frac", fake.url(), tok["frac"], **opts),
            account("pct", fake.url(), tok["pct"], UsageScale="percent", **opts),
            account("frac_wrong", fake.url(), tok["frac_wrong"], **opts),
            account("pct_wrong", fake.url(), tok["pct_wrong"], UsageScale="Percent",
                    **opts),
        ])))
        # A value that is neither fails the configuration, naming the option.
        refused(d, account("bad", fake.url(), tok["bad"], UsageScale="percentage",
                           **opts),
                'account "bad": option UsageScale "percentage" must be fraction '
                'or percent.')
        def orgs_polls(n):
            return fake.label(n).get("paths", {}).get("/api/v3/organizations", 0)
        assert wait_for(lambda: all(orgs_polls(n) >= 4 for n in
                                    ("frac", "pct", "frac_wrong", "pct_wrong")),
                        15), cd.log()
        time.sleep(0.6)
        for name in ("frac", "pct"):
            assert cd.last(name, "gauge-usage_percent-Acme") == 42.5, name
            assert cd.last(name, "gauge-usage_percent-Side") == 5, name
            assert not cd.log_lines(r'account "%s": .*UsageScale' % name), cd.log()
        # Percents read as fractions: 4250%, and one WARNING naming the option.
        assert cd.last("frac_wrong", "gauge-usage_percent-Acme") == 4250
        lines = cd.log_lines(r'account "frac_wrong": .*UsageScale')
        assert len(lines) == 1, lines
        assert lines[0].endswith(
            'account "frac_wrong": organization Acme is not restricted at 4250% '
            'of its signals: usagePercentage looks like a percent, not a '
            'fraction; check UsageScale (fraction here).'), lines
        # Fractions read as percents: a restricted organization at 1.18%.
        assert cd.last("pct_wrong", "gauge-usage_percent-Held") == 1.175
        lines = cd.log_lines(r'account "pct_wrong": .*UsageScale')
        assert len(lines) == 1 and lines[0].endswith(
            'account "pct_wrong": organization Held is in restricted mode at '
            'only 1.18% of its signals: usagePercentage looks like a '
            'fraction, not a percent; check UsageScale (percent here).'), lines
        assert fake.label("bad").get("requests", 0) == 0
    check_clean(d, cd, *tok.values())

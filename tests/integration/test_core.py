"""The core plugin in the real collectd against our fake API."""

import os
import re
import time

from harness import (Collectd, FakeAPI, Stack, account, certs,
                     files_containing, free_port, inputs, refused, wait_for)

TOKEN = "tdpat_TESTSECRET0123456789abcdef"
TOKEN_B = "tdpat_SECONDSECRET9876543210fedc"


def ca():
    return os.path.join(certs(), "ca.pem")


def check_clean(workdir, collectd, *tokens):
    """The daemon survived and no file it or the fake wrote holds a token."""
    assert collectd.was_alive, "collectd died:\n" + collectd.log()[-2000:]
    leaks = files_containing(workdir, tokens or (TOKEN, TOKEN_B))
    assert not leaks, "token found in %s" % leaks


def severities(notes):
    return [n["severity"] for n in notes]


def test_valid_then_revoked_then_valid_notifies_once_each(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}}))
        cd = s.start(Collectd(d, account("main", fake.url(), TOKEN, CACert=ca())))
        assert wait_for(lambda: cd.last("main", "bool-token_valid") == 1, 10), cd.log()
        assert cd.last("main", "bool-email_verified") == 1
        assert cd.last("main", "response_code") == 200
        fake.mode("main", "revoked")
        assert wait_for(lambda: cd.notes("main", "token_valid"), 10), cd.log()
        n = cd.notes("main", "token_valid")[0]
        assert n["severity"] == "FAILURE"
        assert "401" in n["message"] and "User not authenticated." in n["message"]
        assert "revoked or has expired" in n["message"] and '"main"' in n["message"]
        # The state holds for several polls: no second FAILURE.
        before = fake.label("main")["requests"]
        assert wait_for(lambda: fake.label("main")["requests"] >= before + 3, 10)
        assert cd.last("main", "bool-token_valid") == 0
        assert cd.last("main", "response_code") == 401
        fake.mode("main", "ok")
        assert wait_for(lambda: len(cd.notes("main", "token_valid")) >= 2, 10)
        time.sleep(1.5)
        assert severities(cd.notes("main", "token_valid")) == ["FAILURE", "OKAY"]
        assert cd.last("main", "bool-api_reachable") == 1
        st = fake.label("main")
        # The fake saw exactly our bearer header on every request.
        assert st["auth_ok"] == st["requests"] > 5, st
        # Keep-alive: the connection survives between polls.
        assert st["connections"] < st["requests"], st
        assert fake.stats()["unknown_auth"] == 0
    check_clean(d, cd)


def test_closed_port_warns_after_unreachable_after_polls_then_okay(d):
    port = free_port()
    url = "https://127.0.0.1:%d/api/v3/users/info" % port
    with Stack() as s:
        cd = s.start(Collectd(d, account("down", url, TOKEN, CACert=ca(),
                                         UnreachableAfter=3)))
        assert wait_for(lambda: cd.notes("down", "api_reachable"), 10), cd.log()
        n = cd.notes("down", "api_reachable")[0]
        assert n["severity"] == "WARNING"
        assert "connection refused" in n["message"]
        assert "after 3 failed polls" in n["message"]
        assert len(cd.values("down", "bool-api_reachable")) >= 3
        assert cd.last("down", "bool-api_reachable") == 0
        assert cd.last("down", "response_code") == 0
        # One log line for the repeated identical error, not one per poll.
        assert len(cd.log_lines(r'account "down": no answer')) == 1, cd.log()
        fake = FakeAPI(d, {TOKEN: {"label": "down", "mode": "ok"}})
        fake.stop()
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "down", "mode": "ok"}},
                               name="fake2", port=port))
        assert wait_for(lambda: len(cd.notes("down", "api_reachable")) >= 2, 10), cd.log()
        assert severities(cd.notes("down", "api_reachable")) == ["WARNING", "OKAY"]
        assert cd.last("down", "bool-token_valid") == 1
    check_clean(d, cd)


def test_http_503_counts_as_unreachable_and_recovers(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "m", "mode": "503_html"}}))
        cd = s.start(Collectd(d, account("m", fake.url(), TOKEN, CACert=ca(),
                                         UnreachableAfter=2)))
        assert wait_for(lambda: cd.notes("m", "api_reachable"), 10), cd.log()
        n = cd.notes("m", "api_reachable")[0]
        assert n["severity"] == "WARNING" and "HTTP 503" in n["message"]
        assert cd.last("m", "response_code") == 503
        assert cd.last("m", "bool-api_reachable") == 0
        assert cd.values("m", "bool-token_valid") == []
        fake.mode("m", "ok")
        assert wait_for(lambda: len(cd.notes("m", "api_reachable")) >= 2, 10)
        assert severities(cd.notes("m", "api_reachable")) == ["WARNING", "OKAY"]
        # The HTML page is never quoted in the log.
        assert "<html" not in cd.log().lower()
    check_clean(d, cd)


def test_hang_past_timeout_warns_with_timeout_and_others_keep_polling(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "slow", "mode": "hang"},
                                   TOKEN_B: {"label": "fast", "mode": "ok"}}))
        block = "\n".join([
            account("slow", fake.url(), TOKEN, CACert=ca(), Timeout=0.4,
                    Interval=0.5, UnreachableAfter=2),
            account("fast", fake.url(), TOKEN_B, CACert=ca(), Interval=0.5),
        ])
        cd = s.start(Collectd(d, block))
        assert wait_for(lambda: cd.notes("slow", "api_reachable"), 10), cd.log()
        n = cd.notes("slow", "api_reachable")[0]
        assert "timeout after 0.4 s" in n["message"], n
        # The hanging account never held back the healthy one.
        assert wait_for(lambda: len(cd.values("fast", "bool-token_valid")) >= 6, 10)
        fast = cd.values("fast", "bool-token_valid")
        assert len(fast) >= 4 and all(v == 1 for _, v in fast), fast
        gaps = [b[0] - a[0] for a, b in zip(fast, fast[1:])]
        assert max(gaps) < 1.2, gaps
        fake.mode("slow", "ok")
        assert wait_for(lambda: len(cd.notes("slow", "api_reachable")) >= 2, 10)
        assert severities(cd.notes("slow", "api_reachable")) == ["WARNING", "OKAY"]
    check_clean(d, cd)


def test_token_expiry_warning_then_failure(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "exp", "mode": "ok"}}))
        # Seven days and four seconds out: a WARNING now, a FAILURE in 4 s.
        expires = time.gmtime(time.time() + 7 * 86400 + 4)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", expires)
        cd = s.start(Collectd(d, account("exp", fake.url(), TOKEN, CACert=ca(),
                                         TokenExpires=when, ExpiryWarningDays=30,
                                         ExpiryFailureDays=7)))
        assert wait_for(lambda: len(cd.notes("exp", "token")) >= 2, 15), cd.log()
        time.sleep(1.5)
        notes = cd.notes("exp", "token")
        assert severities(notes) == ["WARNING", "FAILURE"], notes
        assert "expires in 7.0 days" in notes[0]["message"], notes
        left = cd.last("exp", "timeleft-token")
        assert 6.99 * 86400 < left <= 7.0 * 86400, left
    check_clean(d, cd)


def test_token_expires_at_the_epoch_is_worded_as_that_date(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "epoch", "mode": "ok"}}))
        cd = s.start(Collectd(d, account("epoch", fake.url(), TOKEN, CACert=ca(),
                                         TokenExpires="1970-01-01")))
        assert wait_for(lambda: cd.notes("epoch", "token"), 10), cd.log()
        notes = cd.notes("epoch", "token")
        assert severities(notes) == ["FAILURE"], notes
        assert notes[0]["message"] == (
            'Account "epoch": the token expired on 1970-01-01T00:00:00Z; '
            'create a new one in the TelemetryDeck dashboard.'), notes
        assert "unknown date" not in cd.log()
    check_clean(d, cd)


def test_self_signed_certificate_fails_verification_and_never_sees_token(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "tls", "mode": "ok"}},
                               cert="selfsigned"))
        cd = s.start(Collectd(d, account("tls", fake.url(), TOKEN, UnreachableAfter=2)))
        assert wait_for(lambda: cd.notes("tls", "api_reachable"), 10), cd.log()
        n = cd.notes("tls", "api_reachable")[0]
        assert "TLS verification failed" in n["message"], n
        st = fake.stats()
        assert st["requests"] == 0, st
        assert cd.last("tls", "bool-api_reachable") == 0
    check_clean(d, cd)


def test_broken_config_fails_collectd_naming_account_and_option(d):
    url = "https://127.0.0.1:1/api/v3/users/info"
    cases = [
        (account("notoken", url, CACert=ca()),
         '"notoken": exactly one of Token and TokenFile'),
        (account("both", url, TOKEN, token_file="/nonexistent", CACert=ca()),
         '"both": exactly one of Token and TokenFile'),
        (account("baddate", url, TOKEN, CACert=ca(), TokenExpires="2027-02-30"),
         '"baddate": option TokenExpires "2027-02-30" is not a date'),
        (account("unknown", url, TOKEN, CACert=ca(), Colour="blue"),
         '"unknown": unknown option "Colour"'),
        (account("good", url, TOKEN, CACert=ca()) + "\n" +
         account("good", url, TOKEN, CACert=ca()),
         'account "good" is defined twice'),
        (account("badurl", "ftp://127.0.0.1/x", TOKEN),
         '"badurl": option URL "ftp://127.0.0.1/x" is refused'),
        (account("plain", "http://example.com/api/v3/users/info", TOKEN),
         '"plain": option URL "http://example.com/api/v3/users/info" is '
         'refused: plain http'),
        (account("order", url, TOKEN, CACert=ca(), ExpiryWarningDays=3,
                 ExpiryFailureDays=7),
         '"order": options ExpiryWarningDays 3 and ExpiryFailureDays 7'),
        (account("neg", url, TOKEN, CACert=ca(), Timeout=-1),
         '"neg": option Timeout -1 must be positive'),
    ]
    for block, needle in cases:
        refused(d, block, needle)
    assert not files_containing(d, [TOKEN]), files_containing(d, [TOKEN])


def test_token_file_is_reread_every_poll(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "a", "mode": "ok"},
                                   TOKEN_B: {"label": "b", "mode": "ok"}}))
        tf = os.path.join(inputs(d), "td.token")
        cd = s.start(Collectd(d, account("rot", fake.url(), token_file=tf, CACert=ca())))
        # Missing at start: one clear error, no crash, then picked up.
        assert wait_for(lambda: cd.log_lines(r'cannot open TokenFile'), 10), cd.log()
        fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (TOKEN + "\n").encode())
        os.close(fd)
        assert wait_for(lambda: fake.label("a").get("requests", 0) >= 2, 10), cd.log()
        assert len(cd.log_lines(r'telemetrydeck plugin: .*cannot open '
                                r'TokenFile')) == 1
        tmp = tf + ".new"
        with open(tmp, "w") as f:
            f.write(TOKEN_B)
        os.chmod(tmp, 0o600)
        os.rename(tmp, tf)
        assert wait_for(lambda: fake.label("b").get("requests", 0) >= 2, 10), cd.log()
        assert fake.label("b")["auth_ok"] == fake.label("b")["requests"]
        os.chmod(tf, 0o644)
        assert wait_for(lambda: cd.log_lines(r'has mode 0644 and is readable by group'), 10)
        assert cd.last("rot", "bool-token_valid") == 1
    check_clean(d, cd)


def test_viewer_path_with_trailing_slash_and_an_answer_without_organization(d):
    # The official viewer calls users/info/ (trailing slash) and the 2021
    # server model allows "receiveReports": null and no "organization".
    body = ('{"email":"main@example.com","emailIsVerified":true,'
            '"firstName":"Fake","id":"6F1E8A84-0C1D-4B5E-9F00-A1B2C3D4E5F6",'
            '"lastName":"main","receiveMarketingEmails":null,'
            '"receiveReports":null}')
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "custom",
                                           "body": body}}))
        url = fake.url(path="/api/v3/users/info/")
        cd = s.start(Collectd(d, account("main", url, TOKEN, CACert=ca(),
                                         ExpectUser="6f1e8a84-0c1d-4b5e-9f00-a1b2c3d4e5f6")))
        assert wait_for(lambda: len(cd.values("main", "bool-token_valid")) >= 2,
                        10), cd.log()
        assert all(v == 1 for _, v in cd.values("main", "bool-token_valid"))
        assert cd.last("main", "bool-email_verified") == 1
        assert cd.notes("main") == [], cd.notes("main")
        assert not cd.account_lines("main"), cd.log()
        paths = fake.label("main")["paths"]
        assert set(paths) == {"/api/v3/users/info/"}, paths
    check_clean(d, cd)


def _arrivals(cd, type_instance, seconds):
    """The notes of type_instance seen within seconds, each with the
    monotonic time this process first saw it (the log's own stamps are
    whole seconds)."""
    seen, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        notes = cd.notes("main", type_instance)
        now = time.monotonic()
        seen.extend((now, n) for n in notes[len(seen):])
        time.sleep(0.05)
    return seen


def test_revoked_token_is_reminded_every_second_until_okay(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "revoked"}}))
        cd = s.start(Collectd(d, account("main", fake.url(), TOKEN, CACert=ca(),
                                         Interval=0.3, RepeatNotificationsAfter=1),
                              interval=0.3))
        assert wait_for(lambda: cd.notes("main", "token_valid"), 10), cd.log()
        first = cd.notes("main", "token_valid")[0]
        assert first["severity"] == "FAILURE", first
        assert "reminder" not in first["message"], first
        seen = _arrivals(cd, "token_valid", 5.0)
        notes = [n for _, n in seen]
        assert notes[0] == first and len(notes) >= 4, notes
        for n in notes[1:]:
            assert n["severity"] == "FAILURE", n
            # The FAILURE's words, then since when it stands.
            assert n["message"].startswith(first["message"].rstrip(".")), n
            assert re.search(r" \(reminder: standing since "
                             r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\.$",
                             n["message"]), n
        # About every second: at the first poll (0.3 s apart) at least a
        # second after the last one, seen here within 0.1 s or so, with
        # room for a loaded machine.
        gaps = [b - a for (a, _), (b, _) in zip(seen, seen[1:])]
        assert all(0.8 <= g <= 3.0 for g in gaps), gaps
        fake.mode("main", "ok")
        assert wait_for(lambda: cd.notes("main", "token_valid")[-1]["severity"]
                        == "OKAY", 10), cd.notes("main", "token_valid")
        count = len(cd.notes("main", "token_valid"))
        # The OKAY is sent once and ends the reminders.
        time.sleep(3.0)
        after = cd.notes("main", "token_valid")
        assert len(after) == count, after[count - 1:]
        assert [n["severity"] for n in after].count("OKAY") == 1, after
        assert cd.last("main", "bool-token_valid") == 1
    check_clean(d, cd)


def test_unreadable_token_file_is_reminded_until_it_can_be_read(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}}))
        path = os.path.join(inputs(d), "main.token")
        cd = s.start(Collectd(d, account("main", fake.url(), token_file=path, CACert=ca(),
                                         Interval=0.3, RepeatNotificationsAfter=1),
                              interval=0.3))
        seen = _arrivals(cd, "token_readable", 4.0)
        notes = [n for _, n in seen]
        assert len(notes) >= 3, (notes, cd.log()[-2000:])
        assert notes[0]["severity"] == "FAILURE", notes
        assert "reminder" not in notes[0]["message"], notes
        for n in notes[1:]:
            assert n["severity"] == "FAILURE", n
            assert "No such file or directory" in n["message"], n
            assert "(reminder: standing since " in n["message"], n
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (TOKEN + "\n").encode())
        os.close(fd)
        assert wait_for(lambda: cd.notes("main", "token_readable")[-1]
                        ["severity"] == "OKAY", 10), cd.log()[-2000:]
        count = len(cd.notes("main", "token_readable"))
        time.sleep(2.5)
        assert len(cd.notes("main", "token_readable")) == count
        assert cd.last("main", "bool-token_valid") == 1
    check_clean(d, cd)

"""A hostile world: every bad answer, broken transfer and broken
network, each against the real collectd daemon and our fake API.

Every test runs a healthy account "ok" beside the hostile ones in the same
daemon and checks that it kept polling at every interval, that collectd
survived, that each hostile account logged its one line (once, however many
polls repeated it) and that nothing from a body other than the API's own
reason or detail reached the log. The hostile answers include Unicode
controls, a server that speaks only TLS 1.1, a megabyte of headers and a
status line that is not HTTP.
"""

import json
import os
import re
import subprocess
import time

from harness import Collectd, FakeAPI, account, inputs, status_kib, wait_for
from harness import (NASTY, SEVERITY, UNICODE_CONTROLS, Stack, free_port,
                     level_lines, org)
from test_core import ca, check_clean, severities

INTERVAL = 0.5
TIMEOUT = 0.4
SECRET = "Hx7Qp2Lw9"  # part of every test token, so a leak of any is found

HTML = "text/html; charset=utf-8"
HTML_PAGE = ("<!DOCTYPE html>\n<html><head><title>Forbidden</title></head>"
             "<body><h1>Forbidden</h1><p>Ask admin@corp.example.</p>"
             "</body></html>\n")

# Text that sits in the fake's bodies and must never reach the log: page
# markup, e-mail addresses, names, ids, padding. The API's own reason or
# detail is the only body text a log line may quote.
BODY_MARKERS = [
    re.compile(r"(?i)<html|<!doctype|<h1|<p>|</"),
    re.compile(r"(?i)fake upstream proxy|please log in|not the api you want"),
    re.compile(r"@(corp\.)?example\.com|admin@corp\.example"),
    re.compile(r"\bid-[a-z]|\bOrg [a-z]|receiveReports|isFoundingUser"),
    re.compile(r"padding|a{32}|x{32}"),
]


def tok(label):
    """The test token of a label: every account has its own."""
    return "tdpat_%s_%s" % (SECRET, label)


def plugin_lines(cd, name):
    """The plugin's own log lines about account name (not notifications),
    without the start and first-poll lines every account logs."""
    return cd.account_lines(name)


def assert_logged_once(cd, name, text):
    """Account name logged exactly one line, and it says text (a regex
    matching the rest of the line after 'account "NAME": ')."""
    lines = plugin_lines(cd, name)
    assert len(lines) == 1, "expected one line for %s, got %r" % (name, lines)
    rest = lines[0].split('account "%s": ' % name, 1)[1]
    assert re.fullmatch(text, rest), "line for %s is %r, expected %r" % (
        name, rest, text)


# The one place the plugin names whom a token belongs to (its id): the
# first good poll's line and a recovery's.
WHOSE = re.compile(r'; the token belongs to "[^"]*"$', re.M)


def assert_no_body_text(cd, allow=()):
    log = WHOSE.sub("", cd.log())
    for rx in BODY_MARKERS:
        for m in rx.finditer(log):
            if not any(a in m.group(0) for a in allow):
                raise AssertionError("body text %r in the log:\n%s"
                                     % (m.group(0), log[-3000:]))
    for line in log.splitlines():
        assert not any(c < " " and c != "\t" for c in line), repr(line)


def assert_healthy_kept_polling(cd, name="ok", interval=INTERVAL):
    """The healthy account dispatched token_valid 1 at every interval from
    its first poll until now: no gap of two intervals or more."""
    wait_for(lambda: len(cd.values(name, "bool-token_valid")) >= 5, 5)
    rows = cd.values(name, "bool-token_valid")
    assert len(rows) >= 5, "healthy account %s: %r\n%s" % (name, rows,
                                                            cd.log()[-2000:])
    assert all(v == 1 for _, v in rows), rows
    times = [t for t, _ in rows]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert max(gaps) < 2 * interval, "healthy account %s paused: gaps %r" % (
        name, gaps)
    assert time.time() - times[-1] < 2 * interval + 0.3, (
        "healthy account %s stopped polling %.1f s ago"
        % (name, time.time() - times[-1]))


def wait_polls(fake, labels, n, timeout=15):
    """Waits until the fake answered each label at least n times."""
    def done():
        st = fake.stats()["labels"]
        return all(st.get(l, {}).get("requests", 0) >= n for l in labels)
    assert wait_for(done, timeout, 0.1), fake.stats()


class Scene:
    """One collectd with hostile accounts and the healthy "ok", served by
    one fake; with apart=True, every account gets a fake of its own (for
    answers heavy enough to keep a shared fake busy)."""

    def __init__(self, d, cases, apart=False, **opts):
        # cases: (name, fake entry without label, account options)
        self.d = d
        self.tokens = [tok(n) for n, _, _ in cases] + [tok("ok")]
        entries = [(tok(n), dict(entry, label=n)) for n, entry, _ in cases]
        entries.append((tok("ok"), {"label": "ok", "mode": "ok"}))
        with Stack() as started:
            if apart:
                self.fakes = [started.start(FakeAPI(d, {t: e},
                                                    name="fake_" + e["label"]))
                              for t, e in entries]
            else:
                self.fakes = [started.start(FakeAPI(d, dict(entries)))] * len(
                    entries)
            self.fake = self.fakes[0]
            blocks = []
            for (name, _, acc), fake in zip(cases + [("ok", None, {})],
                                            self.fakes):
                o = dict(CACert=ca(), Interval=INTERVAL, Timeout=TIMEOUT)
                if name != "ok":
                    o.update(opts)
                    o.update(acc)
                blocks.append(account(name, o.pop("url", fake.url()),
                                      tok(name), **o))
            self.cd = started.start(Collectd(d, "\n".join(blocks),
                                             interval=INTERVAL))
            self.started = started.pop_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """collectd, then the fakes (again: nothing)."""
        self.started.close()

    def clean(self, *more_tokens):
        check_clean(self.d, self.cd, SECRET, *(self.tokens + list(more_tokens)))


# --------------------------------------------------------------------------
# The API rejects the token.

REJECTIONS = [
    # name, fake entry, HTTP status, the reason the log line must quote
    ("r401_vapor", {"mode": "revoked"}, 401, "User not authenticated."),
    ("r401_detail", {"mode": "detail401"}, 401, "Token revoked"),
    ("r401_html", {"mode": "html401"}, 401, None),
    ("r401_empty", {"mode": "empty401"}, 401, None),
    ("r403_vapor", {"mode": "forbidden"}, 403,
     "You do not have permission to access this resource."),
    ("r403_detail", {"mode": "custom", "status": 403,
                     "body": '{"detail":"Token lacks the read scope"}'},
     403, "Token lacks the read scope"),
    ("r403_html", {"mode": "custom", "status": 403, "content_type": HTML,
                   "body": HTML_PAGE}, 403, None),
    ("r403_empty", {"mode": "custom", "status": 403, "body": ""}, 403, None),
    ("r402_vapor", {"mode": "payment_required"}, 402, "Payment Required"),
    ("r402_empty", {"mode": "custom", "status": 402, "body": ""}, 402, None),
]

# What the log line and the FAILURE say after the status (and the reason):
# only a 401 is worded as a revocation.
REJECTION_WORDS = {
    401: ("the API rejected the token with HTTP 401%s",
          'TelemetryDeck rejected the token with HTTP 401%s: it was revoked '
          'or has expired.'),
    402: ("HTTP 402%s: TelemetryDeck requires a paid plan for personal "
          "access tokens",
          "HTTP 402%s: TelemetryDeck requires a paid plan for personal "
          "access tokens."),
    403: ("HTTP 403%s: the token is valid but not allowed this request "
          "(permissions or plan)",
          "HTTP 403%s: the token is valid but not allowed this request "
          "(permissions or plan)."),
}


def test_rejected_token_401_402_403_any_body_is_token_valid_0_with_one_failure(d):
    with Scene(d, [(n, e, {}) for n, e, _, _ in REJECTIONS]) as s:
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _, _ in REJECTIONS], 4)
        for name, _, status, reason in REJECTIONS:
            assert cd.last(name, "bool-token_valid") == 0, name
            assert cd.last(name, "bool-api_reachable") == 1, name
            assert cd.last(name, "response_code") == status, name
            assert cd.values(name, "response_time"), name
            assert cd.values(name, "bool-email_verified") == [], name
            suffix = " (%s)" % reason if reason else ""
            log_words, note_words = REJECTION_WORDS[status]
            assert_logged_once(cd, name, re.escape(log_words % suffix))
            notes = cd.notes(name)
            assert severities(notes) == ["FAILURE"], (name, notes)
            assert notes[0]["type_instance"] == "token_valid", notes
            assert notes[0]["message"] == (
                'Account "%s": ' % name + note_words % suffix), notes
            if status != 401:
                assert "revoked" not in notes[0]["message"], notes
                assert not re.search("revoked|expired",
                                     "\n".join(plugin_lines(cd, name))), name
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


def test_rejection_reason_is_cut_and_stripped_of_control_characters(d):
    # A reason that tries to forge a second log line and colour the
    # terminal, then runs on for 300 bytes.
    reason = "Revoked\r\n[2026-01-01] forged line\x1b[31m\x07 " + "Z" * 300
    body = '{"error":true,"reason":%s}' % json.dumps(reason)
    with Scene(d, [("evil", {"mode": "custom", "status": 401, "body": body}, {})]) as s:
        cd = s.cd
        wait_polls(s.fake, ["evil"], 3)
        lines = plugin_lines(cd, "evil")
        assert len(lines) == 1, lines
        assert not any(l.lstrip().startswith("[2026-01-01]")
                       for l in cd.log().splitlines())
        quoted = re.search(r"HTTP 401 \((.*)\)$", lines[0]).group(1)
        assert quoted.startswith("Revoked  [2026-01-01] forged line [31m  Z")
        assert len(quoted.encode()) == 100, (len(quoted), quoted)
        assert not re.search(r"[\x00-\x1f\x7f]", cd.log().replace("\n", ""))
        n = cd.notes("evil", "token_valid")
        assert severities(n) == ["FAILURE"], n
        assert "\x1b" not in n[0]["message"] and "Z" * 40 in n[0]["message"]
        assert cd.last("evil", "bool-token_valid") == 0
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# The API fails.

SERVER_ERRORS = [
    ("e500", {"mode": "server_error_valid_body"}, 500),
    ("e502", {"mode": "502_html"}, 502),
    ("e503", {"mode": "503_html"}, 503),
    ("e504", {"mode": "504_html"}, 504),
]


def test_5xx_even_with_a_valid_account_body_is_unreachable_never_a_valid_token(d):
    with Scene(d, [(n, e, {"UnreachableAfter": 2}) for n, e, _ in SERVER_ERRORS]) as s:
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _ in SERVER_ERRORS], 4)
        for name, _, status in SERVER_ERRORS:
            # The fake counts a request before the plugin writes its value.
            wait_for(lambda: len(cd.values(name, "bool-api_reachable")) >= 4, 5)
            assert cd.values(name, "bool-token_valid") == [], name
            assert cd.values(name, "bool-email_verified") == [], name
            rows = cd.values(name, "bool-api_reachable")
            assert len(rows) >= 4 and all(v == 0 for _, v in rows), (name, rows)
            assert cd.last(name, "response_code") == status, name
            assert_logged_once(cd, name, "the API answered HTTP %d" % status)
            notes = cd.notes(name)
            assert severities(notes) == ["WARNING"], (name, notes)
            assert notes[0]["type_instance"] == "api_reachable"
            assert notes[0]["message"] == (
                'Account "%s": the TelemetryDeck API is unreachable after 2 '
                'failed polls; last error: HTTP %d.' % (name, status))
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# Rate limits: the plugin waits as long as Retry-After says.

def _rate_limit_waits_then_resumes(d, mode, retry_after, min_wait, wait_text):
    with Scene(d, [("rl", {"mode": mode, "retry_after": retry_after}, {})]) as s:
        cd, fake = s.cd, s.fake
        assert wait_for(lambda: fake.label("rl").get("requests", 0) >= 1, 10)
        seen = time.monotonic()
        # During the wait: no request at all, though five intervals pass.
        fake.mode("rl", "ok")
        counts = []
        while time.monotonic() < seen + min_wait - 0.4:
            counts.append(fake.label("rl")["requests"])
            time.sleep(0.1)
        assert set(counts) == {1}, "polled during Retry-After: %r" % counts
        assert wait_for(lambda: fake.label("rl")["requests"] >= 2,
                        retry_after + 2), cd.log()
        assert wait_for(lambda: len(cd.notes("rl", "rate_limited")) >= 2, 3)
        codes = cd.values("rl", "response_code")
        assert [v for _, v in codes[:2]] == [429, 200], codes
        assert codes[1][0] - codes[0][0] >= min_wait - 0.05, codes
        reach = cd.values("rl", "bool-api_reachable")
        assert reach[0][1] == 1, reach
        # The 429 poll says nothing about the token.
        assert wait_for(lambda: cd.values("rl", "bool-token_valid"), 3)
        valid = cd.values("rl", "bool-token_valid")
        assert valid and valid[0][0] >= codes[1][0] - 0.01, (valid, codes)
        notes = cd.notes("rl")
        assert severities(notes) == ["WARNING", "OKAY"], notes
        assert {n["type_instance"] for n in notes} == {"rate_limited"}
        assert re.fullmatch(
            r'Account "rl": the TelemetryDeck API is rate limiting \(HTTP '
            r'429\); waiting %s s before the next poll\.' % wait_text,
            notes[0]["message"]), notes[0]
        assert notes[1]["message"] == (
            'Account "rl": polling resumed after the rate limit.')
        lines = plugin_lines(cd, "rl")
        assert len(lines) == 2 and "rate limiting (HTTP 429)" in lines[0] \
            and "polls succeed again (HTTP 200)" in lines[1], lines
        assert_healthy_kept_polling(cd)
    s.clean()


def test_429_retry_after_seconds_pauses_polling_that_long_then_okay(d):
    _rate_limit_waits_then_resumes(d, "ratelimit_seconds", 3, 3.0, "3")


def test_429_retry_after_http_date_pauses_polling_until_then_then_okay(d):
    # An HTTP date has whole seconds: 4 s from now is 3 to 4 s of waiting.
    _rate_limit_waits_then_resumes(d, "ratelimit_date", 4, 3.0, "[34]")


# --------------------------------------------------------------------------
# HTTP 200 whose body is no account.

UNUSABLE_200 = [
    ("malformed", "the body is not valid JSON"),
    ("truncated", "the body ended in the middle of its JSON"),
    ("empty200", "the body is empty"),
    ("html200", "the body is not valid JSON"),
    ("nul_byte", "the body is not valid JSON"),
    ("invalid_utf8", "the body is not valid JSON"),
    ("deep_nesting", "the JSON is nested too deeply"),
]


def test_unusable_200_bodies_give_no_token_verdict_and_one_line_naming_the_fault(d):
    cases = [(m, {"mode": m}, {}) for m, _ in UNUSABLE_200]
    cases.append(("wrong_types", {"mode": "wrong_types"}, {}))
    with Scene(d, cases) as s:
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _ in cases], 4)
        expect = [(m, "the HTTP 200 answer is unusable: " + why)
                  for m, why in UNUSABLE_200]
        expect.append(("wrong_types", "the HTTP 200 answer carries no account id"))
        for name, line in expect:
            assert cd.values(name, "bool-token_valid") == [], name
            assert cd.values(name, "bool-email_verified") == [], name
            assert cd.last(name, "bool-api_reachable") == 1, name
            assert cd.last(name, "response_code") == 200, name
            assert_logged_once(cd, name, re.escape(line))
            assert cd.notes(name) == [], (name, cd.notes(name))
        assert "nul@" not in cd.log() and "bad@" not in cd.log()
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


def test_duplicate_keys_the_last_one_wins(d):
    # The fake answers {"id":"first","id":"second"}: ExpectUser tells which
    # id the plugin kept.
    cases = [("dup", {"mode": "duplicate_keys"}, {}),
             ("dup_second", {"mode": "duplicate_keys"}, {"ExpectUser": "second"}),
             ("dup_first", {"mode": "duplicate_keys"}, {"ExpectUser": "first"})]
    with Scene(d, cases) as s:
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _ in cases], 3)
        for name in ("dup", "dup_second"):
            rows = cd.values(name, "bool-token_valid")
            assert rows and all(v == 1 for _, v in rows), (name, rows)
            assert cd.notes(name) == [], cd.notes(name)
            assert plugin_lines(cd, name) == [], plugin_lines(cd, name)
        assert cd.last("dup_first", "bool-token_valid") == 0
        n = cd.notes("dup_first", "token_valid")
        assert severities(n) == ["FAILURE"] and 'ExpectUser "first"' in n[0]["message"]
        assert_healthy_kept_polling(cd)
    s.clean()


def test_huge_bodies_stop_at_the_size_bound_without_buffering(d):
    # 20 MiB in one string and a 1 GiB stream: both cut at the plugin's
    # bound long before the Timeout, collectd's memory staying small.
    cases = [("huge_string", {"mode": "huge_string"}, {}),
             ("stream_1gib", {"mode": "stream_1gib"}, {})]
    with Scene(d, cases, apart=True, Interval=1, Timeout=0.9) as s:
        cd = s.cd
        peak = 0
        end = time.monotonic() + 4
        while time.monotonic() < end and cd.alive():
            peak = max(peak, status_kib(cd.proc.pid))
            time.sleep(0.05)
        for f, (name, _, _) in zip(s.fakes, cases):
            wait_polls(f, [name], 4)
        assert peak < 100 * 1024, "collectd's RSS reached %d KiB" % peak
        for name, _, _ in cases:
            assert_logged_once(cd, name, "the HTTP 200 answer is unusable: "
                               "the body is larger than the plugin accepts")
            assert cd.values(name, "bool-token_valid") == [], name
            assert cd.last(name, "bool-api_reachable") == 1, name
            assert cd.last(name, "response_code") == 200
            # Stopped by the bound, not by the Timeout.
            times = cd.values(name, "response_time")
            assert len(times) >= 4 and max(v for _, v in times) < 0.9, times
            assert cd.notes(name) == [], cd.notes(name)
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# Transfers that break.

BROKEN = [
    ("short_body", {"mode": "short_body"},
     r"the answer was shorter than announced"),
    ("reset_mid_body", {"mode": "reset_mid_body"},
     r"connection reset by the server"),
    ("trickle", {"mode": "trickle", "interval": 1.0},
     r"timeout after 0\.4 s"),
]


def test_answers_that_break_off_are_failed_polls_naming_the_cause(d):
    with Scene(d, [(n, e, {"UnreachableAfter": 2}) for n, e, _ in BROKEN]) as s:
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _ in BROKEN], 4)
        time.sleep(TIMEOUT)  # the last trickle poll times out
        for name, _, why in BROKEN:
            assert cd.values(name, "bool-token_valid") == [], name
            rows = cd.values(name, "bool-api_reachable")
            assert len(rows) >= 3 and all(v == 0 for _, v in rows), (name, rows)
            assert cd.last(name, "response_code") == 200, name
            assert_logged_once(cd, name, "the HTTP 200 answer broke off: " + why)
            notes = cd.notes(name)
            assert severities(notes) == ["WARNING"], (name, notes)
            assert re.fullmatch(
                r'Account "%s": the TelemetryDeck API is unreachable after 2 '
                r'failed polls; last error: %s\.' % (name, why),
                notes[0]["message"]), notes[0]
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    s.clean()


def test_api_killed_mid_answer_is_a_broken_answer_then_connection_refused(d):
    victim = {tok("victim"): {"label": "victim", "mode": "trickle",
                              "interval": 0.2}}
    with Stack() as up:
        doomed = up.start(FakeAPI(d, victim, name="doomed"))
        s = up.start(Scene(d, [("victim", {"mode": "ok"},
                               {"url": doomed.url(), "Interval": 2, "Timeout": 1.9,
                                "UnreachableAfter": 2})]))
        cd = s.cd
        assert wait_for(lambda: doomed.label("victim").get("requests", 0) >= 1, 10)
        time.sleep(0.5)  # headers and a couple of body bytes are out
        doomed.proc.kill()
        doomed.proc.wait()
        assert wait_for(lambda: cd.notes("victim", "api_reachable"), 10), cd.log()
        lines = plugin_lines(cd, "victim")
        assert len(lines) == 2, lines
        # The server closed (no reset, no broken pipe) before the body it
        # announced was complete: the line must say so, not guess.
        assert re.search(r'account "victim": the HTTP 200 answer broke off: '
                         r'(?!connection broken \((reset|Broken pipe)\)$)'
                         r'(the answer was shorter than announced|connection '
                         r'(broken|closed) .+)$', lines[0]), lines
        assert lines[1].endswith(
            'account "victim": no answer from the API: connection refused'), lines
        codes = [v for _, v in cd.values("victim", "response_code")]
        assert codes[:2] == [200, 0], codes
        assert cd.values("victim", "bool-token_valid") == []
        n = cd.notes("victim")
        assert severities(n) == ["WARNING"] and n[0]["message"].endswith(
            "last error: connection refused."), n
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# No answer at all: refused, unresolvable, untrusted certificates.

def loopback_dns_wrapper(d):
    """A command prefix that runs collectd in a mount namespace whose
    resolv.conf names 127.0.0.1, where nothing listens: a name lookup fails
    at once and no DNS query leaves the machine. (glibc does not keep
    .invalid names to itself: it asks the configured name server.)"""
    conf = os.path.join(d, "input", "resolv.conf")
    os.makedirs(os.path.dirname(conf), exist_ok=True)
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    wrapper = ["unshare", "--mount", "--", "sh", "-c",
               'mount --bind "$0" /etc/resolv.conf && exec "$@"', conf]
    probe = subprocess.run(wrapper + ["true"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT)
    assert probe.returncode == 0, (
        "cannot confine DNS to loopback (unshare --mount failed); refusing to "
        "send a DNS query off the machine")
    return wrapper


def test_no_answer_refused_unresolvable_or_untrusted_tls_never_sends_a_request(d):
    with Stack() as up:
        fakes = {c: up.start(FakeAPI(d, {tok("tls_" + c): {"label": "tls_" + c,
                                                            "mode": "ok"}},
                                     cert=c, name="fake_" + c))
                 for c in ("selfsigned", "expired", "wrongname")}
        refused = "https://127.0.0.1:%d/api/v3/users/info" % free_port()
        cases = [
            ("refused", {"mode": "ok"}, {"url": refused},
             r"connection refused"),
            ("unresolvable", {"mode": "ok"},
             {"url": "https://no-such-host.invalid/api/v3/users/info"},
             r"could not resolve the host"),
            ("tls_selfsigned", {"mode": "ok"}, {"url": fakes["selfsigned"].url()},
             r"TLS verification failed: the certificate is self-signed and not "
             r"trusted"),
            ("tls_expired", {"mode": "ok"}, {"url": fakes["expired"].url()},
             r"TLS verification failed: the certificate has expired"),
            ("tls_wrongname", {"mode": "ok"}, {"url": fakes["wrongname"].url()},
             r"TLS verification failed: the certificate is for another name"),
        ]
        wrapper = loopback_dns_wrapper(d)
        tokens = [tok(n) for n, _, _, _ in cases] + [tok("ok")]
        ok_fake = up.start(FakeAPI(d, {tok("ok"): {"label": "ok", "mode": "ok"}},
                                   name="okfake"))
        # A host that is not loopback may not be polled more than once a
        # second: the unresolvable one polls at 1 s.
        block = [account(n, acc["url"], tok(n), CACert=ca(),
                         Interval=INTERVAL if "127.0.0.1" in acc["url"] else 1,
                         Timeout=TIMEOUT, UnreachableAfter=2)
                 for n, _, acc, _ in cases]
        block.append(account("ok", ok_fake.url(), tok("ok"), CACert=ca(),
                             Interval=INTERVAL, Timeout=TIMEOUT))
        cd = up.start(Collectd(d, "\n".join(block), interval=INTERVAL,
                               wrapper=wrapper))
        names = [n for n, _, _, _ in cases]
        assert wait_for(lambda: all(len(cd.values(n, "bool-api_reachable")) >= 4
                                    for n in names), 15), cd.log()
        for name, _, _, why in cases:
            rows = cd.values(name, "bool-api_reachable")
            assert all(v == 0 for _, v in rows), (name, rows)
            assert all(v == 0 for _, v in cd.values(name, "response_code")), name
            assert cd.values(name, "response_time") == [], name
            assert cd.values(name, "bool-token_valid") == [], name
            assert_logged_once(cd, name, "no answer from the API: " + why)
            assert cd.notes(name, "token_valid") == [], name
            notes = cd.notes(name, "api_reachable")
            assert severities(notes) == ["WARNING"], (name, notes)
            assert re.fullmatch(
                r'Account "%s": the TelemetryDeck API is unreachable after 2 '
                r'failed polls; last error: %s\.' % (name, why),
                notes[0]["message"]), notes[0]
        # libcurl+GnuTLS checks the chain after the handshake, so the fake
        # may count handshakes; it must never see a request (or a token).
        for c, f in fakes.items():
            st = f.stats()
            assert st["requests"] == 0 and st["unknown_auth"] == 0, (c, st)
        assert_healthy_kept_polling(cd)
    check_clean(d, cd, SECRET, *tokens)


# --------------------------------------------------------------------------
# Redirects.

def test_redirect_to_another_host_or_port_is_not_followed(d):
    with Stack() as up:
        other = up.start(FakeAPI(d, {}, cert=None, name="other"))
        elsewhere = "http://localhost:%d/api/v3/users/info" % other.port
        cases = [
            ("redir_port", {"mode": "redirect", "redirect_port": other.port}, {}),
            ("redir_host", {"mode": "custom", "status": 302, "body": "",
                            "headers": {"Location": elsewhere}}, {}),
            ("redir_307", {"mode": "custom", "status": 307, "body": "",
                           "headers": {"Location": elsewhere}}, {}),
        ]
        s = up.start(Scene(d, cases))
        cd = s.cd
        wait_polls(s.fake, [n for n, _, _ in cases], 4)
        for name, _, _ in cases:
            code = 307 if name == "redir_307" else 302
            assert cd.last(name, "response_code") == code, name
            assert cd.last(name, "bool-api_reachable") == 1, name
            assert cd.values(name, "bool-token_valid") == [], name
            assert_logged_once(cd, name, r"unexpected HTTP %d from the API "
                               r"\(redirects are not followed\)" % code)
            assert cd.notes(name) == [], cd.notes(name)
        st = other.stats()
        assert st["connections"] == 0 and st["requests"] == 0, st
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# Logging: a problem once, not at every poll.

def test_repeated_identical_errors_are_logged_once_per_change(d):
    with Scene(d, [("flaky", {"mode": "503_html"}, {"UnreachableAfter": 1})]) as s:
        cd, fake = s.cd, s.fake
        for mode in ("503_html", "revoked", "revoked", "503_html", "ok"):
            fake.mode("flaky", mode)
            n = fake.label("flaky")["requests"]
            wait_polls(fake, ["flaky"], n + 4)
        rest = [l.split('account "flaky": ', 1)[1] for l in plugin_lines(cd, "flaky")]
        assert rest == [
            "the API answered HTTP 503",
            "the API rejected the token with HTTP 401 (User not authenticated.)",
            "the API answered HTTP 503",
            'polls succeed again (HTTP 200); the token belongs to '
            '"id-flaky"',
        ], rest
        assert fake.label("flaky")["requests"] >= 20
        notes = [(n["type_instance"], n["severity"]) for n in cd.notes("flaky")]
        assert notes == [
            ("api_reachable", "WARNING"),
            ("token_valid", "FAILURE"), ("api_reachable", "OKAY"),
            ("api_reachable", "WARNING"),
            ("token_valid", "OKAY"), ("api_reachable", "OKAY"),
        ], notes
        assert_healthy_kept_polling(cd)
    s.clean()


# --------------------------------------------------------------------------
# The token and the user behind it.

def test_expect_user_token_of_another_user_is_a_failure_naming_expect_user(d):
    cases = [
        ("exp_wrong", {"mode": "ok"}, {"ExpectUser": "boss@corp.example"}),
        ("exp_email", {"mode": "ok"}, {"ExpectUser": "EXP_EMAIL@Example.COM"}),
        ("exp_id", {"mode": "ok"}, {"ExpectUser": "id-exp_id"}),
        # Swift writes UUIDs in upper case; the operator copied one in
        # lower case.
        ("exp_uuid", {"mode": "ok", "id": "6F1E8A84-0C1D-4B5E-9F00-A1B2C3D4E5F6"},
         {"ExpectUser": "6f1e8a84-0c1d-4b5e-9f00-a1b2c3d4e5f6"}),
    ]
    with Scene(d, cases) as s:
        cd, fake = s.cd, s.fake
        wait_polls(fake, ["exp_wrong", "exp_email", "exp_id", "exp_uuid"], 3)
        assert cd.last("exp_wrong", "bool-token_valid") == 0
        assert cd.last("exp_wrong", "bool-api_reachable") == 1
        assert cd.values("exp_wrong", "bool-email_verified") == []
        notes = cd.notes("exp_wrong")
        assert severities(notes) == ["FAILURE"], notes
        assert notes[0]["type_instance"] == "token_valid"
        assert notes[0]["message"] == (
            'Account "exp_wrong": the token works but belongs to another '
            'TelemetryDeck user than ExpectUser "boss@corp.example".'), notes
        assert_logged_once(cd, "exp_wrong", "the token belongs to another user "
                           "than ExpectUser")
        for name in ("exp_email", "exp_id", "exp_uuid"):
            rows = cd.values(name, "bool-token_valid")
            assert rows and all(v == 1 for _, v in rows), (name, rows)
            assert cd.notes(name) == [] and plugin_lines(cd, name) == []
        # The token now belongs to the expected user: OKAY.
        fake.mode("exp_wrong", "ok", email="Boss@Corp.Example")
        assert wait_for(lambda: len(cd.notes("exp_wrong")) >= 2, 5), cd.log()
        assert severities(cd.notes("exp_wrong")) == ["FAILURE", "OKAY"]
        assert cd.last("exp_wrong", "bool-token_valid") == 1
        # The other user's e-mail and id are never quoted.
        assert_no_body_text(cd, allow=("@corp.example", "@Corp.Example"))
        assert_healthy_kept_polling(cd)
    s.clean()


def test_token_file_swapped_to_another_users_token_warns_once(d):
    tf = os.path.join(inputs(d), "swap.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (tok("swap_a") + "\n").encode())
    os.close(fd)
    with Stack() as up:
        fake = up.start(FakeAPI(d, {tok("swap_a"): {"label": "swap_a", "mode": "ok"},
                                   tok("swap_b"): {"label": "swap_b", "mode": "ok"},
                                   tok("ok"): {"label": "ok", "mode": "ok"}}))
        block = "\n".join([
            account("swap", fake.url(), token_file=tf, CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT),
            account("ok", fake.url(), tok("ok"), CACert=ca(), Interval=INTERVAL,
                    Timeout=TIMEOUT)])
        cd = up.start(Collectd(d, block, interval=INTERVAL))
        wait_polls(fake, ["swap_a"], 3)
        tmp = tf + ".new"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (tok("swap_b") + "\n").encode())
        os.close(fd)
        os.rename(tmp, tf)
        wait_polls(fake, ["swap_b"], 4)
        notes = cd.notes("swap")
        assert severities(notes) == ["WARNING"], notes
        assert notes[0]["type_instance"] == "token_valid"
        assert notes[0]["message"] == (
            'Account "swap": the token now belongs to another TelemetryDeck '
            'user than at the previous poll.'), notes
        rows = cd.values("swap", "bool-token_valid")
        assert len(rows) >= 7 and all(v == 1 for _, v in rows), rows
        rest = [l.split('account "swap": ', 1)[1] for l in plugin_lines(cd, "swap")]
        assert rest == ["using a new token."], rest
        assert_no_body_text(cd)
        assert_healthy_kept_polling(cd)
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# Unicode controls from the API.

def test_unicode_controls_from_the_api_never_reach_log_or_notifications(d):
    reason = "Token%sgone%sfor good" % (NASTY, NASTY)
    cases = [
        ("u_reason", {"mode": "custom", "status": 401,
                      "body": json.dumps({"error": True, "reason": reason})}),
        ("u_detail", {"mode": "custom", "status": 401,
                      "body": json.dumps({"detail": reason})}),
        ("u_403", {"mode": "custom", "status": 403,
                   "body": json.dumps({"error": True, "reason": reason})}),
        ("u_user", {"mode": "ok", "id": "id%sx" % NASTY,
                    "email": "mail%s@example.org" % NASTY}),
        ("u_orgs", {"mode": "ok", "orgs": [
            org("E-1", "Evil%sCorp" % NASTY, 99, True),
            org("E-2", "Nice\u202eCorp\u2066", 95, False)]}),
    ]
    entries = {tok(n): dict(e, label=n) for n, e in cases}
    entries[tok("good")] = {"label": "good", "mode": "ok"}
    with Stack() as s:
        fake = s.start(FakeAPI(d, entries))
        block = [account("good", fake.url(), tok("good"), CACert=ca(),
                         Interval=INTERVAL, Timeout=TIMEOUT)]
        for n, _ in cases:
            opts = dict(CACert=ca(), Interval=INTERVAL, Timeout=TIMEOUT)
            if n == "u_user":
                opts["ExpectUser"] = "someone@example.com"
            if n == "u_orgs":
                opts.update(CollectOrganizations=True, OrganizationsInterval=1)
            block.append(account(n, fake.url(), tok(n), **opts))
        cd = s.start(Collectd(d, "\n".join(block), interval=INTERVAL))
        assert wait_for(lambda: all(fake.label(n)["requests"] >= 3
                                    for n, _ in cases), 15, 0.2)
        assert wait_for(lambda: len(cd.notes("u_orgs")) >= 3, 5), cd.log()
        with open(cd.logfile, "rb") as f:
            raw = f.read()
        found = UNICODE_CONTROLS.findall(raw)
        assert not found, "%r in the log:\n%s" % (
            found[:5], raw.decode("utf-8", "replace")[-3000:])
        # The text around them is still there.
        for name in ("u_reason", "u_detail", "u_403"):
            n = cd.notes(name, "token_valid")
            assert severities(n) == ["FAILURE"], (name, n)
            assert re.search(r"Token.*gone.*for good", n[0]["message"]), n
            lines = cd.log_lines(r'telemetrydeck plugin: account "%s": ' % name)
            assert any(re.search(r"Token.*gone.*for good", l)
                       for l in lines), lines
        n = cd.notes("u_user", "token_valid")
        assert severities(n) == ["FAILURE"], n
        fails = [x for x in cd.notes("u_orgs") if x["severity"] == "FAILURE"]
        assert len(fails) == 1 and "Evil" in fails[0]["type_instance"] + \
            fails[0]["message"], fails
        warns = [x for x in cd.notes("u_orgs") if x["severity"] == "WARNING"]
        assert len(warns) == 2, cd.notes("u_orgs")
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# TLS 1.2 at least.

def test_server_speaking_only_tls_1_1_gets_no_request(d):
    with Stack() as s:
        old = s.start(FakeAPI(d, {tok("old"): {"label": "old", "mode": "ok"}},
                              tls_max="1.1", name="old"))
        fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"}}))
        block = "\n".join([
            account("good", fake.url(), tok("good"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT),
            account("old", old.url(), tok("old"), CACert=ca(), Interval=INTERVAL,
                    Timeout=TIMEOUT, UnreachableAfter=2)])
        cd = s.start(Collectd(d, block, interval=INTERVAL, extra=SEVERITY))
        assert wait_for(lambda: len(cd.values("old", "bool-api_reachable")) >= 3,
                        10), cd.log()[-2000:]
        st = old.stats()
        assert st["requests"] == 0 and st["unknown_auth"] == 0, st
        assert old.label("old")["auth_ok"] == 0
        assert all(v == 0 for _, v in cd.values("old", "bool-api_reachable"))
        assert cd.values("old", "bool-token_valid") == []
        warns = level_lines(cd, "warning", "old")
        assert len(warns) == 1 and "TLS" in warns[0], warns
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# Headers too large.

def test_megabyte_response_header_is_too_large_not_out_of_memory(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {
            tok("bighead"): {"label": "bighead", "mode": "custom", "status": 200,
                             "body": '{"id":"x"}',
                             "headers": {"X-Padding": "p" * (1024 * 1024)}},
            tok("good"): {"label": "good", "mode": "ok"}}))
        block = "\n".join([
            account("good", fake.url(), tok("good"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT),
            account("bighead", fake.url(), tok("bighead"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT)])
        cd = s.start(Collectd(d, block, interval=INTERVAL))
        assert wait_for(lambda: fake.label("bighead")["requests"] >= 3, 10)
        time.sleep(0.3)
        lines = cd.account_lines("bighead")
        assert lines and "headers are too large" in lines[0], lines
        assert "Out of memory" not in cd.log(), lines
        assert cd.values("bighead", "bool-token_valid") == []
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# An answer that is not HTTP.

class NotHttp:
    """A listener on 127.0.0.1 that reads a request and answers it with
    the given bytes, then closes: a status line that is not HTTP."""

    def __init__(self, answer):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.answer = answer
        self.done = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/api/v3/users/info" % self.sock.getsockname()[1]

    def serve(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def stop(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()


def test_answer_that_is_not_http_is_said_so_not_unsupported_protocol(d):
    answers = {"four_digits": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
               "below_100": b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
               "http09": b"hello, this is not HTTP at all\r\n"}
    with Stack() as s:
        servers = {n: s.start(NotHttp(a)) for n, a in answers.items()}
        block = "\n".join(account(n, srv.url(), tok(n), Interval=INTERVAL,
                                  Timeout=TIMEOUT) for n, srv in servers.items())
        cd = s.start(Collectd(d, block, interval=INTERVAL))
        assert wait_for(lambda: all(cd.account_lines(n) for n in answers), 10), cd.log()
        for name in answers:
            lines = cd.account_lines(name)
            assert lines[0].endswith(
                'account "%s": no answer from the API: the answer is not '
                'valid HTTP' % name), lines
            assert cd.last(name, "bool-api_reachable") == 0, name
        assert "nsupported protocol" not in cd.log()
    check_clean(d, cd, SECRET)

"""telemetrydeck-check against our fake API: every exit code, the
status line and its performance data, and that the token never shows;
then a hostile world: special files, a NUL or an invisible character in
the token, Unicode controls from the API, a server that speaks only TLS
1.1, --shape, a URL with a user or password. Its proxies are in
test_proxy.py, its --config in test_check_config.py."""

import datetime
import json
import os
import re
import subprocess

from harness import (BUILD, NASTY, TOP, UNICODE_CONTROLS, FakeAPI, Stack,
                     certs, clean_env, free_port, inputs, special_files)

CHECK = os.path.join(BUILD, "telemetrydeck-check")
TOKEN = "tdpat_CHECKSECRET0123456789abcdef"
OTHER = "tdpat_CHECKOTHER9876543210fedcba"

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3

# One status line: "TELEMETRYDECK STATE - text | label=value[UOM];warn;crit;min[;max] ..."
STATUS_RE = re.compile(
    r"^TELEMETRYDECK (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - "
    r"(?P<text>[^|\n]+?)(?: \| (?P<perf>\S.*))?$")
PERF_RE = re.compile(
    r"^(?P<label>[a-z_]+)=(?P<value>-?[0-9.]+)(?P<uom>s?);"
    r"(?P<warn>[0-9.:]*);(?P<crit>[0-9.:]*);(?P<min>[0-9.]*)(?:;(?P<max>[0-9.]*))?$")
STATES = {"OK": OK, "WARNING": WARNING, "CRITICAL": CRITICAL, "UNKNOWN": UNKNOWN}


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.lines = proc.stdout.splitlines()
        self.status = self.lines[0] if self.lines else ""

    def __repr__(self):
        return "rc=%d stdout=%r stderr=%r" % (self.rc, self.out, self.err)

    def parsed(self):
        """The status line's state, text and performance data, checked
        against the monitoring-plugins format."""
        m = STATUS_RE.match(self.status)
        assert m, "not a status line: %r" % self.status
        assert STATES[m["state"]] == self.rc, self
        perf = {}
        for item in (m["perf"] or "").split():
            p = PERF_RE.match(item)
            assert p, "bad performance data %r in %r" % (item, self.status)
            perf[p["label"]] = p.groupdict()
        return m["state"], m["text"], perf


class Runner:
    """Runs the check and keeps every byte it printed, to grep for tokens."""

    def __init__(self, workdir):
        self.dir = workdir
        self.seen = []

    def token_file(self, name="token", text=TOKEN + "\n", mode=0o600):
        path = os.path.join(inputs(self.dir), name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def __call__(self, *args, env_token=None, timeout=30):
        env = dict(os.environ)
        env.pop("TELEMETRYDECK_TOKEN", None)
        if env_token is not None:
            env["TELEMETRYDECK_TOKEN"] = env_token
        proc = subprocess.run([CHECK] + list(args), capture_output=True,
                              text=True, env=env, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        self.seen.append(proc.stdout + proc.stderr)
        return Result(proc)

    def assert_no_token(self):
        for text in self.seen:
            for t in (TOKEN, OTHER, TOKEN[6:]):
                assert t not in text, "token in output: %r" % text


def ca():
    return os.path.join(certs(), "ca.pem")


def days_from_now(days):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_check_ok_with_token_file_and_environment(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "main", "mode": "ok"}}))
        run = Runner(d)
        tf = run.token_file()
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf)
        assert r.rc == OK, r
        assert len(r.lines) == 1 and r.err == "", r
        state, text, perf = r.parsed()
        assert text == 'token valid for "main@example.com"', r
        assert perf["response_time"]["uom"] == "s" and perf["response_time"]["min"] == "0"
        assert 0 <= float(perf["response_time"]["value"]) < 10
        assert perf["api_reachable"]["value"] == "1"
        assert perf["token_valid"]["value"] == "1"
        assert "days_left" not in perf
        # The API's certificate (the test CA's, 825 days): information only.
        assert 800 < float(perf["tls_days_left"]["value"]) <= 825, r
        # The token from the environment works the same way.
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == OK and r.parsed()[1] == text, r
        # --token-file wins over the environment.
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf,
                env_token="tdpat_notknown")
        assert r.rc == OK, r
        # Leading and trailing white space in the file is ignored, as by
        # the plugin's TokenFile.
        tf2 = run.token_file("spaced", "  %s \r\n\n" % TOKEN)
        assert run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf2).rc == OK
        # ExpectUser: the e-mail or the id, without regard to case.
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf,
                "--expect-user", "MAIN@Example.com")
        assert r.rc == OK, r
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf,
                "--expect-user", "id-main")
        assert r.rc == OK, r
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf,
                "--expect-user", "ID-Main")
        assert r.rc == OK, r
        st = fake.label("main")
        assert st["requests"] == st["auth_ok"] == 7, st
        assert fake.stats()["unknown_auth"] == 0  # tdpat_notknown was never sent
    run.assert_no_token()


def test_check_verbose_shows_account_never_token(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "vb", "mode": "ok",
                                           "org_name": "Pipe | Org"}}))
        run = Runner(d)
        tf = run.token_file(mode=0o644)
        r = run("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf,
                "--verbose", "--expires", days_from_now(100))
        assert r.rc == OK, r
        state, text, perf = r.parsed()
        assert "expires in 99.9 days" in text or "expires in 100.0 days" in text, r
        out = r.out
        assert "account id: id-vb\n" in out, out
        assert "e-mail: vb@example.com (verified)\n" in out, out
        # A '|' from the network would start the performance data.
        assert "organization: Pipe / Org\n" in out, out
        assert "HTTP status: 200\n" in out, out
        assert "token: from --token-file (not shown)" in out, out
        assert "mode 0644" in out, out
        assert out.count("|") == 1, out
        fake.mode("vb", "ok_unverified")
        r = run("--url", fake.url(), "--ca-cert", ca(), "-v", env_token=TOKEN)
        assert r.rc == OK and "(not verified)" in r.out, r
        assert "from the environment variable TELEMETRYDECK_TOKEN" in r.out, r
        fake.mode("vb", "revoked")
        r = run("--url", fake.url(), "--ca-cert", ca(), "-v", env_token=TOKEN)
        assert r.rc == CRITICAL, r
        assert "HTTP status: 401" in r.out and "API reason: User not authenticated." in r.out, r
        assert "account id" not in r.out, r
    run.assert_no_token()


def test_check_expiry_warning_and_critical(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "exp", "mode": "ok"}}))
        run = Runner(d)
        tf = run.token_file()
        base = ("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf)
        r = run(*base, "--expires", days_from_now(20))
        assert r.rc == WARNING, r
        state, text, perf = r.parsed()
        assert re.search(r'token valid for "exp@example.com"; the token expires in '
                         r'(19\.9|20\.0) days \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$', text), r
        assert perf["days_left"]["warn"] == "30:" and perf["days_left"]["crit"] == "7:", r
        assert 19.9 < float(perf["days_left"]["value"]) <= 20, r
        # Thresholds are "days left at or below".
        assert run(*base, "--expires", days_from_now(20), "-w", "15").rc == OK
        assert run(*base, "--expires", days_from_now(20), "-w", "25", "-c", "21").rc == CRITICAL
        r = run(*base, "--expires", days_from_now(3))
        assert r.rc == CRITICAL and "expires in" in r.parsed()[1], r
        r = run(*base, "--expires", "2020-01-01")
        assert r.rc == CRITICAL, r
        assert r.parsed()[1].endswith("the token expired on 2020-01-01T00:00:00Z"), r
        assert r.parsed()[2]["days_left"]["value"] == "0.000", r
        r = run(*base, "--expires", days_from_now(400), "--warning-days=30",
                "--critical-days=7")
        assert r.rc == OK, r
        # A rejected token is CRITICAL whatever the expiry says, and its
        # words stop at what became of it: no option names, no "expires in".
        fake.mode("exp", "revoked")
        r = run(*base, "--expires", days_from_now(20))
        assert r.rc == CRITICAL, r
        assert re.search(r"the token was revoked before its expiry date "
                         r"\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$", r.parsed()[1]), r
        assert "--" not in r.parsed()[1] and "expires in" not in r.parsed()[1], r
    run.assert_no_token()


def test_check_tls_time_and_outage_thresholds(d):
    """check_curl's -C, -w/-c in seconds and the state of an outage."""
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "t", "mode": "ok"}}))
        run = Runner(d)
        tf = run.token_file()
        base = ("--url", fake.url(), "--ca-cert", ca(), "--token-file", tf)
        # The test certificate has 825 days left; the defaults are 14 and 3.
        r = run(*base)
        assert r.rc == OK, r
        perf = r.parsed()[2]
        assert perf["tls_days_left"]["warn"] == "14:", r
        assert perf["tls_days_left"]["crit"] == "3:", r
        r = run(*base, "--tls-warning-days", "900")
        assert r.rc == WARNING, r
        assert re.search(r"the API's TLS certificate expires in 82[45]\.\d days$",
                         r.parsed()[1]), r
        assert r.parsed()[2]["tls_days_left"]["warn"] == "900:", r
        r = run(*base, "--tls-warning-days", "900", "--tls-critical-days", "850")
        assert r.rc == CRITICAL, r
        r = run(*base, "--tls-warning-days", "3", "--tls-critical-days", "14")
        assert r.rc == UNKNOWN and "--tls-warning-days" in r.status, r
        # Response time, in seconds, "above" as check_curl's -w/-c.
        r = run(*base, "--time-warning", "5", "--time-critical", "9")
        assert r.rc == OK, r
        perf = r.parsed()[2]
        assert perf["response_time"]["warn"] == "5" and perf["response_time"]["crit"] == "9", r
        fake.mode("t", "ok", delay=0.6)
        r = run(*base, "--time-warning", "0.3")
        assert r.rc == WARNING, r
        assert re.search(r"the answer took 0\.\d+ s, more than 0\.3 s$", r.parsed()[1]), r
        r = run(*base, "--time-warning", "0.1", "--time-critical", "0.3")
        assert r.rc == CRITICAL and "more than 0.3 s" in r.parsed()[1], r
        fake.mode("t", "ok", delay=0)
        # An outage: CRITICAL by default, or as --outage-state says; a
        # revoked token stays CRITICAL.
        fake.mode("t", "503_html")
        assert run(*base).rc == CRITICAL
        assert run(*base, "--outage-state", "warning").rc == WARNING
        assert run(*base, "--outage-state", "unknown").rc == UNKNOWN
        r = run(*base, "--outage-state", "ok")
        assert r.rc == UNKNOWN and "--outage-state takes warning, critical or unknown" in r.status, r
        fake.mode("t", "revoked")
        assert run(*base, "--outage-state", "warning").rc == CRITICAL
        fake.mode("t", "ratelimit_seconds")
        assert run(*base, "--outage-state", "unknown").rc == WARNING
        # An answer that cannot be judged is not hidden behind a WARNING.
        fake.mode("t", "html200")
        r = run(*base, "--expires", days_from_now(20))
        assert r.rc == UNKNOWN, r
    run.assert_no_token()


def test_check_rate_limit_is_warning(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "rl", "mode": "ratelimit_seconds",
                                           "retry_after": 120}}))
        run = Runner(d)
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == WARNING, r
        state, text, perf = r.parsed()
        assert text == "the API is rate limiting (HTTP 429), Retry-After 120 s", r
        assert "token_valid" not in perf and perf["api_reachable"]["value"] == "1", r
        # A rate limit and a token close to its end: the worse one counts.
        r = run("--url", fake.url(), "--ca-cert", ca(), "--expires",
                days_from_now(2), env_token=TOKEN)
        assert r.rc == CRITICAL, r
    run.assert_no_token()


def test_check_rejected_token_is_critical(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "rev", "mode": "revoked"},
                                   OTHER: {"label": "forb", "mode": "forbidden"}}))
        run = Runner(d)
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == CRITICAL, r
        state, text, perf = r.parsed()
        assert text == ("the API rejected the token with HTTP 401 (User not "
                        "authenticated.): the token was revoked or has expired"), r
        assert perf["token_valid"]["value"] == "0" and perf["api_reachable"]["value"] == "1"
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=OTHER)
        assert r.rc == CRITICAL and "HTTP 403" in r.status, r
        # A working token of another user than --expect-user.
        fake.mode("rev", "ok")
        r = run("--url", fake.url(), "--ca-cert", ca(), "--expect-user",
                "someone@example.org", env_token=TOKEN)
        assert r.rc == CRITICAL, r
        assert r.parsed()[1] == ('the token works but belongs to another user, '
                                 'not "someone@example.org"'), r
        assert "rev@example.com" not in r.out, r
    run.assert_no_token()


def test_check_402_and_403_are_critical_in_their_own_words(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "plan", "mode": "payment_required"},
                                   OTHER: {"label": "forb", "mode": "forbidden"}}))
        run = Runner(d)
        for args in ((), ("--expires", days_from_now(100))):
            r = run("--url", fake.url(), "--ca-cert", ca(), *args,
                    env_token=TOKEN)
            assert r.rc == CRITICAL, r
            state, text, perf = r.parsed()
            assert text.startswith(
                "HTTP 402 (Payment Required): TelemetryDeck requires a paid "
                "plan for personal access tokens"), r
            assert perf["token_valid"]["value"] == "0", r
            assert "revoked" not in r.status and "expired" not in r.status, r
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=OTHER)
        assert r.rc == CRITICAL, r
        assert r.parsed()[1] == (
            "HTTP 403 (You do not have permission to access this resource.): "
            "the token is valid but not allowed this request (permissions or "
            "plan)"), r
        assert "revoked" not in r.status, r
    run.assert_no_token()


def test_check_unreachable_api_is_critical(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "down", "mode": "503_html"}}))
        selfsigned = s.start(FakeAPI(d, {TOKEN: {"label": "ss", "mode": "ok"}},
                                     cert="selfsigned", name="selfsigned"))
        run = Runner(d)
        # No answer at all.
        url = "https://127.0.0.1:%d/api/v3/users/info" % free_port()
        r = run("--url", url, "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == CRITICAL, r
        state, text, perf = r.parsed()
        assert text == "no answer from the API: connection refused", r
        assert perf == {"api_reachable": perf["api_reachable"]}, r
        assert perf["api_reachable"]["value"] == "0"
        # HTTP 5xx.
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == CRITICAL and r.parsed()[1] == "the API answered HTTP 503", r
        assert "<html" not in r.out.lower()
        # A hang past --timeout.
        fake.mode("down", "hang")
        r = run("--url", fake.url(), "--ca-cert", ca(), "--timeout", "1",
                env_token=TOKEN)
        assert r.rc == CRITICAL, r
        assert r.parsed()[1] == "no answer from the API: timeout after 1 s", r
        # A certificate the CA did not sign: the token never leaves.
        r = run("--url", selfsigned.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == CRITICAL, r
        assert "TLS verification failed" in r.parsed()[1], r
        assert selfsigned.stats()["requests"] == 0
    run.assert_no_token()


def test_check_unusable_answer_is_unknown(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "odd", "mode": "html200"}}))
        run = Runner(d)
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == UNKNOWN, r
        assert r.parsed()[1] == "the HTTP 200 answer is unusable: the body is not valid JSON", r
        fake.mode("odd", "custom", status=404, body='{"reason":"Not | Found"}')
        r = run("--url", fake.url(), "--ca-cert", ca(), env_token=TOKEN)
        assert r.rc == UNKNOWN, r
        assert r.parsed()[1] == "unexpected HTTP 404 from the API (Not / Found)", r
    run.assert_no_token()


def test_check_bad_usage_and_missing_token_are_unknown(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "use", "mode": "ok"}}, cert=None))
        run = Runner(d)
        url = fake.url()  # plain http to 127.0.0.1: allowed (loopback)
        tf = run.token_file()
        assert run("--url", url, "--token-file", tf).rc == OK
        cases = [
            (("--token", TOKEN), "--token is refused"),
            (("--token=" + TOKEN,), "--token is refused"),
            (("--url", url, TOKEN), "unexpected argument"),
            (("--url", url, "--tokn=" + TOKEN), "unknown or ambiguous option --tokn"),
            (("--bogus",), "unknown or ambiguous option --bogus"),
            (("-x",), "unknown option -x"),
            (("--url", url, "--verbose=1"), "option --verbose takes no value"),
            (("--url", url, "--allow-plaintext=yes"),
             "option --allow-plaintext takes no value"),
            (("--url", url, "--timeout"), "option --timeout needs a value"),
            (("--url", url, "--timeout", "-1"), "--timeout must be positive"),
            (("--url", url, "--timeout", "ten"), "--timeout must be a number"),
            (("--url", url, "--warning-days", "-1"),
             "--warning-days and --critical-days must satisfy "
             "--warning-days >= --critical-days >= 0"),
            (("--url", url, "-w", "5", "-c", "10"),
             "--warning-days and --critical-days must satisfy "
             "--warning-days >= --critical-days >= 0"),
            (("--url", url, "-w", "4000"), "--warning-days is out of range (at most 3660)"),
            (("--url", url, "--expires", "2027-02-30"), "--expires is not a date"),
            (("--url", "ftp://127.0.0.1/x"), "only http and https"),
            (("--url", "http://192.0.2.1/api/v3/users/info"), "--allow-plaintext allows it"),
            (("--url", url, "--ca-cert", os.path.join(d, "nonexistent.pem")),
             "--ca-cert is refused: it cannot be opened: No such file or directory"),
            (("--url", url, "--expect-user", ""), "--expect-user is empty"),
        ]
        for args, want in cases:
            r = run("--token-file", tf, *args)
            assert r.rc == UNKNOWN, (args, r)
            assert len(r.lines) == 1 and r.status.startswith("TELEMETRYDECK UNKNOWN - "), r
            assert want in r.status, (want, r)
            assert "--help" in r.err, r
        # Token problems: UNKNOWN, without the --help hint.
        missing = os.path.join(d, "no-such-file")
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)  # must be refused at once, not read (and hang)
        token_cases = [
            (("--token-file", missing), {}, "cannot open the token file: No such file or directory"),
            (("--token-file", d), {}, "the token file is not a regular file"),
            (("--token-file", fifo), {}, "the token file is not a regular file"),
            (("--token-file", run.token_file("empty", "\n")), {}, "the token is empty"),
            (("--token-file", run.token_file("two", TOKEN + "\n" + TOKEN + "\n")), {},
             "more than one line"),
            (("--token-file", run.token_file("big", "x" * 5000)), {}, "longer than 4096 bytes"),
            ((), {}, "no token: give --token-file FILE or set the environment variable TELEMETRYDECK_TOKEN"),
            ((), {"env_token": ""}, "no token"),
        ]
        for args, kw, want in token_cases:
            r = run("--url", url, *args, **kw)
            assert r.rc == UNKNOWN, (args, r)
            assert r.status.startswith("TELEMETRYDECK UNKNOWN - "), r
            assert want in r.status, (want, r)
            assert r.err == "", r
        # None of the refused runs reached the API.
        assert fake.label("use")["requests"] == 1, fake.stats()
        assert "tls_days_left" not in run("--url", url, "--token-file", tf).status
        assert fake.stats()["requests"] == 2, fake.stats()
        # "localhost" counts as loopback for plain http, as in the plugin.
        r = run("--url", "http://localhost:%d/api/v3/users/info" % fake.port,
                "--token-file", tf)
        assert r.rc == OK, r
    run.assert_no_token()


def test_check_expires_at_the_epoch_is_shown_as_that_date(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "epoch", "mode": "ok"}}))
        run = Runner(d)
        r = run("--url", fake.url(), "--ca-cert", ca(), "--expires",
                "1970-01-01", env_token=TOKEN)
        assert r.rc == CRITICAL, r
        assert r.parsed()[1] == ('token valid for "epoch@example.com"; the '
                                 'token expired on 1970-01-01T00:00:00Z'), r
    run.assert_no_token()


def test_check_help_and_version(d):
    run = Runner(d)
    r = run("--help")
    # UNKNOWN (3), as the monitoring-plugins guidelines and check_http have
    # it: --help checks nothing.
    assert r.rc == UNKNOWN and r.out.startswith("Usage: telemetrydeck-check"), r
    for opt in ("--token-file", "--url", "--timeout", "--ca-cert", "--expires",
                "--warning-days", "--critical-days", "--expect-user",
                "--verbose", "--allow-plaintext", "TELEMETRYDECK_TOKEN"):
        assert opt in r.out, opt
    r = run("--version")
    with open(os.path.join(TOP, "configure.ac")) as f:
        version = re.search(r"AC_INIT\(\[[^]]*\], \[([^]]*)\]", f.read()).group(1)
    assert r.rc == UNKNOWN, r
    assert r.lines[0] == "telemetrydeck-check (collectd-telemetrydeck) %s" % version, r


# --------------------------------------------------------------------------
# A hostile world: special files, a NUL or an invisible character in the
# token, Unicode controls from the API, TLS 1.1, --shape, a URL with a
# password.

class Run:
    """One run of the check, bytes as printed."""

    def __init__(self, args, env=None, token=TOKEN, timeout=20):
        env = clean_env(**(env or {}))
        env.pop("TELEMETRYDECK_TOKEN", None)
        if token is not None:
            env["TELEMETRYDECK_TOKEN"] = token
        p = subprocess.run([CHECK] + list(args), capture_output=True, env=env,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        self.text = (self.out + self.err).decode("utf-8", "replace")
        # Not splitlines(): it would also cut at U+2028 and U+0085.
        self.status = self.text.split("\n")[0]
        assert TOKEN.encode() not in self.out + self.err, self
        assert TOKEN[6:].encode() not in self.out + self.err, self

    def __repr__(self):
        return "rc=%d out=%r err=%r" % (self.rc, self.out, self.err)


def test_check_special_files_as_ca_cert_are_unknown_at_once(d):
    fifo, directory, big = special_files(d)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "sp", "mode": "ok"}}))
        for path in (fifo, "/dev/zero", directory, big):
            # A hang here raises TimeoutExpired: the check must not read a
            # FIFO or an endless file.
            r = Run(["--url", fake.url(), "--ca-cert", path], timeout=10)
            assert r.rc == UNKNOWN, (path, r)
            assert "--ca-cert" in r.status or "CA" in r.status, (path, r)
        assert fake.stats()["requests"] == 0


def test_check_nul_in_token_file_is_unknown_and_nothing_is_sent(d):
    tf = os.path.join(inputs(d), "nul.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, TOKEN.encode() + b"\0garbage\n")
    os.close(fd)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "nul", "mode": "ok"}}, cert=None))
        r = Run(["--url", fake.url(), "--token-file", tf], token=None)
        assert r.rc == UNKNOWN, r
        assert "control characters" in r.status or "more than one line" in \
            r.status, r
        assert fake.stats()["requests"] == 0, fake.stats()


def test_check_invisible_character_in_the_environment_token_is_unknown(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "paste", "mode": "ok"}}, cert=None))
        for pasted in (TOKEN + "\u00a0", TOKEN + "\u200b", "\ufeff" + TOKEN):
            r = Run(["--url", fake.url()], token=pasted)
            assert r.rc == UNKNOWN, r
            assert r.status == (
                "TELEMETRYDECK UNKNOWN - the token in TELEMETRYDECK_TOKEN "
                "holds a character outside printable ASCII, probably an "
                "invisible one pasted with it (no-break space, zero-width "
                "space, byte order mark)"), r
        assert fake.stats()["requests"] == 0, fake.stats()


def test_check_unicode_controls_from_the_api_never_reach_the_output(d):
    reason = "Token%sgone%sfor good" % (NASTY, NASTY)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "uc", "mode": "custom", "status": 401,
                                           "body": json.dumps({"error": True,
                                                               "reason": reason})}}))
        def no_controls(r):
            found = UNICODE_CONTROLS.findall(r.out + r.err)
            assert not found, (found, r)

        r = Run(["--url", fake.url(), "--ca-cert", ca(), "--verbose"])
        assert r.rc == CRITICAL, r
        no_controls(r)
        assert re.search(r"Token.*gone.*for good", r.status), r
        fake.mode("uc", "custom", body=json.dumps({"detail": reason}))
        r = Run(["--url", fake.url(), "--ca-cert", ca(), "-v"])
        assert r.rc == CRITICAL, r
        no_controls(r)
        assert re.search(r"Token.*gone.*for good", r.status), r
        fake.mode("uc", "ok", id="id%sx" % NASTY,
                  email="mail%s@example.org" % NASTY,
                  org_name="Evil%sCorp" % NASTY)
        r = Run(["--url", fake.url(), "--ca-cert", ca(), "--verbose"])
        assert r.rc == OK, r
        no_controls(r)
        assert re.search(r"account id: id.*x", r.text), r
        assert re.search(r"e-mail: mail.*@example\.org", r.text), r
        assert re.search(r"organization: Evil.*Corp", r.text), r


def test_check_server_speaking_only_tls_1_1_is_critical_without_request(d):
    with Stack() as s:
        old = s.start(FakeAPI(d, {TOKEN: {"label": "old", "mode": "ok"}}, tls_max="1.1",
                              name="old"))
        r = Run(["--url", old.url(), "--ca-cert", ca()])
        assert r.rc == CRITICAL, r
        assert "TLS" in r.status, r
        st = old.stats()
        assert st["requests"] == 0 and st["unknown_auth"] == 0, st


def test_check_shape_shows_the_structure_of_both_answers_and_no_value(d):
    orgs = [{"id": "org-secret-1", "name": "Acme Secret Corp",
             "usagePercentage": 42.5, "isInRestrictedMode": False,
             "resolvedMaxSignals": 100000, "apps": [{"id": "app-1"}]}]
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "shape", "mode": "ok",
                                           "id": "6F1E8A84-0C1D-4B5E-9F00-A1B2C3D4E5F6",
                                           "email": "private@example.org",
                                           "orgs": orgs}}, cert=None))
        r = Run(["--url", fake.url(), "--shape", "--organizations"])
        assert r.rc == OK, r
        lines = r.text.split("\n")
        assert lines[0].startswith("TELEMETRYDECK OK - "), r
        at = lines.index("shape of the users/info answer (no values):")
        users = lines[at + 1:lines.index(
            "shape of the organizations answer (no values):")]
        assert users[:3] == ["  HTTP/1.1 200",
                             "  header Content-Type: application/json; "
                             "charset=utf-8", "  $ object"], users
        for want in ("  $.id string", "  $.email string",
                     "  $.emailIsVerified boolean",
                     "  $.organization.name string",
                     "  $.receiveMarketingEmails null"):
            assert want in users, (want, users)
        org_lines = lines[lines.index(
            "shape of the organizations answer (no values):") + 1:]
        for want in ("  $ array (length 1)", "  $[].isInRestrictedMode boolean",
                     "  $[].usagePercentage number (within 0..1)",
                     "  $[].apps array (length 1)", "  $[].apps[].id string"):
            assert want in org_lines, (want, org_lines)
        for value in ("6F1E8A84", "private@example.org", "Acme", "org-secret",
                      "app-1", "42.5", "0.425", "100000"):
            assert value not in "\n".join(lines[1:]), (value, r)
        assert fake.label("shape")["paths"] == {
            "/api/v3/users/info": 1, "/api/v3/organizations": 1}, fake.stats()
        # A rejected token: the status and the error body's shape.
        fake.mode("shape", "revoked")
        r = Run(["--url", fake.url(), "--shape"])
        assert r.rc == CRITICAL, r
        assert r.text.split("\n")[1:6] == [
            "shape of the users/info answer (no values):", "  HTTP/1.1 401",
            "  header Content-Type: application/json; charset=utf-8",
            "  $ object", "  $.error boolean"], r
        for args, want in (
                (["--organizations"], "--organizations goes with --shape"),
                (["--shape", "--organizations", "--url",
                  fake.url(path="/api/v3/other")],
                 "--organizations needs a --url ending in /users/info")):
            r = Run(["--url", fake.url()] + args if "--url" not in args else args)
            assert r.rc == UNKNOWN and want in r.status, r


def test_check_url_with_user_or_password_is_refused_and_never_printed(d):
    """The twin of the plugin's URL refusal: --url with userinfo is UNKNOWN
    before any request, and neither the user nor the password is printed,
    with or without -v (Nagios keeps the output where its web UI shows
    it)."""
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "cred", "mode": "ok"}}))
        host = fake.url().split("://", 1)[1]
        for url, extra in (("https://alice:s3cretPW@%s" % host, ["-v"]),
                           ("https://alice:s3cretPW@%s" % host, []),
                           ("https://alice@%s" % host, ["-v"])):
            r = Run(["--url", url, "--ca-cert", ca()] + extra)
            assert r.rc == UNKNOWN, (url, r)
            assert r.status == ("TELEMETRYDECK UNKNOWN - --url is refused: it "
                                "holds a user name or password, which is "
                                "never sent (only the Bearer token is); "
                                "remove it"), r
            assert "s3cretPW" not in r.text and "alice" not in r.text, r
        assert fake.stats()["requests"] == 0

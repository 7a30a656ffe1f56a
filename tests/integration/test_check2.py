"""telemetrydeck-check in a hostile world: proxies, special files,
a NUL in the token file, Unicode controls from the API and a server that
speaks only TLS 1.1. The collectd side is in test_hostile2.py."""

import json
import os
import re
import subprocess

from harness import FakeAPI, FakeProxy, Stack, inputs
from test_check import CHECK, CRITICAL, OK, UNKNOWN, ca
from test_hostile2 import NASTY, PROXY_VARS, UNICODE_CONTROLS, clean_env

TOKEN = "tdpat_CHECK2SECRET_7f3a9c1e5b"


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


def test_check_no_proxy_variable_ever_carries_a_plain_http_request(d):
    with Stack() as s:
        proxy = s.start(FakeProxy(d))
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "env", "mode": "ok"}}, cert=None))
        cases = [{v: proxy.url()} for v in PROXY_VARS]
        cases.append({"http_proxy": proxy.url(), "no_proxy": "example.org"})
        cases.append({"ALL_PROXY": proxy.url(), "NO_PROXY": "other.example"})
        for env in cases:
            before = fake.label("env")["auth_ok"]
            r = Run(["--url", fake.url()], env=env)
            assert r.rc == OK, (env, r)
            assert fake.label("env")["auth_ok"] == before + 1, env
            assert proxy.requests() == [], (env, proxy.lines()[:10])
        assert proxy.headers("authorization") == []


def test_check_proxy_option_tunnels_https_and_refuses_a_plaintext_proxy(d):
    with Stack() as s:
        proxy = s.start(FakeProxy(d))
        fake = s.start(FakeAPI(d, {TOKEN: {"label": "px", "mode": "ok"}}))
        plain = s.start(FakeAPI(d, {TOKEN: {"label": "plain", "mode": "ok"}}, cert=None,
                                name="plain"))
        password = "pw0rdK7yU"
        r = Run(["--url", fake.url(), "--ca-cert", ca(), "--proxy",
                 proxy.url("user:" + password)])
        assert r.rc == OK, r
        assert password not in r.text
        reqs = proxy.requests()
        assert reqs and all(x.startswith("CONNECT 127.0.0.1:%d " % fake.port)
                            for x in reqs), reqs
        assert proxy.headers("authorization") == []
        assert fake.label("px")["auth_ok"] == 1
        # --proxy "": either refused as empty, or no proxy at all, as the
        # plugin's Proxy "" (the environment's proxies are then not used).
        n = len(proxy.requests())
        r = Run(["--url", fake.url(), "--ca-cert", ca(), "--proxy", ""],
                env={v: proxy.url() for v in PROXY_VARS})
        assert r.rc == OK or (r.rc == UNKNOWN and "proxy" in r.status), r
        assert len(proxy.requests()) == n, proxy.requests()
        # An http proxy for a plain-http URL would read the token: refused.
        r = Run(["--url", plain.url(), "--proxy", proxy.url()])
        assert r.rc == UNKNOWN, r
        assert "proxy" in r.status.lower(), r
        assert plain.stats()["requests"] == 0
        assert len(proxy.requests()) == n
        # Schemes other than http, https and socks5h: refused.
        r = Run(["--url", fake.url(), "--ca-cert", ca(), "--proxy",
                 "ftp://127.0.0.1:%d" % proxy.port])
        assert r.rc == UNKNOWN and "proxy" in r.status.lower(), r
    with open(proxy.logfile) as f:
        assert TOKEN not in f.read()


def test_check_special_files_as_ca_cert_are_unknown_at_once(d):
    fifo = os.path.join(inputs(d), "ca.fifo")
    os.mkfifo(fifo)
    directory = os.path.join(inputs(d), "adir")
    os.makedirs(directory)
    big = os.path.join(inputs(d), "big.pem")
    with open(ca(), "rb") as c:
        pem = c.read()
    with open(big, "wb") as f:
        f.write(pem * (2 * 1024 * 1024 // len(pem) + 1))
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

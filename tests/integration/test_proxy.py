"""Proxies, for the plugin and for telemetrydeck-check: a proxy variable of
the environment never carries a plain-http poll, the Proxy option (and
--proxy) tunnels https and is logged once without its credentials, and a
proxy that would see the token in the clear is refused. Each collectd test
runs, where it can, a healthy account beside the others that must keep
polling.
"""

import os
import re

from harness import (PROXY_VARS, SEVERITY, Collectd, FakeAPI, FakeProxy,
                     Stack, account, assert_refused, clean_env,
                     free_port, level_lines, wait_for)
from test_check import OK, TOKEN, UNKNOWN, Run
from test_core import ca, check_clean
from test_hostile import assert_healthy_kept_polling

SECRET = "Jq4Vm8Xe5"  # part of every test token, so a leak of any is found
INTERVAL = 0.5
TIMEOUT = 0.4


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


# --------------------------------------------------------------------------
# The plugin.

def test_no_proxy_variable_ever_carries_a_plain_http_poll(d):
    """Each proxy variable (and one with no_proxy beside it) in collectd's
    environment, a plain-http loopback URL: the polls go direct, the proxy
    sees nothing, least of all an Authorization header."""
    with Stack() as s:
        proxy = s.start(FakeProxy(d))
        cases = [(v, {v: proxy.url()}) for v in PROXY_VARS]
        cases.append(("no_proxy", {"http_proxy": proxy.url(),
                                   "no_proxy": "example.org"}))
        cases.append(("NO_PROXY", {"ALL_PROXY": proxy.url(),
                                   "NO_PROXY": "other.example"}))
        labels = ["env_%s" % n for n, _ in cases]
        fake = s.start(FakeAPI(d, {tok(l): {"label": l, "mode": "ok"}
                                   for l in labels}, cert=None))
        daemons = []
        for (n, env), label in zip(cases, labels):
            sub = os.path.join(d, label)
            os.makedirs(sub)
            daemons.append(s.start(Collectd(
                sub, account(label, fake.url(), tok(label), Interval=INTERVAL,
                             Timeout=TIMEOUT),
                interval=INTERVAL, env=clean_env(**env))))
        def all_polled():
            st = fake.stats()["labels"]
            return all(st[l]["auth_ok"] >= 3 for l in labels)
        wait_for(all_polled, 15, 0.2)
        st = fake.stats()["labels"]
        for (n, _), label, cd in zip(cases, labels, daemons):
            assert st[label]["auth_ok"] >= 3, (n, st[label], cd.log()[-1500:])
            assert cd.last(label, "bool-token_valid") == 1, n
        assert proxy.headers("authorization") == [], proxy.lines()[:20]
        assert proxy.requests() == [], proxy.requests()[:10]
    for cd in daemons:
        check_clean(d, cd, SECRET)


def test_proxy_option_tunnels_https_and_is_logged_once_without_credentials(d):
    with Stack() as s:
        proxy = s.start(FakeProxy(d))
        fake = s.start(FakeAPI(d, {tok("via"): {"label": "via", "mode": "ok"}},
                               name="fake"))
        direct = s.start(FakeAPI(d, {tok("direct"): {"label": "direct", "mode": "ok"}},
                                 name="direct"))
        password = "pw0rdQ9zT"
        block = "\n".join([
            account("via", fake.url(), tok("via"), CACert=ca(), Interval=INTERVAL,
                    Timeout=TIMEOUT, Proxy=proxy.url("user:" + password)),
            # Proxy "": direct, though every variable names the proxy.
            account("direct", direct.url(), tok("direct"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT, Proxy=""),
        ])
        env = clean_env(**{v: proxy.url() for v in PROXY_VARS})
        cd = s.start(Collectd(d, block, interval=INTERVAL, env=env, extra=SEVERITY))
        assert wait_for(lambda: len(cd.values("via", "bool-token_valid")) >= 3
                        and len(cd.values("direct", "bool-token_valid")) >= 3,
                        15), cd.log()[-3000:]
        assert all(v == 1 for _, v in cd.values("via", "bool-token_valid"))
        assert fake.label("via")["auth_ok"] >= 3
        reqs = proxy.requests()
        assert any(r.startswith("CONNECT 127.0.0.1:%d " % fake.port)
                   for r in reqs), reqs
        assert not any(str(direct.port) in r for r in reqs), reqs
        assert proxy.headers("authorization") == [], proxy.lines()[:20]
        assert direct.label("direct")["auth_ok"] >= 3
        # Said once, at INFO, without the proxy's user and password.
        used = cd.log_lines(r'telemetrydeck plugin: account "via": using proxy')
        assert len(used) == 1, used
        assert "[info]" in used[0] and re.search(
            r'account "via": using proxy http://127\.0\.0\.1:%d\b'
            % proxy.port, used[0]), used
        assert not cd.log_lines(r'account "direct": using proxy'), cd.log()
        assert password not in cd.log() and "user:" not in cd.log()
    check_clean(d, cd, SECRET, password)


def test_proxy_that_would_see_the_token_in_the_clear_is_refused(d):
    with Stack() as s:
        proxy = s.start(FakeProxy(d))
        fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"},
                                   tok("clear"): {"label": "clear", "mode": "ok"}},
                               cert=None))
        # Plain http through an explicit http proxy: only with AllowPlaintext.
        # Its token is not one of ours: the proxy logs it, as a proxy may.
        allowed_token = "tdpat_allowedplain_0001"
        fake_tls = s.start(FakeAPI(d, {tok("socks"): {"label": "socks", "mode": "ok"}},
                                   name="tls"))
        assert_refused(d, account("clear", fake.url(), tok("clear"),
                                  Interval=INTERVAL, Timeout=TIMEOUT,
                                  Proxy=proxy.url()),
                       "clear", "option Proxy", "is refused")
        assert_refused(d, account("bad_scheme", fake.url(), tok("bad_scheme"),
                                  Interval=INTERVAL, Timeout=TIMEOUT,
                                  Proxy="ftp://127.0.0.1:%d" % proxy.port),
                       "bad_scheme", "option Proxy")
        block = "\n".join([
            account("good", fake.url(), tok("good"), Interval=INTERVAL,
                    Timeout=TIMEOUT),
            account("allowed", fake.url(), allowed_token, Interval=INTERVAL,
                    Timeout=TIMEOUT, Proxy=proxy.url(), AllowPlaintext=True),
            # socks5h is accepted (nothing listens there: the poll fails).
            account("socks", fake_tls.url(), tok("socks"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT,
                    Proxy="socks5h://127.0.0.1:%d" % free_port()),
        ])
        cd = s.start(Collectd(d, block, interval=INTERVAL, extra=SEVERITY,
                              env=clean_env()))
        wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 4, 10)
        assert fake.label("clear").get("requests", 0) == 0
        assert not level_lines(cd, "error", "allowed"), cd.log()[-2000:]
        assert not level_lines(cd, "error", "socks"), cd.log()[-2000:]
        assert wait_for(lambda: cd.values("socks", "bool-api_reachable"), 5)
        assert fake_tls.stats()["requests"] == 0
        assert not any(tok("clear") in h or tok("good") in h
                       for h in proxy.headers("authorization"))
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# telemetrydeck-check.

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

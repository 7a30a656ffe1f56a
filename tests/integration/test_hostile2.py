"""A hostile world, round 2: proxies, colliding organizations,
special files, a NUL in a token file, Unicode controls, unchecked bounds,
outdated TLS, huge headers and what the token's lifetime tells us. Each
test runs the real collectd (telemetrydeck-check's side is in
test_check2.py) and, where it can, a healthy account beside the hostile
ones that must keep polling.
"""

import datetime
import json
import os
import re
import time

from harness import Collectd, FakeAPI, FakeProxy, account, inputs, wait_for
from harness import Stack, free_port, refused
from test_core import ca, check_clean, severities
from test_hostile import assert_healthy_kept_polling, loopback_dns_wrapper

SECRET = "Jq4Vm8Xe5"  # part of every test token, so a leak of any is found
INTERVAL = 0.5
TIMEOUT = 0.4
# Makes the log say which lines are errors and which are warnings.
SEVERITY = "<Plugin logfile>\n  PrintSeverity true\n</Plugin>"

# Every environment variable libcurl takes a proxy from.
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
              "all_proxy", "ALL_PROXY")
# ... and those that name exceptions.
NO_PROXY_VARS = ("no_proxy", "NO_PROXY")

# The code points that must never reach a log line, a
# notification or the check's output, as UTF-8 bytes: C1 controls
# (U+0080..U+009F), U+2028/U+2029, bidirectional embeddings and overrides
# (U+202A..U+202E) and isolates (U+2066..U+2069).
UNICODE_CONTROLS = re.compile(
    rb"\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]|\xe2\x81[\xa6-\xa9]")
NASTY = "\u0085\u009b\u2028\u2029\u202a\u202e\u2066\u2067\u2068\u2069"


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


def clean_env(**more):
    """This process's environment without any proxy variable, plus more."""
    env = {k: v for k, v in os.environ.items()
           if k not in PROXY_VARS + NO_PROXY_VARS}
    env.update(more)
    return env


def level_lines(cd, level, name):
    """The plugin's lines of one level ("error", "warning", "info") about
    account name; the log must be made with SEVERITY."""
    return [l.split("] telemetrydeck plugin: ", 1)[1] for l in cd.log_lines(
        r'\[%s\] telemetrydeck plugin: account "%s"' % (level, re.escape(name)))]


def assert_refused(d, block, name, *needles):
    """collectd refuses a configuration holding block, with one ERROR about
    account name holding every needle."""
    refused(d, block, 'account "%s": ' % name, *needles)


def idents(cd, name, prefix):
    """The csv identifiers (type-type_instance) of account name that start
    with prefix."""
    d = os.path.join(cd.csv, "testhost", "telemetrydeck-" + name)
    out = set()
    for fn in os.listdir(d) if os.path.isdir(d) else []:
        m = re.fullmatch(r"(.*)-\d{4}-\d\d-\d\d", fn)
        if m and m.group(1).startswith(prefix):
            out.add(m.group(1))
    return out


def org(oid, name, usage, restricted):
    return {"id": oid, "name": name, "usagePercentage": usage,
            "isInRestrictedMode": restricted, "resolvedMaxSignals": 100000}


def days_from_now(days, fmt="%Y-%m-%d"):
    when = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=days)
    return when.strftime(fmt)


# --------------------------------------------------------------------------
# 1. Proxies.

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
# 2. Organizations whose names clean up to the same identifier.

COLLIDING = [
    # (account, organizations, identifier prefix)
    ("acme", [org("A-1", "Acme Inc", 10, False),
              org("B-2", "Acme-Inc", 99.5, True)], "Acme_Inc"),
    # Cyrillic: every byte becomes '_', five letters each.
    ("cyr", [org("C-1", "Альфа", 20, False),
             org("C-2", "Омега", 30, True)], ""),
    # Alike in the first 63 bytes.
    ("long", [org("L-1", "X" * 63 + "one", 40, False),
              org("L-2", "X" * 63 + "two", 50, True)], "X" * 40),
]


def _org_scene(s, d, wrapper=None):
    """The fake and collectd of COLLIDING, started on the Stack s."""
    fake = s.start(FakeAPI(d, {tok(n): {"label": n, "mode": "ok", "orgs": orgs}
                               for n, orgs, _ in COLLIDING}))
    block = "\n".join(account(n, fake.url(), tok(n), CACert=ca(),
                              Interval=INTERVAL, Timeout=TIMEOUT,
                              CollectOrganizations=True,
                              OrganizationsInterval=1)
                      for n, _, _ in COLLIDING)
    return fake, s.start(Collectd(d, block, interval=INTERVAL))


def test_colliding_organization_names_each_get_their_own_stable_identifier(d):
    seen = {}
    with Stack() as s:
        fake, cd = _org_scene(s, d)
        def orgs_polls(n):
            return fake.label(n)["paths"].get("/api/v3/organizations", 0)
        assert wait_for(lambda: all(orgs_polls(n) >= 3 for n, _, _ in COLLIDING),
                        15, 0.2), fake.stats()
        time.sleep(0.5)
        for name, orgs, prefix in COLLIDING:
            usage = idents(cd, name, "gauge-usage_percent-" + prefix)
            restricted = idents(cd, name, "bool-restricted_mode-" + prefix)
            assert len(usage) == 2 and len(restricted) == 2, (
                name, usage, restricted, cd.log()[-2000:])
            values = sorted(cd.last(name, i) for i in usage)
            assert values == sorted(o["usagePercentage"] for o in orgs), (
                name, values)
            flags = {i: cd.last(name, i) for i in restricted}
            assert sorted(flags.values()) == [0, 1], (name, flags)
            # The restricted one's FAILURE names its own identifier.
            bad = [i for i, v in flags.items() if v == 1][0]
            notes = [n for n in cd.notes(name) if n["severity"] == "FAILURE"]
            assert [n["type_instance"] for n in notes] == [
                bad[len("bool-"):]], (name, notes, flags)
            assert notes[0]["type"] == "bool"
            seen[name] = usage | restricted
        # Each organizations poll wrote the same identifiers.
        polls = {n: orgs_polls(n) for n, _, _ in COLLIDING}
        assert wait_for(lambda: all(orgs_polls(n) >= polls[n] + 2
                                    for n, _, _ in COLLIDING), 10, 0.2)
        for name, _, _ in COLLIDING:
            now = idents(cd, name, "gauge-usage_percent-") | idents(
                cd, name, "bool-restricted_mode-")
            assert now == seen[name], (name, now, seen[name])
            for i in seen[name]:
                assert len(cd.values(name, i)) >= 4, (name, i)
    check_clean(d, cd, SECRET)
    # A restart finds the same identifiers (same csv directory).
    first = cd
    with Stack() as s:
        fake, cd = _org_scene(s, d)
        assert wait_for(lambda: all(
            fake.label(n)["paths"].get("/api/v3/organizations", 0) >= 2
            for n, _, _ in COLLIDING), 15, 0.2)
        time.sleep(0.5)
        for name, _, _ in COLLIDING:
            now = idents(cd, name, "gauge-usage_percent-") | idents(
                cd, name, "bool-restricted_mode-")
            assert now == seen[name], (name, now, seen[name])
    check_clean(d, cd, SECRET)
    assert first is not cd


def test_more_organizations_than_the_cap_warn_once_not_at_every_poll(d):
    orgs = [org("id-%02d" % i, "Org %02d" % i, i, False) for i in range(40)]
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("many"): {"label": "many", "mode": "ok",
                                                 "orgs": orgs}}))
        cd = s.start(Collectd(d, account("many", fake.url(), tok("many"), CACert=ca(),
                                         Interval=INTERVAL, Timeout=TIMEOUT,
                                         CollectOrganizations=True,
                                         OrganizationsInterval=INTERVAL),
                              interval=INTERVAL))
        assert wait_for(lambda: fake.label("many")["paths"].get(
            "/api/v3/organizations", 0) >= 5, 15, 0.2), fake.stats()
        time.sleep(0.3)
        lines = cd.log_lines("organizations are reported")
        assert len(lines) == 1, lines
        assert 'account "many"' in lines[0], lines
        assert len(idents(cd, "many", "gauge-usage_percent-")) == 32
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# 3. Special files.

def test_special_files_as_ca_cert_or_token_file_are_refused_and_stop_is_clean(d):
    fifo = os.path.join(inputs(d), "ca.fifo")
    os.mkfifo(fifo)
    tfifo = os.path.join(inputs(d), "token.fifo")
    os.mkfifo(tfifo)
    big = os.path.join(inputs(d), "big.pem")
    with open(big, "wb") as f:
        with open(ca(), "rb") as c:
            pem = c.read()
        f.write(pem * (2 * 1024 * 1024 // len(pem) + 1))  # > 2 MiB
    directory = os.path.join(inputs(d), "adir")
    os.makedirs(directory)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok(n): {"label": n, "mode": "ok"} for n in (
            "good", "ca_fifo", "ca_zero", "ca_dir", "ca_big")}))
        cacerts = [("ca_fifo", fifo), ("ca_zero", "/dev/zero"),
                   ("ca_dir", directory), ("ca_big", big)]
        tokenfiles = [("tf_fifo", tfifo), ("tf_zero", "/dev/zero"),
                      ("tf_dir", directory)]
        block = [account("good", fake.url(), tok("good"), CACert=ca(),
                         Interval=INTERVAL, Timeout=TIMEOUT)]
        for name, path in cacerts:
            line = refused(d, account(name, fake.url(), tok(name), CACert=path,
                                      Interval=INTERVAL, Timeout=TIMEOUT),
                           'account "%s": option CACert' % name)
            assert "is not a regular file" in line or "is larger than" in line, line
        block += [account(n, fake.url(), token_file=p, CACert=ca(),
                          Interval=INTERVAL, Timeout=TIMEOUT)
                  for n, p in tokenfiles]
        cd = Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY)
        # Within 5 s of SIGTERM, or SIGKILL: held below.
        s.callback(cd.stop, timeout=5)
        wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 5, 10)
        for name, path in cacerts:
            assert fake.label(name).get("requests", 0) == 0, name
        for name, path in tokenfiles:
            errs = level_lines(cd, "error", name)
            assert any("TokenFile" in e and path in e for e in errs), (
                name, errs)
            assert cd.values(name, "bool-token_valid") == [], name
        assert fake.stats()["unknown_auth"] == 0
        assert_healthy_kept_polling(cd, "good")
    assert not cd.killed, "collectd needed SIGKILL:\n" + cd.log()[-2000:]
    assert cd.proc.returncode == 0, cd.proc.returncode
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# 4. A NUL in a TokenFile.

def test_nul_in_token_file_is_refused_not_cut(d):
    tf = os.path.join(inputs(d), "nul.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, tok("nul").encode() + b"\0garbage\n")
    os.close(fd)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("nul"): {"label": "nul", "mode": "ok"},
                                   tok("good"): {"label": "good", "mode": "ok"}}))
        block = "\n".join([
            account("good", fake.url(), tok("good"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT),
            account("nul", fake.url(), token_file=tf, CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT)])
        cd = s.start(Collectd(d, block, interval=INTERVAL, extra=SEVERITY))
        wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 5, 10)
        errs = level_lines(cd, "error", "nul")
        assert len(errs) >= 1 and any(
            "holds more than one line or control characters" in e and tf in e
            for e in errs), (errs, cd.log()[-2000:])
        assert fake.label("nul")["requests"] == 0, fake.label("nul")
        assert fake.stats()["unknown_auth"] == 0
        assert cd.values("nul", "bool-token_valid") == []
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# 5. Unicode controls from the API.

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
# 6. Bounds.

def test_interval_below_one_second_is_refused_unless_the_url_is_loopback(d):
    # The refused account's URL is never contacted: collectd runs with DNS
    # confined to 127.0.0.1 (nothing answers there), and the name is
    # .invalid all the same.
    wrapper = loopback_dns_wrapper(d)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("fast"): {"label": "fast", "mode": "ok"}}))
        assert_refused(d, account("hammer",
                                  "https://no-such-host.invalid/api/v3/users/info",
                                  tok("hammer"), Interval=0.001, Timeout=0.001),
                       "hammer", "option Interval")
        block = account("fast", fake.url(), tok("fast"), CACert=ca(), Interval=0.5,
                        Timeout=0.4)
        cd = s.start(Collectd(d, block, interval=1, extra=SEVERITY, wrapper=wrapper))
        assert wait_for(lambda: len(cd.values("fast", "bool-token_valid")) >= 4,
                        10), cd.log()[-2000:]
        assert not level_lines(cd, "error", "fast"), cd.log()
        assert not cd.log_lines(r'account "hammer": no answer'), cd.log()
        assert len(cd.log().splitlines()) < 100, "%d lines" % len(
            cd.log().splitlines())
    check_clean(d, cd, SECRET)


class Num:
    """A number written as given: collectd's config parser reads "1e+300"
    as two values, so huge numbers are written out in digits."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


E300 = Num("1" + "0" * 300)

BOUNDS = [
    # account, options, the option the ERROR must name
    ("huge_interval", dict(Interval=20000000000), "option Interval"),
    ("huge_timeout", dict(Timeout=E300), "option Timeout"),
    ("huge_warning_days", dict(ExpiryWarningDays=E300),
     "option ExpiryWarningDays"),
    ("huge_tls_days", dict(TLSExpiryWarningDays=E300),
     "option TLSExpiryWarningDays"),
    ("huge_orgs_interval", dict(CollectOrganizations=True,
                                OrganizationsInterval=Num("1000000000000")),
     "option OrganizationsInterval"),
    ("huge_unreachable", dict(UnreachableAfter=Num("1000000000000")),
     "option UnreachableAfter"),
]


def test_numbers_collectd_cannot_represent_are_refused_naming_the_option(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok(n): {"label": n, "mode": "ok"}
                                   for n in ["good"] + [b[0] for b in BOUNDS]}))
        block = [account("good", fake.url(), tok("good"), CACert=ca(),
                         Interval=INTERVAL, Timeout=TIMEOUT)]
        for name, opts, option in BOUNDS:
            o = dict(CACert=ca())
            o.update(opts)
            assert_refused(d, account(name, fake.url(), tok(name), **o), name,
                           option)
        cd = s.start(Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY))
        wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 4, 10)
        for name, _, _ in BOUNDS:
            assert fake.label(name).get("requests", 0) == 0, name
        # collectd's own interval is untouched.
        assert_healthy_kept_polling(cd, "good")
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# 7. TLS 1.2 at least.

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
# 8. Headers too large.

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
# 9. What the token's lifetime tells us.

def test_token_expires_more_than_a_year_ahead_warns_and_keeps_polling(d):
    far = days_from_now(400)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("far"): {"label": "far", "mode": "ok"}}))
        cd = s.start(Collectd(d, account("far", fake.url(), tok("far"), CACert=ca(),
                                         Interval=INTERVAL, Timeout=TIMEOUT,
                                         TokenExpires=far),
                              interval=INTERVAL, extra=SEVERITY))
        assert wait_for(lambda: len(cd.values("far", "bool-token_valid")) >= 4,
                        10), cd.log()[-2000:]
        warns = [w for w in level_lines(cd, "warning", "far")
                 if "option TokenExpires" in w]
        assert len(warns) == 1 and far in warns[0], (warns, cd.log())
        assert not level_lines(cd, "error", "far")
        assert_healthy_kept_polling(cd, "far")
    check_clean(d, cd, SECRET)


def test_rejected_token_says_expired_after_token_expires_and_revoked_before(d):
    past = "2020-01-01"
    future = days_from_now(100)
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("gone"): {"label": "gone", "mode": "revoked"},
                                   tok("cut"): {"label": "cut", "mode": "revoked"}}))
        block = "\n".join([
            account("gone", fake.url(), tok("gone"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT, TokenExpires=past),
            account("cut", fake.url(), tok("cut"), CACert=ca(),
                    Interval=INTERVAL, Timeout=TIMEOUT, TokenExpires=future)])
        cd = s.start(Collectd(d, block, interval=INTERVAL))
        assert wait_for(lambda: cd.notes("gone", "token_valid")
                        and cd.notes("cut", "token_valid"), 10), cd.log()
        gone = cd.notes("gone", "token_valid")
        assert severities(gone) == ["FAILURE"], gone
        assert "expired on %s" % past in gone[0]["message"], gone
        assert "revoked" not in gone[0]["message"], gone
        cut = cd.notes("cut", "token_valid")
        assert severities(cut) == ["FAILURE"], cut
        assert "was revoked" in cut[0]["message"], cut
        assert "expired" not in cut[0]["message"], cut
    check_clean(d, cd, SECRET)


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

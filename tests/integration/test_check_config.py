"""telemetrydeck-check --config FILE, the pre-flight: it reads the same
accounts from a collectd configuration as the real collectd does, refuses
what the plugin refuses with the plugin's words, and polls each account
once, exiting with the worst state."""

import datetime
import glob
import os
import re
import subprocess

from harness import (OUR_PLUGIN, ConfigCheck, FakeAPI, Stack,
                     account,
                     files_containing, free_port, inputs)
from test_check import CHECK, CRITICAL, OK, UNKNOWN, WARNING
from test_config import shipped_configurations
from test_core import ca

SECRET = "Pf7Lq2Wd9"
LINE_RE = re.compile(r'^account "(?P<name>[^"]*)": '
                     r'(?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>.*)$')


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


class Preflight:
    """telemetrydeck-check --config path; net: "none" runs it in a network
    namespace of its own (nothing leaves the machine), "host" on loopback
    servers of the test."""

    def __init__(self, path, net="host", timeout=60):
        cmd = [CHECK, "--config", path]
        if net == "none":
            cmd = ["unshare", "--net", "--"] + cmd
        env = {k: v for k, v in os.environ.items()
               if k != "TELEMETRYDECK_TOKEN"}
        r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        self.rc, self.out, self.err = r.returncode, r.stdout, r.stderr
        self.lines = self.out.splitlines()
        self.accounts = {}
        self.order = []
        for line in self.lines[1:]:
            m = LINE_RE.match(line)
            if m:
                self.accounts.setdefault(m["name"], []).append(
                    (m["state"], m["text"]))
                self.order.append(m["name"])

    def state(self, name):
        return self.accounts[name][0][0]

    def text(self, name):
        return self.accounts[name][0][1]

    def __repr__(self):
        return "rc=%d stdout=%r stderr=%r" % (self.rc, self.out, self.err)


def collectd_accounts(c):
    """The accounts collectd -T polled: those its log names (in a network
    namespace of its own, each first poll fails with a line naming the
    account), and the plugin instances it dispatched under
    csv/HOST/telemetrydeck-NAME (-T may stop before they are written)."""
    logged = re.findall(r'telemetrydeck plugin: account "([^"]+)": ', c.log)
    csv = [os.path.basename(p)[len("telemetrydeck-"):]
           for p in glob.glob(os.path.join(os.path.dirname(c.conf), "..", "csv",
                                           "testhost", "telemetrydeck-*"))]
    return sorted(set(logged) | set(csv))


def run_both(sub, text, debian=()):
    """collectd -T and the pre-flight on the same collectd.conf, both in a
    network namespace of their own."""
    c = ConfigCheck(sub, text + "\n", debian=debian)
    p = Preflight(c.conf, net="none")
    return c, p


def assert_no_token(d, p, *tokens):
    leaks = [t for t in tokens if t in p.out or t in p.err]
    assert not leaks, "token printed: %r" % p
    assert not files_containing(d, tokens)


def test_config_finds_the_accounts_collectd_finds(d):
    """Every file of conf/ and every example of the man page: the accounts
    --config prints are the accounts collectd -T polled, and neither finds
    a configuration error."""
    seen = 0
    for name, sub, text, debian in shipped_configurations(d):
        c, p = run_both(sub, text, debian)
        assert c.accepted and c.lines("error") == [], (name, c)
        want = collectd_accounts(c)
        assert sorted(p.accounts) == want, (name, want, p)
        if want:
            seen += 1
            assert "collectd refuses" not in p.lines[0], (name, p)
            # No network here: each account's one poll fails, and says so.
            for acct in want:
                assert p.state(acct) == "CRITICAL", (name, p)
            assert p.rc == CRITICAL, (name, p)
        else:
            assert p.rc == UNKNOWN and "no <Account>" in p.out, (name, p)
    assert seen >= 3, seen  # conf/telemetrydeck.conf and the man page


def test_config_error_names_the_account_and_option_as_the_plugin(d):
    """A typo in one account: collectd refuses the file with the plugin's
    ERROR, and --config prints the same words for that account, exits
    UNKNOWN, and still polls the good account."""
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"}}))
        cases = {
            "typo": 'TokenExpire "2030-01-01"',
            "quoted": 'Timeout "5"',
            "badurl": 'URL "ftp://example.net/x"',
        }
        for name, line in cases.items():
            sub = os.path.join(d, name)
            os.makedirs(sub)
            bad = ('  <Account "%s">\n    Token "%s"\n    %s\n  </Account>'
                   % (name, tok(name), line))
            good = account("good", fake.url(), tok("good"), CACert=ca(),
                           Timeout=5)
            text = OUR_PLUGIN % (good + "\n" + bad)
            c = ConfigCheck(sub, text + "\n", interval=10)
            errs = c.lines("error")
            assert c.rc != 0 and len(errs) == 1, (name, c)
            assert errs[0].startswith('account "%s": ' % name), (name, c)
            words = errs[0][len('account "%s": ' % name):].rstrip(".")
            p = Preflight(c.conf)
            assert p.rc == UNKNOWN, (name, p)
            assert p.state(name) == "UNKNOWN", (name, p)
            assert p.text(name).startswith(words + " ("), (name, words, p)
            assert "collectd refuses this configuration" in p.lines[0], p
            # The good one is polled all the same (the fake is on loopback;
            # collectd's own run had no network).
            assert p.state("good") == "OK", (name, p)
            assert_no_token(d, p, tok(name), tok("good"))


def days_from_now(days):
    when = (datetime.datetime.now(datetime.timezone.utc) +
            datetime.timedelta(days=days))
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def write(d, name, text):
    path = os.path.join(inputs(d), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_exit_status_is_the_worst_account(d):
    """Against the fake API: a good token alone is OK; a near expiry is a
    WARNING; a revoked token or an unreachable API is CRITICAL, each on
    its own line, the others untouched."""
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"},
                                   tok("revoked"): {"label": "revoked", "mode": "revoked"}}))
        dead = "https://127.0.0.1:%d/api/v3/users/info" % free_port()
        good = account("good", fake.url(), tok("good"), CACert=ca(), Timeout=5)
        near = account("near", fake.url(), tok("good"), CACert=ca(), Timeout=5,
                       TokenExpires=days_from_now(20))
        revoked = account("revoked", fake.url(), tok("revoked"), CACert=ca(),
                          Timeout=5)
        down = account("down", dead, tok("good"), CACert=ca(), Timeout=2)
        p = Preflight(write(d, "good.conf", OUR_PLUGIN % good))
        assert p.rc == OK and p.state("good") == "OK", p
        assert re.match(r'token valid for "[^"]+"$', p.text("good")), p
        assert p.lines[0].startswith("TELEMETRYDECK OK - 1 account in "), p
        p = Preflight(write(d, "near.conf", OUR_PLUGIN % "\n".join(
            [good, near])))
        assert p.rc == WARNING and p.state("near") == "WARNING", p
        assert "the token expires in 20.0 days" in p.text("near") or \
            "the token expires in 19.9 days" in p.text("near"), p
        p = Preflight(write(d, "all.conf", OUR_PLUGIN % "\n".join(
            [good, near, revoked, down])))
        assert p.rc == CRITICAL, p
        assert p.order == ["good", "near", "revoked", "down"], p
        assert [p.state(n) for n in p.order] == \
            ["OK", "WARNING", "CRITICAL", "CRITICAL"], p
        assert "HTTP 401" in p.text("revoked"), p
        assert "connection refused" in p.text("down"), p
        assert p.lines[0].startswith(
            "TELEMETRYDECK CRITICAL - 4 accounts in "), p
        assert "collectd refuses" not in p.lines[0], p
        assert_no_token(d, p, tok("good"), tok("revoked"))


def test_config_follows_include_globs_as_collectd_does(d):
    """Include "DIR/*.conf" (sorted, a file of only the plugin's block) and
    <Include "DIR2"> Filter "*.conf": --config finds the accounts collectd
    finds, in collectd's order, and skips what collectd skips."""
    one = os.path.join(inputs(d), "conf.d")
    two = os.path.join(inputs(d), "more.d")
    os.makedirs(one)
    os.makedirs(two)
    block = '<Plugin telemetrydeck>\n%s\n</Plugin>\n'
    for where, fn, name in ((one, "20-b.conf", "b"), (one, "10-a.conf", "a"),
                            (one, "30-c.txt", "not_c"),
                            (two, "x.conf", "x"), (two, "y.off", "not_y"),
                            (two, ".hidden.conf", "not_hidden")):
        with open(os.path.join(where, fn), "w") as f:
            f.write(block % account(name, "https://127.0.0.1:1/api/v3/users/info",
                                    tok(name)))
    text = ('LoadPlugin telemetrydeck\nInclude "%s/*.conf"\n'
            '<Include "%s">\n  Filter "*.conf"\n</Include>\n'
            'Include "%s/nothing-*.conf"\n' % (one, two, one))
    c, p = run_both(d, text)
    assert c.accepted and c.lines("error") == [], c
    assert collectd_accounts(c) == ["a", "b", "x"], c
    assert p.order == ["a", "b", "x"], p
    assert re.findall(r'account "(\w+)": no answer', c.log) == p.order, c
    # A file that holds only the block, given on its own.
    p = Preflight(os.path.join(one, "20-b.conf"), net="none")
    assert p.order == ["b"] and p.rc == CRITICAL, p
    # A syntax error in an included file: --config names the file and the
    # line. collectd refuses the configuration when a glob matched the
    # file, and skips the file when a directory held it (its accounts are
    # gone without an error).
    for where, fn, accepted in ((one, "40-z.conf", False),
                                (two, "z.conf", True)):
        bad = os.path.join(where, fn)
        with open(bad, "w") as f:
            f.write('<Plugin telemetrydeck>\n  <Account "z">\n</Plugin>\n')
        p = Preflight(c.conf, net="none")
        assert p.rc == UNKNOWN and len(p.lines) == 1, p
        assert p.lines[0] == ("TELEMETRYDECK UNKNOWN - %s: line 3: </Key> "
                              "does not close the open block" % bad), p
        again = ConfigCheck(os.path.join(d, "again-" + fn), text + "\n")
        assert again.accepted == accepted, again
        if accepted:
            assert collectd_accounts(again) == ["a", "b", "x"], again
        os.remove(bad)
    assert_no_token(d, p, tok("a"), tok("b"), tok("x"))

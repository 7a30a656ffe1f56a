"""Bad configuration and bad operations, in the real collectd.

Every broken <Account> block must be refused with an ERROR that names the
account, the option and the offending value (never the token), and skipped,
while a valid account beside it keeps polling. test_core.py already covers
a missing token, both Token and TokenFile, an impossible date, an unknown
option, a duplicate name, an ftp URL, plain http to example.com, thresholds
3/7, Timeout -1, a TokenFile missing at start and one with mode 0644; the
tests here take the other wrong values and the operations around them.
"""

import os
import re
import subprocess
import time

from harness import Collectd, FakeAPI, account, inputs, wait_for
from test_check import CHECK, UNKNOWN, WARNING
from test_core import ca, check_clean
from test_hostile import assert_healthy_kept_polling, loopback_dns_wrapper

SECRET = "Cf4Zr8Tn1"
INTERVAL = 0.5
# A second logfile block: collectd merges it into the first one, and the
# log then says which lines are errors and which are warnings.
SEVERITY = "<Plugin logfile>\n  PrintSeverity true\n</Plugin>"


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


def daemon(d, blocks, wrapper=None):
    """A fake that knows the token of "good", and collectd with the valid
    account "good" first, then the blocks made by blocks(fake)."""
    fake = FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"}})
    good = account("good", fake.url(), tok("good"), CACert=ca(), Timeout=0.4)
    cd = Collectd(d, "\n".join([good] + blocks(fake)), interval=INTERVAL,
                  extra=SEVERITY, wrapper=wrapper)
    return fake, cd


def errors(cd, name):
    """The plugin's ERROR lines about account name."""
    return [l.split("] telemetrydeck plugin: ", 1)[1] for l in cd.log_lines(
        r'\[error\] telemetrydeck plugin: account "%s"' % re.escape(name))]


def assert_refused(cd, name, pattern):
    """Account name got an ERROR matching pattern, was skipped, and sent
    nothing."""
    errs = errors(cd, name)
    assert any(re.search(pattern, e) for e in errs), (
        "account %s: no error matching %r in %r" % (name, pattern, errs))
    assert any(re.fullmatch(r'account "%s" is skipped( because of the error '
                            r'above)?\.' % re.escape(name), e) for e in errs), errs
    assert not os.path.exists(os.path.join(cd.csv, "testhost",
                                           "telemetrydeck-" + name)), name


def wait_good(cd):
    assert wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 5, 10), cd.log()


# --------------------------------------------------------------------------
# Values of the right type that make no sense.

BAD_VALUES = [
    # name, options, the error (regex)
    ("timeout_over_interval", dict(Interval=1, Timeout=2),
     r'option Timeout 2 is longer than the interval \(1 s\)\.'),
    ("timeout_over_global", dict(Timeout=5),
     r'option Timeout 5 is longer than the interval \(0\.5 s\)\.'),
    ("timeout_tiny_negative", dict(Timeout=-0.25),
     r'option Timeout -0\.25 must be positive\.'),
    ("url_file", dict(URL="file:///etc/passwd"),
     r'option URL "file:///etc/passwd" is refused: only http and https'),
    ("url_gopher", dict(URL="gopher://127.0.0.1/1"),
     r'option URL "gopher://127\.0\.0\.1/1" is refused: only http and https'),
    ("url_garbage", dict(URL="not a url at all"),
     r'option URL "not a url at all" is refused: it is not a valid URL'),
    ("url_empty", dict(URL=""),
     r'option URL "" is refused'),
    ("expires_words", dict(TokenExpires="next tuesday"),
     r'option TokenExpires "next tuesday" is not a date'),
    ("expires_hour_25", dict(TokenExpires="2027-11-27T25:00:00Z"),
     r'option TokenExpires "2027-11-27T25:00:00Z" is not a date'),
    ("expires_european", dict(TokenExpires="27.11.2027"),
     r'option TokenExpires "27\.11\.2027" is not a date'),
    ("failure_days_negative", dict(ExpiryWarningDays=30, ExpiryFailureDays=-1),
     r'options ExpiryWarningDays 30 and ExpiryFailureDays -1 must satisfy'),
    ("tls_days_order", dict(TLSExpiryWarningDays=1, TLSExpiryFailureDays=5),
     r'options TLSExpiryWarningDays 1 and TLSExpiryFailureDays 5 must satisfy'),
    ("unreachable_zero", dict(UnreachableAfter=0),
     r'option UnreachableAfter 0 must be at least 1\.'),
    ("unreachable_negative", dict(UnreachableAfter=-2),
     r'option UnreachableAfter -2 must be at least 1\.'),
    ("plain_ip", dict(URL="http://192.0.2.1/api/v3/users/info"),
     r'option URL "http://192\.0\.2\.1/api/v3/users/info" is refused: plain http'),
]


def test_values_that_make_no_sense_are_refused_naming_option_and_value(d):
    def blocks(fake):
        out = []
        for name, opts, _ in BAD_VALUES:
            o = dict(CACert=ca(), URL=fake.url())
            o.update(opts)
            out.append(account(name, o.pop("URL"), tok(name), **o))
        return out
    fake, cd = daemon(d, blocks)
    try:
        wait_good(cd)
        for name, _, pattern in BAD_VALUES:
            assert_refused(cd, name, r'^account "%s": %s' % (name, pattern))
        assert fake.stats()["unknown_auth"] == 0
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, *[tok(n) for n, _, _ in BAD_VALUES] + [tok("good")])


# --------------------------------------------------------------------------
# Values of the wrong type: collectd's own helpers log a line without the
# account (and mostly without the value); the plugin's line must name the
# account, the option and the value.

WRONG_TYPES = [
    # name, the option line as written in collectd.conf, the value to name
    ("verify_peer_maybe", 'VerifyPeer "maybe"', "maybe"),
    ("verify_host_number", "VerifyHost 3", "3"),
    ("notifications_word", 'Notifications "sometimes"', "sometimes"),
    ("timeout_word", 'Timeout "ten"', "ten"),
    ("timeout_two_values", "Timeout 1 2", "1 2"),
    ("unreachable_word", 'UnreachableAfter "three"', "three"),
    ("interval_negative", "Interval -1", "-1"),
    ("interval_word", 'Interval "fast"', "fast"),
    ("expires_number", "TokenExpires 20271127", "20271127"),
]


def test_values_of_the_wrong_type_are_refused_naming_option_and_value(d):
    def blocks(fake):
        return [account(name, fake.url(), tok(name), CACert=ca()).replace(
                    "  </Account>", "    %s\n  </Account>" % line)
                for name, line, _ in WRONG_TYPES]
    fake, cd = daemon(d, blocks)
    try:
        wait_good(cd)
        missing = []
        for name, line, value in WRONG_TYPES:
            option = line.split()[0]
            try:
                assert_refused(cd, name, r'^account "%s": option %s\b.*%s'
                               % (name, option, re.escape(value)))
            except AssertionError as e:
                missing.append(str(e))
        assert not missing, "\n".join(missing)
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, *[tok(n) for n, _, _ in WRONG_TYPES] + [tok("good")])


# --------------------------------------------------------------------------
# The token itself.

def test_bad_tokens_are_refused_without_quoting_them(d):
    numeric = "987654321987"
    spaced = tok("spaced").replace("_", " ", 1)
    ctrl = tok("ctrl") + "\tx"  # a raw tab inside the quotes

    def blocks(fake):
        return [
            account("token_empty", fake.url(), "", CACert=ca()),
            account("token_spaced", fake.url(), spaced, CACert=ca()),
            account("token_tab", fake.url(), ctrl, CACert=ca()),
            '  <Account "token_number">\n    Token %s\n    URL "%s"\n'
            '  </Account>' % (numeric, fake.url()),
            account("token_twice", fake.url(), tok("twice"), CACert=ca()).replace(
                "  </Account>", '    Token "%s"\n  </Account>' % tok("twice2")),
        ]
    fake, cd = daemon(d, blocks)
    try:
        wait_good(cd)
        assert_refused(cd, "token_empty", r'option Token is empty')
        assert_refused(cd, "token_spaced", r'option Token .*spaces')
        assert_refused(cd, "token_tab", r'option Token .*control characters')
        assert_refused(cd, "token_number", r'option Token\b')
        assert_refused(cd, "token_twice", r'Token is given twice')
        log = cd.log()
        for secret in (numeric, spaced, SECRET):
            assert secret not in log, secret
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, SECRET, numeric, spaced)


def test_token_without_tdpat_prefix_is_a_warning_and_still_polls(d):
    odd = "LEGACY%sTOKEN" % SECRET
    tf = os.path.join(inputs(d), "odd.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (odd + "2\n").encode())
    os.close(fd)
    table = {odd: {"label": "odd", "mode": "ok"},
             odd + "2": {"label": "odd_file", "mode": "ok"},
             tok("good"): {"label": "good", "mode": "ok"}}
    fake = FakeAPI(d, table)
    block = "\n".join([
        account("odd", fake.url(), odd, CACert=ca()),
        account("odd_file", fake.url(), token_file=tf, CACert=ca()),
        account("good", fake.url(), tok("good"), CACert=ca())])
    cd = Collectd(d, block, interval=INTERVAL, extra=SEVERITY)
    try:
        wait_good(cd)
        assert wait_for(lambda: len(cd.values("odd_file", "bool-token_valid")) >= 3, 5)
        for name in ("odd", "odd_file"):
            warn = cd.log_lines(r'\[warning\] telemetrydeck plugin: account "%s": '
                                r'the token does not start with "tdpat_"' % name)
            assert len(warn) == 1, (name, cd.log())
            rows = cd.values(name, "bool-token_valid")
            assert len(rows) >= 3 and all(v == 1 for _, v in rows), (name, rows)
            assert errors(cd, name) == [], errors(cd, name)
        assert fake.label("odd")["auth_ok"] >= 3
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, odd, SECRET)


# --------------------------------------------------------------------------
# Unknown options and names.

def test_unknown_options_and_bad_names_are_refused_and_named(d):
    def blocks(fake):
        return [
            account("typo", fake.url(), tok("typo"), CACert=ca(), VerifyPer=True),
            account("url_twice", fake.url(), tok("url_twice"), CACert=ca()).replace(
                "  </Account>", '    URL "https://127.0.0.1:1/x"\n  </Account>'),
            account("a/b", fake.url(), tok("slash"), CACert=ca()),
            account("", fake.url(), tok("empty_name"), CACert=ca()),
            '  <Account "two" "names">\n    Token "%s"\n  </Account>' % tok("two"),
            '  Acount "misspelt"',
            # The second "good" block must not replace the first one.
            account("good", "https://127.0.0.1:1/elsewhere", tok("good2"),
                    CACert=ca()),
        ]
    fake, cd = daemon(d, blocks)
    try:
        wait_good(cd)
        assert_refused(cd, "typo", r'^account "typo": unknown option "VerifyPer"\.')
        assert_refused(cd, "url_twice", r'^account "url_twice": URL is given twice\.')
        assert cd.log_lines(r'\[error\] telemetrydeck plugin: account name "a/b" is '
                            r'empty, too long or contains')
        assert cd.log_lines(r'\[error\] telemetrydeck plugin: account name "" is empty')
        assert cd.log_lines(r'\[error\] telemetrydeck plugin: an Account block needs '
                            r'exactly one name')
        assert cd.log_lines(r'\[error\] telemetrydeck plugin: unknown option "Acount"')
        assert cd.log_lines(r'\[error\] telemetrydeck plugin: account "good" is '
                            r'defined twice; the second block is ignored and '
                            r'the first one runs\.')
        assert fake.label("good")["requests"] >= 5
        assert sorted(os.listdir(os.path.join(cd.csv, "testhost"))) == [
            "telemetrydeck-good"]
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# Plain http.

def test_plaintext_http_only_to_loopback_unless_allow_plaintext(d):
    plain = FakeAPI(d, {tok("plain_loopback"): {"label": "plain_loopback", "mode": "ok"},
                        tok("plain_localhost"): {"label": "plain_localhost", "mode": "ok"}},
                    cert=None, name="plain")
    invalid = "http://no-such-host.invalid/api/v3/users/info"
    tricky = "http://127.0.0.1.no-such-host.invalid/api/v3/users/info"

    def blocks(fake):
        return [
            account("plain_invalid", invalid, tok("plain_invalid")),
            account("plain_tricky", tricky, tok("plain_tricky")),
            account("plain_allowed", invalid, tok("plain_allowed"),
                    AllowPlaintext=True, UnreachableAfter=1, Timeout=0.4),
            account("plain_loopback", plain.url(), tok("plain_loopback"),
                    Timeout=0.4),
            account("plain_localhost", plain.url(host="localhost"),
                    tok("plain_localhost"), Timeout=0.4),
            account("plain_bad_flag", invalid, tok("plain_bad_flag"),
                    AllowPlaintext="maybe"),
        ]
    fake, cd = daemon(d, blocks, wrapper=loopback_dns_wrapper(d))
    try:
        wait_good(cd)
        assert_refused(cd, "plain_invalid", r'option URL "%s" is refused: plain '
                       r'http .*AllowPlaintext' % re.escape(invalid))
        assert_refused(cd, "plain_tricky", r'option URL "%s" is refused: plain '
                       r'http' % re.escape(tricky))
        assert_refused(cd, "plain_bad_flag", r'option AllowPlaintext\b')
        # Allowed: polled, and the name does not resolve (DNS stays on
        # loopback, see loopback_dns_wrapper).
        assert wait_for(lambda: cd.notes("plain_allowed", "api_reachable"), 5), cd.log()
        assert errors(cd, "plain_allowed") == []
        assert cd.last("plain_allowed", "bool-api_reachable") == 0
        assert cd.log_lines(r'account "plain_allowed": no answer from the API: '
                            r'could not resolve the host')
        for name in ("plain_loopback", "plain_localhost"):
            assert wait_for(lambda: cd.last(name, "bool-token_valid") == 1, 5), name
            assert errors(cd, name) == [], errors(cd, name)
        assert plain.label("plain_loopback")["auth_ok"] >= 1
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
        plain.stop()
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# TokenFile problems, and their repair while collectd runs.

def _write(path, data, mode=0o600):
    if os.path.isdir(path):
        os.rmdir(path)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data)
    os.close(fd)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def test_token_file_problems_are_logged_once_and_repairs_picked_up_at_next_poll(d):
    folder = inputs(d)
    long_token = "tdpat_" + "L" * 4994 + SECRET  # 5009 bytes
    broken = {
        # name: (how to break it, the error after 'TokenFile "PATH" ')
        "tf_dir": (lambda p: os.mkdir(p), "is not a regular file."),
        "tf_long": (lambda p: _write(p, long_token.encode()),
                    "is longer than 4096 bytes."),
        "tf_empty": (lambda p: _write(p, b" \n\n\t\n"), "is empty."),
        "tf_two_lines": (lambda p: _write(p, (tok("a") + "\n" + tok("b") + "\n").encode()),
                         "holds more than one line or control characters (spaces count as such)."),
    }
    paths = {n: os.path.join(folder, n + ".token") for n in
             list(broken) + ["tf_group", "tf_others", "tf_4096"]}
    for name, (breaker, _) in broken.items():
        breaker(paths[name])
    _write(paths["tf_group"], (tok("tf_group") + "\n").encode(), 0o640)
    _write(paths["tf_others"], (tok("tf_others") + "\n").encode(), 0o604)
    # The longest token the README allows: 4096 bytes, then the newline.
    max_token = tok("tf_4096") + "M" * (4096 - len(tok("tf_4096")))
    _write(paths["tf_4096"], (max_token + "\n").encode())
    table = {tok(n): {"label": n, "mode": "ok"} for n in paths}
    table[max_token] = {"label": "tf_4096", "mode": "ok"}
    table[tok("good")] = {"label": "good", "mode": "ok"}
    fake = FakeAPI(d, table)
    block = [account(n, fake.url(), token_file=p, CACert=ca(), Timeout=0.4)
             for n, p in sorted(paths.items())]
    block.append(account("good", fake.url(), tok("good"), CACert=ca()))
    cd = Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY)
    try:
        wait_good(cd)
        time.sleep(1)  # a few more polls of the broken accounts
        for name, (_, why) in broken.items():
            errs = errors(cd, name)
            assert errs == ['account "%s": TokenFile "%s" %s'
                            % (name, paths[name], why)], (
                name, errs)
            assert not os.path.exists(os.path.join(
                cd.csv, "testhost", "telemetrydeck-" + name)), name
            assert fake.label(name)["requests"] == 0, name
        for name, mode in (("tf_group", "0640"), ("tf_others", "0604")):
            warn = cd.log_lines(
                r'\[warning\] telemetrydeck plugin: account "%s": TokenFile "%s" '
                r'has mode %s and is readable by group or others; chmod 600 it\.'
                % (name, re.escape(paths[name]), mode))
            assert len(warn) == 1, (name, cd.log())
            assert cd.last(name, "bool-token_valid") == 1, name
        rows = cd.values("tf_4096", "bool-token_valid")
        assert rows and rows[-1][1] == 1, (errors(cd, "tf_4096"), rows)
        assert fake.label("tf_4096")["auth_ok"] >= 1

        # Repair every broken file while collectd runs.
        for name in broken:
            _write(paths[name], (tok(name) + "\n").encode())
        repaired = time.time()
        for name in broken:
            assert wait_for(lambda: fake.label(name)["requests"] >= 2, 3), (
                name, cd.log())
            first = cd.values(name, "bool-token_valid")[0][0]
            assert first - repaired < 2 * INTERVAL, (name, first - repaired)
            assert cd.log_lines(r'\[info\] telemetrydeck plugin: account "%s": '
                                r'TokenFile "%s" is usable again\.'
                                % (name, re.escape(paths[name])))
            assert len(errors(cd, name)) == 1, errors(cd, name)
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, SECRET, long_token, max_token)


NOBODY = 65534


def test_token_file_others_could_change_are_warned_and_a_foreign_symlink_refused(d):
    # ssh's StrictModes, with collectd running as root (as Debian's does):
    # a file or a directory of another user, or one others may write, can
    # have its token swapped; a link of another owner than its target's
    # chooses which file is read and sent.
    assert os.geteuid() == 0, "this test needs collectd to run as root"
    folder = inputs(d)
    shared = os.path.join(folder, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    paths = {
        "tr_nobody": os.path.join(folder, "nobody.token"),
        "tr_shared_dir": os.path.join(shared, "root.token"),
        "tr_link": os.path.join(shared, "link.token"),
    }
    _write(paths["tr_nobody"], (tok("tr_nobody") + "\n").encode())
    os.chown(paths["tr_nobody"], NOBODY, NOBODY)
    _write(paths["tr_shared_dir"], (tok("tr_shared_dir") + "\n").encode())
    root_only = os.path.join(folder, "root-only.token")
    _write(root_only, (tok("tr_link") + "\n").encode())
    os.symlink(root_only, paths["tr_link"])
    os.lchown(paths["tr_link"], NOBODY, NOBODY)
    table = {tok(n): {"label": n, "mode": "ok"} for n in list(paths) + ["good"]}
    fake = FakeAPI(d, table)
    block = [account(n, fake.url(), token_file=p, CACert=ca())
             for n, p in sorted(paths.items())]
    block.append(account("good", fake.url(), tok("good"), CACert=ca()))
    cd = Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY)
    try:
        wait_good(cd)
        warned = {
            "tr_nobody": 'TokenFile "%s" belongs to uid 65534, neither root '
                         'nor the user reading it (uid 0), so that user can '
                         'change the token.',
            "tr_shared_dir": 'the directory of TokenFile "%s" has mode 0777: '
                             'group or others can write there and replace '
                             'the file.',
        }
        for name, text in warned.items():
            lines = cd.log_lines(r'\[warning\] telemetrydeck plugin: account '
                                 r'"%s": ' % name + re.escape(text % paths[name]))
            assert len(lines) == 1, (name, cd.log())
            assert cd.last(name, "bool-token_valid") == 1, name
        assert errors(cd, "tr_link") == [
            'account "tr_link": TokenFile "%s" is a symbolic link owned by uid '
            '65534 to a file owned by uid 0: refused, since the link\'s owner '
            'chooses what is read.' % paths["tr_link"]], cd.log()
        assert fake.label("tr_link").get("requests", 0) == 0
        assert cd.values("tr_link", "bool-token_valid") == []
        # The check judges the same files alike.
        env = {k: v for k, v in os.environ.items() if k != "TELEMETRYDECK_TOKEN"}
        want = {
            "tr_nobody": (WARNING, "the token file belongs to uid 65534, "
                          "neither root nor the user reading it (uid 0), so "
                          "that user can change the token"),
            "tr_shared_dir": (WARNING, "the directory of the token file has "
                              "mode 0777: group or others can write there "
                              "and replace the file"),
            "tr_link": (UNKNOWN, "the token file is a symbolic link owned by "
                        "uid 65534 to a file owned by uid 0: refused, since "
                        "the link's owner chooses what is read"),
        }
        for name, (rc, text) in want.items():
            r = subprocess.run([CHECK, "--url", fake.url(), "--ca-cert", ca(),
                                "--token-file", paths[name]],
                               capture_output=True, text=True, timeout=20,
                               env=env, stdin=subprocess.DEVNULL)
            assert r.returncode == rc and text in r.stdout, (name, r)
        assert fake.label("tr_link").get("requests", 0) == 0
        assert_healthy_kept_polling(cd, "good")
    finally:
        cd.stop()
        fake.stop()
    check_clean(d, cd, SECRET)

"""Bad configuration and bad operations, in the real collectd.

A broken <Account> block fails collectd's configuration: collectd exits at
start (and collectd -T reports it) with one ERROR of the plugin naming the
account, the option and the offending value (never the token or a
password). One test per kind of error here; tests/unit/test_settings.c
holds the table of bad values. Warnings leave the configuration valid. The
TokenFile tests take the operations around a running account. Then the
bounds (an Interval below a second, numbers collectd cannot represent),
special files as CACert or TokenFile, a NUL in a TokenFile, and what
TokenExpires tells the plugin.
"""

import datetime
import glob
import os
import re
import shutil
import subprocess
import time

from harness import (OUR_PLUGIN, SEVERITY, TOP, Collectd, ConfigCheck, FakeAPI,
                     Stack, account, assert_refused, files_containing, inputs,
                     level_lines, refused, special_files, wait_for)
from test_check import CHECK, UNKNOWN, WARNING
from test_core import ca, check_clean, severities
from test_hostile import assert_healthy_kept_polling, loopback_dns_wrapper

SECRET = "Cf4Zr8Tn1"
INTERVAL = 0.5
TIMEOUT = 0.4


def tok(label):
    return "tdpat_%s_%s" % (SECRET, label)


def daemon(s, d, blocks, wrapper=None):
    """A fake that knows the token of "good", and collectd with the valid
    account "good" first, then the blocks made by blocks(fake); both
    started on the Stack s."""
    fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"}}))
    good = account("good", fake.url(), tok("good"), CACert=ca(), Timeout=0.4)
    cd = s.start(Collectd(d, "\n".join([good] + blocks(fake)),
                          interval=INTERVAL, extra=SEVERITY, wrapper=wrapper))
    return fake, cd


def errors(cd, name):
    """The plugin's ERROR lines about account name."""
    return [l.split("] telemetrydeck plugin: ", 1)[1] for l in cd.log_lines(
        r'\[error\] telemetrydeck plugin: account "%s"' % re.escape(name))]


def wait_good(cd):
    assert wait_for(lambda: len(cd.values("good", "bool-token_valid")) >= 5, 10), cd.log()


# --------------------------------------------------------------------------
# A configuration error fails collectd's configuration: one case per kind
# of error (tests/unit/test_settings.c holds the table of bad values).

URL = "https://127.0.0.1:1/api/v3/users/info"

ERROR_KINDS = [
    # what, the <Account> block (or plugin-level line), the ERROR it gives
    ("unknown option",
     account("typo", URL, tok("typo"), TokenExpire="2027-11-27"),
     'account "typo": unknown option "TokenExpire".'),
    ("a value out of range",
     account("neg", URL, tok("neg"), Timeout=-0.25),
     'account "neg": option Timeout -0.25 must be positive.'),
    ("a value of the wrong type",
     account("word", URL, tok("word")).replace(
         "  </Account>", '    Timeout "ten"\n  </Account>'),
     'account "word": option Timeout "ten" is not of the right type (or '
     'count) of value.'),
    ("a fraction for a count",
     account("frac", URL, tok("frac"), UnreachableAfter=2.5),
     'account "frac": option UnreachableAfter 2.5 must be a whole number.'),
    ("no token option",
     account("notoken", URL),
     'account "notoken": exactly one of Token and TokenFile is required.'),
    ("a string option twice",
     account("twice", URL, tok("twice")).replace(
         "  </Account>", '    URL "%s"\n  </Account>' % URL),
     'account "twice": URL is given twice.'),
    ("a refused URL",
     account("ftp", "ftp://127.0.0.1/x", tok("ftp")),
     'account "ftp": option URL "ftp://127.0.0.1/x" is refused: only http '
     'and https URLs are allowed.'),
    ("not a date",
     account("date", URL, tok("date"), TokenExpires="next tuesday"),
     'account "date": option TokenExpires "next tuesday" is not a date'),
    ("a rule across options",
     account("order", URL, tok("order"), ExpiryWarningDays=3,
             ExpiryFailureDays=7),
     'account "order": options ExpiryWarningDays 3 and ExpiryFailureDays 7 '
     'must satisfy ExpiryWarningDays >= ExpiryFailureDays >= 0.'),
    ("Timeout over Interval",
     account("slow", URL, tok("slow"), Interval=1, Timeout=2),
     'account "slow": option Timeout 2 is longer than the interval (1 s).'),
    ("a file that fails its checks",
     account("ca", URL, tok("ca"), CACert="/nonexistent/ca.pem"),
     'account "ca": option CACert "/nonexistent/ca.pem" is refused: it '
     'cannot be opened: No such file or directory.'),
    ("a duplicate account name",
     account("dup", URL, tok("dup")) + "\n" + account("dup", URL, tok("dup2")),
     'account "dup" is defined twice.'),
    ("a bad account name",
     account("a/b", URL, tok("slash")),
     'account name "a/b" is empty, too long or contains'),
    ("an option outside <Account>",
     '  Acount "misspelt"',
     'unknown option "Acount" (only <Account> blocks are allowed here).'),
]


def test_a_configuration_error_fails_collectd_with_one_error_naming_it(d):
    """collectd refuses the whole configuration (exit 1, and collectd's own
    "Error: Parsing the config file failed!"), and the plugin's ERROR is
    one line naming the account and the option."""
    for what, block, line in ERROR_KINDS:
        got = refused(d, block)
        assert got.startswith(line), (what, got)
    assert not files_containing(d, [SECRET]), files_containing(d, [SECRET])


def test_a_broken_account_stops_the_valid_one_beside_it_too(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {tok("good"): {"label": "good", "mode": "ok"}}))
        block = "\n".join([account("good", fake.url(), tok("good"), CACert=ca()),
                           account("typo", fake.url(), tok("typo"), Colour="blue")])
        cd = s.start(Collectd(d, block, interval=INTERVAL, extra=SEVERITY))
        assert wait_for(lambda: not cd.alive(), 10), cd.log()
        assert cd.proc.returncode != 0
        assert errors(cd, "typo") == ['account "typo": unknown option "Colour".']
        assert fake.stats()["requests"] == 0
    assert not files_containing(d, [SECRET]), files_containing(d, [SECRET])


def test_warnings_leave_the_configuration_valid(d):
    """A TokenExpires more than a year ahead and a token without the
    tdpat_ prefix are WARNINGs: collectd -T reads the configuration and
    runs."""
    far = (datetime.datetime.now(datetime.timezone.utc) +
           datetime.timedelta(days=500)).strftime("%Y-%m-%d")
    c = ConfigCheck(d, OUR_PLUGIN % account(
        "far", URL, "LEGACY" + SECRET, TokenExpires=far, CACert=ca()))
    assert c.accepted, c
    assert c.lines("error") == [], c
    warn = c.lines("warning")
    assert ('account "far": option TokenExpires "%s" is more than 366 days '
            'away, but TelemetryDeck tokens live at most one year: is the '
            'year a typo? It is used as written.' % far) in warn, c
    assert ('account "far": the token does not start with "tdpat_"; is it a '
            'TelemetryDeck personal access token?') in warn, c
    assert not files_containing(d, [SECRET]), files_containing(d, [SECRET])


def test_timeout_equal_to_a_fractional_collectd_interval_is_accepted(d):
    """collectd keeps its Interval 0.1 as 0.09999999963 s; Timeout 0.1 is
    not longer than it."""
    c = ConfigCheck(d, OUR_PLUGIN % account("tenth", URL, tok("tenth"),
                                            Timeout=0.1), interval=0.1)
    assert c.accepted and c.lines("error") == [], c


def test_operator_text_in_an_error_is_cleaned_and_passwords_never_shown(d):
    """A URL with a password is refused without quoting it; a URL with CR,
    LF or TAB is quoted on one line; a token's text is never quoted."""
    line = refused(d, account("cred", "https://alice:s3cretPW@127.0.0.1:1/x",
                              tok("cred")),
                   'account "cred": option URL is refused: it holds a user '
                   'name or password')
    assert "s3cretPW" not in line and "alice" not in line, line
    # collectd's parser keeps raw CR, LF and TAB inside quotes.
    line = refused(d, account("ctl", None, tok("ctl")).replace(
        "  </Account>",
        '    URL "https://127.0.0.1:1/x\r\nfake line\there"\n  </Account>'),
        'account "ctl": option URL "https://127.0.0.1:1/x', 'fake line')
    assert not any(c in line for c in "\r\n\t"), repr(line)
    line = refused(d, account("tab", URL, tok("tab") + "\tx"),
                   'account "tab": option Token holds more than one line')
    assert SECRET not in line, line
    for dirpath, _, files in os.walk(d):
        for fn in files:
            if fn == "collectd.conf":
                continue
            with open(os.path.join(dirpath, fn), "rb") as f:
                assert b"s3cretPW" not in f.read(), fn


def test_token_without_tdpat_prefix_is_a_warning_and_still_polls(d):
    odd = "LEGACY%sTOKEN" % SECRET
    tf = os.path.join(inputs(d), "odd.token")
    fd = os.open(tf, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (odd + "2\n").encode())
    os.close(fd)
    table = {odd: {"label": "odd", "mode": "ok"},
             odd + "2": {"label": "odd_file", "mode": "ok"},
             tok("good"): {"label": "good", "mode": "ok"}}
    with Stack() as s:
        fake = s.start(FakeAPI(d, table))
        block = "\n".join([
            account("odd", fake.url(), odd, CACert=ca()),
            account("odd_file", fake.url(), token_file=tf, CACert=ca()),
            account("good", fake.url(), tok("good"), CACert=ca())])
        cd = s.start(Collectd(d, block, interval=INTERVAL, extra=SEVERITY))
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
    check_clean(d, cd, odd, SECRET)


# --------------------------------------------------------------------------
# Plain http.

def test_plaintext_http_only_to_loopback_unless_allow_plaintext(d):
    with Stack() as s:
        plain = s.start(FakeAPI(
            d, {tok("plain_loopback"): {"label": "plain_loopback", "mode": "ok"},
                tok("plain_localhost"): {"label": "plain_localhost", "mode": "ok"}},
            cert=None, name="plain"))
        invalid = "http://no-such-host.invalid/api/v3/users/info"
        tricky = "http://127.0.0.1.no-such-host.invalid/api/v3/users/info"
        refused(d, account("plain_invalid", invalid, tok("plain_invalid")),
                'account "plain_invalid": option URL "%s" is refused: plain http'
                % invalid, "AllowPlaintext")
        refused(d, account("plain_tricky", tricky, tok("plain_tricky")),
                'account "plain_tricky": option URL "%s" is refused: plain http'
                % tricky)
        refused(d, account("plain_bad_flag", invalid, tok("plain_bad_flag"),
                           AllowPlaintext="maybe"),
                'account "plain_bad_flag": option AllowPlaintext "maybe" is not '
                'of the right type')

        def blocks(fake):
            return [
                account("plain_allowed", invalid, tok("plain_allowed"),
                        AllowPlaintext=True, UnreachableAfter=1, Timeout=0.4),
                account("plain_loopback", plain.url(), tok("plain_loopback"),
                        Timeout=0.4),
                account("plain_localhost", plain.url(host="localhost"),
                        tok("plain_localhost"), Timeout=0.4),
            ]
        fake, cd = daemon(s, d, blocks, wrapper=loopback_dns_wrapper(d))
        wait_good(cd)
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
    with Stack() as s:
        fake = s.start(FakeAPI(d, table))
        block = [account(n, fake.url(), token_file=p, CACert=ca(), Timeout=0.4)
                 for n, p in sorted(paths.items())]
        block.append(account("good", fake.url(), tok("good"), CACert=ca()))
        cd = s.start(Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY))
        wait_good(cd)
        time.sleep(1)  # a few more polls of the broken accounts
        for name, (_, why) in broken.items():
            errs = errors(cd, name)
            assert errs == ['account "%s": TokenFile "%s" %s'
                            % (name, paths[name], why)], (
                name, errs)
            # Not polled: nothing but token_readable 0 (see VALUES).
            assert {v for _, v in cd.values(name, "bool-token_readable")} \
                == {0.0}, name
            for ident in ("bool-api_reachable", "bool-token_valid"):
                assert cd.values(name, ident) == [], (name, ident)
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
    with Stack() as s:
        fake = s.start(FakeAPI(d, table))
        block = [account(n, fake.url(), token_file=p, CACert=ca())
                 for n, p in sorted(paths.items())]
        block.append(account("good", fake.url(), tok("good"), CACert=ca()))
        cd = s.start(Collectd(d, "\n".join(block), interval=INTERVAL, extra=SEVERITY))
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
    check_clean(d, cd, SECRET)


# --------------------------------------------------------------------------
# The configurations we ship and document.

def _unroff(text):
    for a, b in (("\\(dq", '"'), ("\\-", "-"), ("\\e", "\\"), ("\\&", "")):
        text = text.replace(a, b)
    return "\n".join(l for l in text.splitlines() if not l.startswith("."))


def man_examples():
    """Every example of the man page that holds an <Account> block, as a
    collectd.conf fragment that loads the plugin."""
    with open(os.path.join(TOP, "man", "collectd-telemetrydeck.5")) as f:
        page = f.read()
    out = []
    for block in re.findall(r"^\.nf\n(.*?)^\.fi$", page, re.S | re.M):
        text = _unroff(block)
        if "<Account" not in text:
            continue
        if "<Plugin telemetrydeck>" not in text:
            text = "<Plugin telemetrydeck>\n%s\n</Plugin>" % text
        if "LoadPlugin telemetrydeck" not in text:
            text = "LoadPlugin telemetrydeck\n" + text
        out.append(text)
    return out


def with_local_files(d, text):
    """text with each TokenFile and CACert path replaced by a file of the
    kind it names, made in d's inputs."""
    def local(m):
        option, path = m.group(1), m.group(2)
        mine = os.path.join(inputs(d), "%s-%s" % (option, os.path.basename(path)))
        if option.lower() == "cacert":
            shutil.copy(ca(), mine)
        else:
            fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, (tok("example") + "\n").encode())
            os.close(fd)
        return '%s "%s"' % (option, mine)
    return re.sub(r'\b(TokenFile|CACert)\s+"([^"]+)"', local, text)


def shipped_configurations(d):
    """Each file of conf/ and each example of the man page, its TokenFile
    and CACert made in a directory of its own under d: yields the name,
    that directory, the text and the Debian plugins it loads."""
    confs = sorted(glob.glob(os.path.join(TOP, "conf", "*.conf")))
    cases = [(os.path.basename(p), open(p).read()) for p in confs]
    cases += [("man page example %d" % i, t)
              for i, t in enumerate(man_examples(), 1)]
    assert len(confs) >= 4 and len(cases) >= len(confs) + 2, cases
    for name, text in cases:
        sub = os.path.join(d, re.sub(r"\W+", "_", name))
        os.makedirs(sub)
        text = with_local_files(sub, text)
        debian = [p for p in re.findall(r"^<?LoadPlugin\s+(\w+)", text, re.M)
                  if p not in ("telemetrydeck", "logfile", "csv")]
        yield name, sub, text, debian


def test_every_conf_file_and_man_page_example_is_a_valid_configuration(d):
    """collectd -T (see harness.ConfigCheck: no packet leaves the machine)
    reads each file of conf/ and each example of the man page without an
    ERROR of the plugin, and exits 0."""
    for name, sub, text, debian in shipped_configurations(d):
        c = ConfigCheck(sub, text + "\n", debian=debian)
        assert c.accepted and "Parsing the config file failed" not in c.out, (name, c)
        assert c.lines("error") == [], (name, c)


# --------------------------------------------------------------------------
# Bounds.

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
# Special files as CACert or TokenFile, a NUL in a TokenFile.

def test_special_files_as_ca_cert_or_token_file_are_refused_and_stop_is_clean(d):
    fifo, directory, big = special_files(d)
    tfifo = os.path.join(inputs(d), "token.fifo")
    os.mkfifo(tfifo)
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
# What the token's lifetime tells us.

def days_from_now(days, fmt="%Y-%m-%d"):
    when = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=days)
    return when.strftime(fmt)


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


def test_open_file_limit_is_raised_or_its_shortfall_named_and_kept_to(d):
    # Each account keeps a connection: 100 accounts want about 356 open
    # files. A soft limit below that is raised up to the hard one. A hard
    # limit that leaves too few is named once, with the number and what
    # to change, and the plugin then keeps half of it for the rest of
    # collectd (its log file among them): every account is still polled,
    # and no file is ever missing.
    tokens = [tok("f%d" % i) for i in range(100)]
    cases = ((200, 1000, "raised the open-file limit from 200 to 356 for "
              "100 kept connections."),
             (100, 100, "100 kept connections need about 356 open files; "
              "the limit is 100 (raise LimitNOFILE): until then at most 25 "
              "are open at once."))
    with Stack() as outer:
        fake = outer.start(FakeAPI(d, {t: {"label": "f%d" % i, "mode": "ok"}
                                       for i, t in enumerate(tokens)}))
        blocks = "\n".join(account("f%d" % i, fake.url(), t, CACert=ca(),
                                   Interval=2) for i, t in enumerate(tokens))
        for soft, hard, want in cases:
            run = os.path.join(d, "limit-%d" % soft)
            os.makedirs(run)
            with Stack() as s:
                cd = s.start(Collectd(run, blocks, interval=2, wrapper=[
                    "prlimit", "--nofile=%d:%d" % (soft, hard), "--"]))
                assert wait_for(lambda: len(cd.log_lines(
                    "first poll succeeds")) == 100, 20), cd.log()[-2000:]
                time.sleep(4.5)  # two more rounds
                lines = cd.log_lines("open-file limit|open files")
                assert [l.split("telemetrydeck plugin: ", 1)[1]
                        for l in lines] == [want], lines
                for i in range(0, 100, 9):
                    vals = [v for _, v in cd.values("f%d" % i,
                                                    "bool-api_reachable")]
                    assert len(vals) >= 3 and set(vals) == {1.0}, (i, vals)
            with open(os.path.join(run, "collectd.out")) as f:
                out = f.read()
            assert "Too many open files" not in out, out[-2000:]
            assert not cd.log_lines("CACert cannot be read")
            check_clean(run, cd, *tokens)

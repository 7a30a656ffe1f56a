"""The plugin and telemetrydeck-check judge every token file alike: one
table of odd files, each given to a collectd account as TokenFile and to
the check as --token-file; both must take it or both refuse it, and a
refused file's token never reaches the API."""

import os
import subprocess

from harness import (BUILD, Collectd, FakeAPI, Stack, account, certs,
                     inputs, wait_for)
from test_core import check_clean

CHECK = os.path.join(BUILD, "telemetrydeck-check")


def tok(name):
    return "tdpat_TF%s0123456789" % name.replace("_", "")


def ca():
    return os.path.join(certs(), "ca.pem")


# name: (bytes of the file as a function of its token, taken?)
CASES = {
    "newline": (lambda t: t + b"\n", True),
    "crlf": (lambda t: t + b"\r\n", True),
    "bare": (lambda t: t, True),
    "blank_lines_first": (lambda t: b"\n\n" + t + b"\n", True),
    "form_feed_first": (lambda t: b"\f" + t + b"\n", True),
    "vertical_tab_last": (lambda t: t + b"\v\n", True),
    "tabs_around": (lambda t: b" \t" + t + b"\t \n", True),
    "nul_inside": (lambda t: t + b"\0garbage\n", False),
    "nul_last": (lambda t: t + b"\0", False),
    "two_lines": (lambda t: t + b"\n" + t + b"\n", False),
    "space_inside": (lambda t: t[:8] + b" " + t[8:] + b"\n", False),
    "escape_inside": (lambda t: t[:8] + b"\x1b" + t[8:] + b"\n", False),
    # Invisible characters pasted with the token.
    "nbsp_after": (lambda t: t + b"\xc2\xa0\n", False),
    "zero_width_space_after": (lambda t: t + b"\xe2\x80\x8b\n", False),
    "bom_first": (lambda t: b"\xef\xbb\xbf" + t + b"\n", False),
    "latin1_inside": (lambda t: t[:8] + b"\xe9" + t[8:] + b"\n", False),
    "empty": (lambda t: b"", False),
    "white_only": (lambda t: b" \n\t\r\n\v\f", False),
    "too_long": (lambda t: t + b"x" * 4097, False),
}
# name: how to make the path, taken?
SPECIAL = {
    "fifo": (lambda p: os.mkfifo(p, 0o600), False),
    "directory": (lambda p: os.mkdir(p, 0o700), False),
    "dev_zero": (lambda p: os.symlink("/dev/zero", p), False),
    "symlink_to_file": (None, True),
}


def make_files(d):
    folder = inputs(d)
    paths = {}
    for name, (content, _) in CASES.items():
        p = os.path.join(folder, name + ".token")
        with open(p, "wb") as f:
            f.write(content(tok(name).encode()))
        os.chmod(p, 0o600)
        paths[name] = p
    for name, (make, _) in SPECIAL.items():
        p = os.path.join(folder, name + ".token")
        if make is None:
            target = os.path.join(folder, name + ".target")
            with open(target, "w") as f:
                f.write(tok(name) + "\n")
            os.chmod(target, 0o600)
            os.symlink(target, p)
        else:
            make(p)
        paths[name] = p
    return paths


def test_plugin_and_check_take_and_refuse_the_same_token_files(d):
    paths = make_files(d)
    expected = {n: t for n, (_, t) in list(CASES.items()) + list(SPECIAL.items())}
    table = {tok(n): {"label": n, "mode": "ok"} for n in expected}
    with Stack() as s:
        fake = s.start(FakeAPI(d, table))
        blocks = [account(n, fake.url(), token_file=p, CACert=ca())
                  for n, p in paths.items()]
        cd = s.start(Collectd(d, "\n".join(blocks)))
        taken = [n for n, t in expected.items() if t]
        assert wait_for(lambda: all(cd.values(n, "bool-token_valid")
                                    for n in taken), 15), cd.log()
        plugin = {n: bool(cd.values(n, "bool-token_valid")) for n in expected}
        check, check_out = {}, {}
        for n, p in paths.items():
            env = {k: v for k, v in os.environ.items()
                   if k != "TELEMETRYDECK_TOKEN"}
            r = subprocess.run([CHECK, "--url", fake.url(), "--ca-cert", ca(),
                                "--token-file", p], capture_output=True,
                               text=True, timeout=20, env=env,
                               stdin=subprocess.DEVNULL)
            assert r.returncode in (0, 3), (n, r)
            check[n] = r.returncode == 0
            check_out[n] = r.stdout
            assert tok(n) not in r.stdout + r.stderr, (n, r)
        disagree = {n: (plugin[n], check[n]) for n in expected
                    if plugin[n] != check[n]}
        assert not disagree, "plugin vs check disagree: %r" % disagree
        wrong = {n: plugin[n] for n in expected if plugin[n] != expected[n]}
        assert not wrong, "taken/refused not as expected: %r" % wrong
        stats = fake.stats()["labels"]
        for n, t in expected.items():
            if not t:
                assert stats.get(n, {}).get("requests", 0) == 0, n
        for n, t in expected.items():
            if not t:
                assert cd.log_lines(r'account "%s": .*TokenFile' % n), (n, cd.log())
        # The invisible characters are named as a likely copy-paste
        # accident, by both front ends.
        pasted = ("nbsp_after", "zero_width_space_after", "bom_first",
                  "latin1_inside")
        for n in pasted:
            assert cd.log_lines(r'account "%s": TokenFile .* holds a character '
                                r'outside printable ASCII, probably an '
                                r'invisible one pasted with it' % n), n
            assert "pasted with it (no-break space" in check_out[n], n
    check_clean(d, cd, *[tok(n) for n in expected])

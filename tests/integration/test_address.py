"""Where connections go: AddressFamily, Interface and Resolve in the real
collectd, and -4/-6, --interface and --resolve of telemetrydeck-check, on
loopback. Each fake API logs the client address of every request, so a
test sees which listener an account reached and from which address."""

import os
import subprocess

from harness import (BUILD, Collectd, FakeAPI, Stack, account,
                     certs, files_containing, inputs, refused, wait_for)

CHECK = os.path.join(BUILD, "telemetrydeck-check")
TOK_V4 = "tdpat_ADDRV4SECRET0123456789abcdef"
TOK_V6 = "tdpat_ADDRV6SECRET0123456789abcdef"
TOK_SRC = "tdpat_ADDRSRCSECRET0123456789abcde"
TOK_NOWHERE = "tdpat_ADDRNOWHERESECRET0123456789a"
TOKENS = (TOK_V4, TOK_V6, TOK_SRC, TOK_NOWHERE)
NO_BIND = "could not bind to the interface or local address"
NAME = "api.telemetrydeck.test"  # in the test server certificate only
OK, CRITICAL, UNKNOWN = 0, 2, 3


def ca():
    return os.path.join(certs(), "ca.pem")


def check_clean(workdir, cd):
    assert cd.was_alive, "collectd died:\n" + cd.log()[-2000:]
    leaks = files_containing(workdir, TOKENS)
    assert not leaks, "token found in %s" % leaks


def both_families(s, d, tokens):
    """A fake on [::1] and another on 127.0.0.1 at the same port, so that
    localhost:PORT (libcurl resolves localhost to both) reaches one or the
    other by the address family alone; both started on the Stack s."""
    six = s.start(FakeAPI(d, tokens, name="fake6", host="::1"))
    four = s.start(FakeAPI(d, tokens, name="fake4", port=six.port))
    return four, six


def test_address_family_picks_127_0_0_1_or_ipv6_loopback(d):
    tokens = {TOK_V4: {"label": "v4", "mode": "ok"},
              TOK_V6: {"label": "v6", "mode": "ok"}}
    with Stack() as s:
        four, six = both_families(s, d, tokens)
        url = "https://localhost:%d/api/v3/users/info" % six.port
        cd = s.start(Collectd(d, "\n".join([
            account("v4", url, TOK_V4, CACert=ca(), AddressFamily="ipv4"),
            account("v6", url, TOK_V6, CACert=ca(), AddressFamily="IPv6")])))
        assert wait_for(lambda: cd.last("v4", "bool-token_valid") == 1 and
                        cd.last("v6", "bool-token_valid") == 1, 15), cd.log()
        assert wait_for(lambda: len(four.peers("v4")) >= 2 and
                        len(six.peers("v6")) >= 2, 10), cd.log()
        assert set(four.peers("v4")) == {"127.0.0.1"}, four.peers("v4")
        assert set(six.peers("v6")) == {"::1"}, six.peers("v6")
        # Neither account ever went to the other family's listener.
        assert four.peers("v6") == [] and six.peers("v4") == []
    check_clean(d, cd)


def test_interface_127_0_0_2_is_the_source_address(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOK_SRC: {"label": "src", "mode": "ok"},
                                   TOK_V4: {"label": "plain", "mode": "ok"},
                                   TOK_NOWHERE: {"label": "nowhere", "mode": "ok"}}))
        cd = s.start(Collectd(d, "\n".join([
            account("src", fake.url(), TOK_SRC, CACert=ca(),
                    Interface="127.0.0.2"),
            account("plain", fake.url(), TOK_V4, CACert=ca()),
            # No such interface here: the poll fails before any connection.
            account("nowhere", fake.url(), TOK_NOWHERE, CACert=ca(),
                    Interface="if!tdnosuch0", UnreachableAfter=1)])))
        assert wait_for(lambda: len(fake.peers("src")) >= 2 and
                        len(fake.peers("plain")) >= 2, 15), cd.log()
        assert cd.last("src", "bool-token_valid") == 1
        assert set(fake.peers("src")) == {"127.0.0.2"}, fake.peers("src")
        assert set(fake.peers("plain")) == {"127.0.0.1"}, fake.peers("plain")
        assert wait_for(lambda: cd.notes("nowhere", "api_reachable"), 10), \
            cd.log()
        assert NO_BIND in cd.notes("nowhere", "api_reachable")[0]["message"]
        assert cd.last("nowhere", "bool-api_reachable") == 0
        assert fake.peers("nowhere") == []
    check_clean(d, cd)


def test_resolve_maps_a_made_up_name_and_tls_still_verifies_it(d):
    with Stack() as s:
        fake = s.start(FakeAPI(d, {TOK_V4: {"label": "named", "mode": "ok"},
                                   TOK_V6: {"label": "other", "mode": "ok"}}))
        url = "https://%s:%d/api/v3/users/info" % (NAME, fake.port)
        # A name the certificate does not hold: the TLS check refuses it.
        other = "other.telemetrydeck.test"
        other_url = "https://%s:%d/api/v3/users/info" % (other, fake.port)
        cd = s.start(Collectd(d, "\n".join([
            account("named", url, TOK_V4, CACert=ca(),
                    Resolve="%s:%d:127.0.0.1" % (NAME, fake.port)),
            account("other", other_url, TOK_V6, CACert=ca(), UnreachableAfter=1,
                    Resolve="%s:%d:127.0.0.1" % (other, fake.port))])))
        assert wait_for(lambda: cd.last("named", "bool-token_valid") == 1,
                        15), cd.log()
        assert set(fake.peers("named")) == {"127.0.0.1"}
        assert wait_for(lambda: cd.notes("other", "api_reachable"), 15), \
            cd.log()
        assert cd.last("other", "bool-api_reachable") == 0
        assert "certificate" in cd.notes("other", "api_reachable")[0][
            "message"], cd.notes("other", "api_reachable")
        assert fake.peers("other") == [], "an unverified name got a request"
    check_clean(d, cd)


def test_bad_network_options_refuse_the_configuration(d):
    for opt, value, needle in (
            ("AddressFamily", "ipv5", "must be any, ipv4 or ipv6"),
            ("Interface", "eth0 eth1", "is not an interface name or address"),
            ("Resolve", "%s:0:127.0.0.1" % NAME, "is not HOST:PORT:ADDRESS"),
            ("Resolve", "%s:443:localhost" % NAME,
             "is not HOST:PORT:ADDRESS")):
        line = refused(d, account("bad", "https://127.0.0.1:1/x", TOK_V4,
                                  **{opt: value}), opt, needle)
        assert TOK_V4 not in line


def run_check(d, *args):
    path = os.path.join(inputs(d), "token")
    with open(path, "w") as f:
        f.write(TOK_V4 + "\n")
    os.chmod(path, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "TELEMETRYDECK_TOKEN"}
    p = subprocess.run([CHECK, "--token-file", path, "--ca-cert", ca(),
                        "--timeout", "5"] + list(args), capture_output=True,
                       text=True, env=env, timeout=30,
                       stdin=subprocess.DEVNULL)
    out = p.stdout + p.stderr
    assert TOK_V4 not in out and TOK_V4[6:] not in out, out
    return p.returncode, out


def test_check_address_family_interface_and_resolve(d):
    tokens = {TOK_V4: {"label": "check", "mode": "ok"}}
    with Stack() as s:
        four, six = both_families(s, d, tokens)
        url = "https://localhost:%d/api/v3/users/info" % six.port
        rc, out = run_check(d, "--url", url, "-6")
        assert rc == OK, out
        assert six.peers("check") == ["::1"] and four.peers("check") == []
        rc, out = run_check(d, "--url", url, "-4")
        assert rc == OK, out
        assert four.peers("check") == ["127.0.0.1"], four.peers("check")
        rc, out = run_check(d, "--url", url, "--address-family=ipv6",
                            "--interface", "::1")
        assert rc == OK, out
        assert six.peers("check") == ["::1", "::1"]
        rc, out = run_check(d, "--url", four.url(), "--interface",
                            "127.0.0.2")
        assert rc == OK, out
        assert four.peers("check")[-1] == "127.0.0.2", four.peers("check")
        rc, out = run_check(d, "--url", four.url(), "--interface",
                            "if!tdnosuch0")
        assert rc == CRITICAL and NO_BIND in out, out
        named = "https://%s:%d/api/v3/users/info" % (NAME, four.port)
        rc, out = run_check(d, "--url", named, "--resolve",
                            "%s:%d:127.0.0.1" % (NAME, four.port))
        assert rc == OK, out
        assert len(four.peers("check")) == 3
        # An IPv6 address in the entry, bare: [::1] is the other listener.
        rc, out = run_check(d, "--url", named, "--resolve",
                            "%s:%d:::1" % (NAME, six.port))
        assert rc == OK, out
        assert len(six.peers("check")) == 3
        rc, out = run_check(d, "--url", named, "--resolve",
                            "%s:%d:127.0.0.1:80" % (NAME, four.port))
        assert rc == UNKNOWN, out
        assert "--resolve is not HOST:PORT:ADDRESS" in out, out
        rc, out = run_check(d, "--url", url, "--address-family", "inet")
        assert rc == UNKNOWN and "--address-family must be any, ipv4 or " \
            "ipv6" in out, out
